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
from robojam.core.features import FEATURES, STYLE_FEATURES, describe

LOGGED = ("touch_rate", "strokes_per_s", "stroke_length", "step_length", "speed")
LOG_FLOOR = 1e-3  # a rate or length of 0 is logged as this
CLIP = 4.0


class Style:
    """Standardised style features of a call: ``vector(call)`` is the network's extra input.

    ``features`` are names from :data:`robojam.core.features.FEATURES`, the
    ``STYLE_FEATURES`` unless a model was trained to read others too.
    """

    def __init__(self, mean, std, features=STYLE_FEATURES):
        self.features = tuple(features)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @property
    def dim(self) -> int:
        return len(self.features)

    @classmethod
    def fitted(cls, performances: list[np.ndarray], features=STYLE_FEATURES) -> Style:
        """Means and spreads of the raw style of the performances' first halves."""
        features = check_features(features)
        raw = np.array([raw_style(call_part(p), features) for p in performances]).reshape(-1, len(features))
        if not len(raw):
            raise RobojamError("no performance to fit a style input on")
        return cls(raw.mean(axis=0), np.maximum(raw.std(axis=0), 1e-3), features)

    def vector(self, call: np.ndarray) -> list[float]:
        """The style input for a call (rows ``x, y, dt``); an empty call gets the average style (zeros)."""
        if not len(call):
            return [0.0] * self.dim
        standard = (raw_style(call, self.features) - self.mean) / self.std
        return np.clip(standard, -CLIP, CLIP).tolist()

    def extended(self, performances: list[np.ndarray], features) -> Style:
        """This style with the ``features`` it lacks appended, fitted on the performances."""
        new = tuple(name for name in check_features(features) if name not in self.features)
        if not new:
            return self
        added = Style.fitted(performances, new)
        return Style(np.concatenate([self.mean, added.mean]), np.concatenate([self.std, added.std]),
                     self.features + new)

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(), "std": self.std.tolist()}


def check_features(features) -> tuple[str, ...]:
    """Style feature names: at least one, each a feature robojam measures, none twice."""
    if isinstance(features, str) or not isinstance(features, (list, tuple)) or not features:
        raise RobojamError("style features must be a list of feature names")
    unknown = [repr(name) for name in features if name not in FEATURES]
    if unknown:
        raise RobojamError(f"unknown style feature {unknown[0]}; choose from {', '.join(FEATURES)}")
    if len(set(features)) != len(features):
        raise RobojamError("a style feature is named twice")
    return tuple(features)


def style_from_dict(spec) -> Style:
    """A model file's ``style``: features robojam knows, finite means and positive spreads, one each."""
    if not isinstance(spec, dict):
        raise RobojamError("style must be an object with features, mean and std")
    features = check_features(spec.get("features"))
    numbers = {}
    for key in ("mean", "std"):
        values = spec.get(key)
        if (not isinstance(values, list) or len(values) != len(features)
                or not all(_finite_number(v) for v in values)):
            raise RobojamError(f"style.{key} must be {len(features)} finite numbers")
        numbers[key] = values
    if min(numbers["std"]) <= 0:
        raise RobojamError("style.std must be positive")
    return Style(numbers["mean"], numbers["std"], features)


def _finite_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def raw_style(touches: np.ndarray, features=STYLE_FEATURES) -> np.ndarray:
    """The named features of touches, rates and lengths as logs."""
    described = describe(touches)
    return np.array([math.log(max(described[name], LOG_FLOOR)) if name in LOGGED else described[name]
                     for name in features])


def call_part(touches: np.ndarray) -> np.ndarray:
    """A performance's first half by time (at least its first two touches): the call, in training."""
    touches = np.asarray(touches, dtype=np.float64).reshape(-1, 3)
    times = np.cumsum(touches[:, 2]) - touches[0, 2] if len(touches) else np.zeros(0)
    if not len(times) or times[-1] <= 0:
        return touches
    return touches[:max(2, int(np.searchsorted(times, times[-1] / 2, side="right")))]
