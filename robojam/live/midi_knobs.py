"""A MIDI controller's knobs as robojam's player knobs (:mod:`robojam.core.steering`): each knob
answers one control change number, on any channel of ``--midi-in`` or robojam's own input.

A controller's value 0 to 127 covers the knob's range. A knob that goes both ways (-2 to 2) has its
0 at the middle value, 64, so that a centred knob or a centre detent leaves robojam unsteered;
``contrast`` (0 to 1) rises from 0 at value 0. The numbers come from a config file's
``[midi_knobs]`` table, or else :data:`DEFAULT_CCS`: 21 to 26, where many controllers' first row of
knobs sends.
"""

from __future__ import annotations

from robojam import RobojamError
from robojam.core.shown import shown
from robojam.core.steering import KNOBS
from robojam.live.midi_touch import HIGHEST_PLAIN_CC

DEFAULT_CCS = {"density": 21, "energy": 22, "register": 23, "size": 24, "curl": 25, "contrast": 26}
MIDDLE = 64
TOP = 127



def knob_value(name: str, cc_value: int) -> float:
    """The value of knob ``name`` for a controller at ``cc_value`` (0 to 127)."""
    knob = KNOBS[name]
    if knob.low >= 0:
        return knob.low + (knob.high - knob.low) * cc_value / TOP
    if cc_value <= MIDDLE:
        return knob.low * (MIDDLE - cc_value) / MIDDLE
    return knob.high * (cc_value - MIDDLE) / (TOP - MIDDLE)


class KnobControllers:
    """Which control change turns which knob."""

    def __init__(self, ccs: dict[str, int] | None = None, y_cc: int | None = None):
        self.ccs = dict(DEFAULT_CCS if ccs is None else ccs)
        self._check(y_cc)
        self._knob_of = {cc: name for name, cc in self.ccs.items()}

    @classmethod
    def from_config(cls, table, y_cc: int | None = None) -> KnobControllers:
        """From a config file's ``[midi_knobs]`` table (None: the defaults); RobojamError says what is wrong."""
        if table is not None and not isinstance(table, dict):
            raise RobojamError(f"midi_knobs must be a table of knob = controller number, not {shown(table)}")
        return cls(table, y_cc)

    def turned(self, msg) -> tuple[str, float] | None:
        """``(knob, value)`` if ``msg`` is one of the knobs' control changes, else None."""
        if getattr(msg, "type", None) != "control_change":
            return None
        name = self._knob_of.get(msg.control)
        return None if name is None else (name, knob_value(name, msg.value))

    def _check(self, y_cc: int | None) -> None:
        for name, cc in self.ccs.items():
            if name not in KNOBS:
                raise RobojamError(f"midi_knobs: no knob called {shown(name)}; the knobs are {', '.join(KNOBS)}")
            if isinstance(cc, bool) or not isinstance(cc, int) or not 0 <= cc <= HIGHEST_PLAIN_CC:
                raise RobojamError(f"midi_knobs: {name} takes a controller number from 0 to {HIGHEST_PLAIN_CC}, "
                                   f"not {shown(cc)}")
            if cc == y_cc:
                raise RobojamError(f"midi_knobs: controller {cc} already drives y (cc); choose another for {name}")
        numbers = list(self.ccs.values())
        shared = sorted({cc for cc in numbers if numbers.count(cc) > 1})
        if shared:
            raise RobojamError(f"midi_knobs: controller {shared[0]} turns two knobs; give each its own")
