"""A model's own sampling temperatures for the shape and the rhythm of what it plays, its gap tilt, rim and echo.

RoboJam samples with two temperatures chosen by whoever plays: ``temp``
divides the mixture-weight logits and ``sigma_temp`` scales every
component's covariance. A model may also carry temperatures of its own,
chosen for it with the realism report (``robojam eval --realism``) and set
with ``robojam tune``:

``shape``
    scales the variance of the position dimensions (the movement, in the
    delta and heading encodings): below 1, strokes wobble less.
``rhythm``
    scales the variance of the timing dimension (dt, or its log).
``gap_tilt``
    tilts the choice of mixture component towards longer gaps (above 0) or
    shorter ones (below): each component's weight is multiplied by
    ``exp(gap_tilt * its mean gap)``, the gap as the encoding writes it (the
    standardised log of dt in the delta and heading encodings). A network
    playing on from its own touches pauses less often than it predicts
    people do, one touch at a time; a small tilt puts the pauses back.
``rim`` and ``rim_keep``
    people keep their fingers off the canvas's rim: a touch that starts
    from further than ``rim`` (screen units) from every edge and would land
    nearer than that to one is kept with probability ``rim_keep``, else
    drawn again (as a position off the screen is). A model drifts to the
    rim far more often than people do when it plays on from its own touches;
    the rim turns most of those strokes back. No rim (0) or a keep of 1
    leaves the draws as they are.
``echo``
    the chance (0 to 1) that a new stroke leaps as the call's did: when a
    draw would start a new stroke (after a pause, or by jumping), its move
    is replaced by one of the call's own leaps from a stroke's end to the
    next stroke's start, either way round, picked at random among those that
    land on the screen (off the rim) and still start a stroke; the draw's
    timing stays. A network fitted as a mixture of Gaussians draws leaps of
    one spread for every player; people leap as they do, some back to the
    same spot, some across the screen. 0, or a call with fewer
    than two leaps to pick from, leaves the draws as they are.

Shape and rhythm multiply ``sigma_temp``: at the player's default of 1 a
model plays at its own temperatures. A model without them plays at 1, 1, no
tilt and no rim, as trained. ``model.json`` holds them as ``"temperatures":
{"shape": s, "rhythm": r, "gap_tilt": g, "rim": w, "rim_keep": k, "echo": e}`` (all but
``shape`` and ``rhythm`` may be left out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robojam import RobojamError

LIMITS = (0.05, 4.0)  # the range of each temperature (inclusive)
TILT_LIMITS = (-1.0, 1.0)
RIM_LIMITS = (0.0, 0.25)
KEEP_LIMITS = (0.0, 1.0)
ECHO_LIMITS = (0.0, 1.0)
PARTS = ("shape", "rhythm")
OPTIONAL_PARTS = ("gap_tilt", "rim", "rim_keep", "echo")


@dataclass(frozen=True)
class Temperatures:
    shape: float = 1.0
    rhythm: float = 1.0
    gap_tilt: float = 0.0
    rim: float = 0.0
    rim_keep: float = 1.0
    echo: float = 0.0

    def __post_init__(self):
        for part in PARTS:
            check_number(f"{part} temperature", getattr(self, part), LIMITS)
        check_number("gap tilt", self.gap_tilt, TILT_LIMITS)
        check_number("rim", self.rim, RIM_LIMITS)
        check_number("rim keep", self.rim_keep, KEEP_LIMITS)
        check_number("echo", self.echo, ECHO_LIMITS)

    @property
    def avoided_rim(self) -> float:
        """The width of the rim that draws avoid: 0 where every draw on the screen is kept."""
        return self.rim if self.rim_keep < 1.0 else 0.0

    def spreads(self, dim: int) -> list[float]:
        """Per target dimension, the factor on its standard deviation: position dims first, timing last."""
        return [math.sqrt(self.shape)] * (dim - 1) + [math.sqrt(self.rhythm)]

    @property
    def neutral(self) -> bool:
        return self == Temperatures()

    def to_dict(self) -> dict:
        return {"shape": self.shape, "rhythm": self.rhythm, "gap_tilt": self.gap_tilt, "rim": self.rim,
                "rim_keep": self.rim_keep, "echo": self.echo}

    def describe(self) -> str:
        tilt = f", gap tilt {self.gap_tilt:g}" if self.gap_tilt else ""
        rim = f", rim {self.rim:g} kept {self.rim_keep:g}" if (self.rim, self.rim_keep) != (0.0, 1.0) else ""
        echo = f", echo {self.echo:g}" if self.echo else ""
        return f"shape temp {self.shape:g}, rhythm temp {self.rhythm:g}{tilt}{rim}{echo}"


def check_number(name: str, value, limits: tuple[float, float]) -> None:
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise RobojamError(f"the {name} must be a number from {low:g} to {high:g}, not {value!r}")


def check_temperatures(temp: float, sigma_temp: float) -> None:
    """RoboJam's two temperatures of a draw (mixture weights, variance): each a positive number."""
    for name, value in (("temp", temp), ("sigma_temp", sigma_temp)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise RobojamError(f"{name} must be a positive number, not {value!r}")


def temperatures_from_dict(spec) -> Temperatures:
    """A model file's ``temperatures``: ``shape`` and ``rhythm`` within LIMITS; ``gap_tilt``, ``rim``,
    ``rim_keep`` and ``echo`` (each optional) within theirs; nothing else."""
    if not isinstance(spec, dict) or not set(PARTS) <= set(spec) <= {*PARTS, *OPTIONAL_PARTS}:
        raise RobojamError(f"temperatures must be an object with {' and '.join(PARTS)}, "
                           f"and {', '.join(OPTIONAL_PARTS)} or not")
    return Temperatures(**spec)
