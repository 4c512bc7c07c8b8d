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
from robojam.core.shown import shown


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


# Session ids (the last string argument of a message) longer than this are refused:
# every reply to that session carries its id.
MAX_SESSION_ID = 64
