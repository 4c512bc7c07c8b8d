"""A model's own sampling temperatures for the shape and the rhythm of what it plays, and its gap tilt.

RoboJam samples with two temperatures chosen by whoever plays: ``temp``
divides the mixture-weight logits and ``sigma_temp`` scales every
component's covariance. A model may also carry temperatures of its own,
chosen for it with the realism report (``robojam eval --realism``) and set
with ``robojam temperatures``:

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

Shape and rhythm multiply ``sigma_temp``: at the player's default of 1 a
model plays at its own temperatures. A model without them plays at 1, 1 and
no tilt, as trained. ``model.json`` holds them as ``"temperatures":
{"shape": s, "rhythm": r, "gap_tilt": g}`` (``gap_tilt`` may be left out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robojam import RobojamError

LIMITS = (0.05, 4.0)  # the range of each temperature (inclusive)
TILT_LIMITS = (-1.0, 1.0)
PARTS = ("shape", "rhythm")


@dataclass(frozen=True)
class Temperatures:
    shape: float = 1.0
    rhythm: float = 1.0
    gap_tilt: float = 0.0

    def __post_init__(self):
        for part in PARTS:
            check_number(f"{part} temperature", getattr(self, part), LIMITS)
        check_number("gap tilt", self.gap_tilt, TILT_LIMITS)

    def spreads(self, dim: int) -> list[float]:
        """Per target dimension, the factor on its standard deviation: position dims first, timing last."""
        return [math.sqrt(self.shape)] * (dim - 1) + [math.sqrt(self.rhythm)]

    @property
    def neutral(self) -> bool:
        return self.shape == 1.0 and self.rhythm == 1.0 and self.gap_tilt == 0.0

    def to_dict(self) -> dict:
        return {"shape": self.shape, "rhythm": self.rhythm, "gap_tilt": self.gap_tilt}

    def describe(self) -> str:
        tilt = f", gap tilt {self.gap_tilt:g}" if self.gap_tilt else ""
        return f"shape temp {self.shape:g}, rhythm temp {self.rhythm:g}{tilt}"


def check_number(name: str, value, limits: tuple[float, float]) -> None:
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise RobojamError(f"the {name} must be a number from {low:g} to {high:g}, not {value!r}")


def temperatures_from_dict(spec) -> Temperatures:
    """A model file's ``temperatures``: ``shape`` and ``rhythm`` within LIMITS, ``gap_tilt`` (optional)
    within TILT_LIMITS, nothing else."""
    if not isinstance(spec, dict) or not set(PARTS) <= set(spec) <= {*PARTS, "gap_tilt"}:
        raise RobojamError(f"temperatures must be an object with {' and '.join(PARTS)}, and gap_tilt or not")
    return Temperatures(**spec)
