"""A style input: what a model may read of the whole call, beside the touch in hand.

An LSTM trained on short windows forgets: its prediction after a call hardly
depends on the call (0.01 nats a touch). A model trained with a style input
also reads, at every step, a summary of the call it is answering: the
``STYLE_FEATURES`` of :mod:`robojam.core.features` (touch rate, pauses,
strokes, step length, speed, turning, spread, position, taps), the rates and
lengths as logs, each standardised by its mean and spread over the training
calls and clipped to ``CLIP`` spreads.

In training, a performance's style is that of its first half by time
(``call_part``), for every event of it; when answering, it is that of the
call heard. The engine sets it (``Engine.set_style``) and conditions on the
call again with it, so the call is heard as in training.
"""

from __future__ import annotations

import math

import numpy as np

from robojam import RobojamError
from robojam.core.features import STYLE_FEATURES, describe

LOGGED = ("touch_rate", "strokes_per_s", "stroke_length", "step_length", "speed")
LOG_FLOOR = 1e-3  # a rate or length of 0 is logged as this
CLIP = 4.0


class Style:
    """Standardised style features of a call: ``vector(call)`` is the network's extra input."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @property
    def dim(self) -> int:
        return len(STYLE_FEATURES)

    @classmethod
    def fitted(cls, performances: list[np.ndarray]) -> "Style":
        """Means and spreads of the raw style of the performances' first halves."""
        raw = np.array([raw_style(call_part(p)) for p in performances]).reshape(-1, len(STYLE_FEATURES))
        if not len(raw):
            raise RobojamError("no performance to fit a style input on")
        return cls(raw.mean(axis=0), np.maximum(raw.std(axis=0), 1e-3))

    def vector(self, call: np.ndarray) -> list[float]:
        """The style input for a call (rows ``x, y, dt``); an empty call gets the average style (zeros)."""
        if not len(call):
            return [0.0] * self.dim
        standard = (raw_style(call) - self.mean) / self.std
        return np.clip(standard, -CLIP, CLIP).tolist()

    def to_dict(self) -> dict:
        return {"features": list(STYLE_FEATURES), "mean": self.mean.tolist(), "std": self.std.tolist()}


def style_from_dict(spec) -> Style:
    """A model file's ``style``: the features robojam knows, in its order, finite means, positive spreads."""
    if not isinstance(spec, dict) or spec.get("features") != list(STYLE_FEATURES):
        raise RobojamError(f"style.features must be {list(STYLE_FEATURES)}")
    numbers = {}
    for key in ("mean", "std"):
        values = spec.get(key)
        if (not isinstance(values, list) or len(values) != len(STYLE_FEATURES)
                or not all(_finite_number(v) for v in values)):
            raise RobojamError(f"style.{key} must be {len(STYLE_FEATURES)} finite numbers")
        numbers[key] = values
    if min(numbers["std"]) <= 0:
        raise RobojamError("style.std must be positive")
    return Style(numbers["mean"], numbers["std"])


def _finite_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def raw_style(touches: np.ndarray) -> np.ndarray:
    """The style features of touches, rates and lengths as logs."""
    features = describe(touches)
    return np.array([math.log(max(features[name], LOG_FLOOR)) if name in LOGGED else features[name]
                     for name in STYLE_FEATURES])


def call_part(touches: np.ndarray) -> np.ndarray:
    """A performance's first half by time (at least its first two touches): the call, in training."""
    touches = np.asarray(touches, dtype=np.float64).reshape(-1, 3)
    times = np.cumsum(touches[:, 2]) - touches[0, 2] if len(touches) else np.zeros(0)
    if not len(times) or times[-1] <= 0:
        return touches
    return touches[:max(2, int(np.searchsorted(times, times[-1] / 2, side="right")))]
