"""A model's own sampling temperatures for the shape and the rhythm of what it plays.

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

Both multiply ``sigma_temp``: at the player's default of 1 a model plays at
its own temperatures. A model without them plays at 1 and 1, as trained.
``model.json`` holds them as ``"temperatures": {"shape": s, "rhythm": r}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robojam import RobojamError

LIMITS = (0.05, 4.0)  # the range of each temperature (inclusive)
PARTS = ("shape", "rhythm")


@dataclass(frozen=True)
class Temperatures:
    shape: float = 1.0
    rhythm: float = 1.0

    def __post_init__(self):
        for part in PARTS:
            check_temperature(part, getattr(self, part))

    def spreads(self, dim: int) -> list[float]:
        """Per target dimension, the factor on its standard deviation: position dims first, timing last."""
        return [math.sqrt(self.shape)] * (dim - 1) + [math.sqrt(self.rhythm)]

    @property
    def neutral(self) -> bool:
        return self.shape == 1.0 and self.rhythm == 1.0

    def to_dict(self) -> dict:
        return {"shape": self.shape, "rhythm": self.rhythm}

    def describe(self) -> str:
        return f"shape temp {self.shape:g}, rhythm temp {self.rhythm:g}"


def check_temperature(part: str, value) -> None:
    low, high = LIMITS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise RobojamError(f"the {part} temperature must be a number from {low:g} to {high:g}, not {value!r}")


def temperatures_from_dict(spec) -> Temperatures:
    """A model file's ``temperatures``: an object with ``shape`` and ``rhythm``, each within LIMITS."""
    if not isinstance(spec, dict) or set(spec) != set(PARTS):
        raise RobojamError(f"temperatures must be an object with exactly {' and '.join(PARTS)}")
    return Temperatures(**{part: spec[part] for part in PARTS})
