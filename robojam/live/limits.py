"""The range of every numeric setting of ``robojam serve``, in one table.

The command line (click's ranges, :mod:`robojam.cli`), config files and
presets (:mod:`robojam.live.assemble`), the OSC controls (through
:class:`robojam.live.session.Settings`), the browser page (sent the table when
it connects) and the protocol reference (:mod:`robojam.live.protocol`) all
read ``LIMITS``, so a value one of them refuses none of the others takes.
The MIDI settings keep theirs with the MIDI mapping (:mod:`robojam.live.midi_touch`).
Standard library only: the command line imports it before anything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robojam import RobojamError


@dataclass(frozen=True)
class Limit:
    low: float
    high: float
    integer: bool = False

    def text(self) -> str:
        """The range in words: ``0.01 to 100``."""
        if self.integer:
            return f"{int(self.low)} to {int(self.high)}"
        return f"{self.low:g} to {self.high:g}"

    def check(self, name: str, value):
        """``value`` if it is a number in range (a whole one for integer settings); else RobojamError."""
        kind = "a whole number" if self.integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RobojamError(f"{name} must be {kind} from {self.text()}, not {shown(value)}")
        try:
            fits = math.isfinite(value) and self.low <= value <= self.high and (not self.integer or value == int(value))
        except (OverflowError, ValueError):  # an integer too big for a float
            fits = False
        if not fits:
            raise RobojamError(f"{name} must be {kind} from {self.text()}, not {shown(value)}")
        return int(value) if self.integer else value


def shown(value, most: int = 40) -> str:
    """A value as an error message shows it: its repr, cut short."""
    try:
        text = repr(value)
    except ValueError:  # an integer with thousands of digits
        return "a number too long to show"
    return text if len(text) <= most else text[:most] + "..."


LIMITS: dict[str, Limit] = {
    # A session's live controls (OSC, the web page, the command line, config files).
    "temp": Limit(0.01, 100),
    "sigma_temp": Limit(0.01, 100),
    "seconds": Limit(0.1, 600),
    "threshold": Limit(0.05, 60),
    # The server's own (the command line and config files).
    "port": Limit(0, 65535, integer=True),
    "reply_port": Limit(1, 65535, integer=True),
    "web": Limit(0, 65535, integer=True),
    "api": Limit(0, 65535, integer=True),
    "api_max_predictions": Limit(1, 64, integer=True),
    "max_sessions": Limit(1, 1024, integer=True),
    "session_timeout": Limit(1, 86400),
    "status_every": Limit(0, 3600),
    "seed": Limit(0, 2**32 - 1, integer=True),
}
# The settings a performer changes live, as the web page's sliders show them.
LIVE_SETTINGS = ("temp", "sigma_temp", "seconds", "threshold")
# Session ids (the last string argument of a message) longer than this are refused:
# every reply to that session carries its id.
MAX_SESSION_ID = 64
