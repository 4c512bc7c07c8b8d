"""Knobs a player understands (#24): each nudges the model's style input, so the response changes
character while staying the model's own playing (no coordinate is scaled after it is drawn).

A model with a style input (:mod:`robojam.core.style`) reads the call's style, standardised, beside
every touch it plays. A knob at ``v`` (from -2 to 2; 0 leaves robojam as it is) moves each style
feature it pulls by ``v * SPREADS_PER_UNIT * weight`` spreads before the response is drawn;
``contrast`` (0 to 1) turns the call's style around instead (at 1: its mirror image about the
average style). Features a model's style input lacks are left alone.

The style input alone hardly moves the touch rate (``robojam eval --steer``: 0.98x from -1.5 to
+1.5 on the validation split), so ``density`` also moves the model's gap tilt
(:mod:`robojam.core.temperatures`): the choice among the mixture's gestures leans towards their
shorter gaps, or longer ones, by ``GAP_TILT_PER_UNIT`` a unit (``steered_model``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from robojam import RobojamError
from robojam.core.shown import shown
from robojam.core.modelfile import Model
from robojam.core.style import CLIP, Style
from robojam.core.temperatures import TILT_LIMITS

SPREADS_PER_UNIT = 2.0
GAP_TILT_PER_UNIT = 0.13  # density +-1.5: the shipped model's gap tilt of 0.1 becomes -0.1 or 0.3
LOW, HIGH = -2.0, 2.0


@dataclass(frozen=True)
class Knob:
    name: str
    pulls: dict[str, float]  # style feature -> its weight
    measured_by: tuple[str, ...]  # the features it should move (their mean)
    as_ratio: bool  # its effect judged as a ratio of those features (else a difference)
    help: str


KNOBS = {knob.name: knob for knob in (
    Knob("density", {"touch_rate": 1.0, "strokes_per_s": 1.0, "pause_share": -1.0}, ("touch_rate",), True,
         "below 0 sparser (fewer touches, more pauses), above 0 busier"),
    Knob("energy", {"speed": 1.0, "step_length": 1.0}, ("speed",), True,
         "below 0 slower strokes, above 0 faster"),
    Knob("register", {"mean_x": 1.0}, ("mean_x",), False,
         "below 0 further left (lower notes through the MIDI mapping), above 0 further right"),
    Knob("size", {"spread_x": 1.0, "spread_y": 1.0, "stroke_length": 1.0}, ("spread_x", "spread_y"), True,
         "below 0 small gestures, above 0 gestures spread over the screen"),
    Knob("curl", {"turning": 1.0, "straight_share": -1.0, "curl": 1.0}, ("turning",), True,
         "below 0 straight lines, above 0 curves and circles"),
)}
CONTRAST = "contrast"  # 0 to 1: answers unlike the call
NAMES = (*KNOBS, CONTRAST)


def check_steer(steer: dict[str, float] | None) -> dict[str, float]:
    """The knobs set (names checked, values finite and in range); RobojamError naming the first wrong one."""
    checked = {}
    for name, value in (steer or {}).items():
        if name not in NAMES:
            raise RobojamError(f"no knob called {shown(name)}; the knobs are {', '.join(NAMES)}")
        low, high = (0.0, 1.0) if name == CONTRAST else (LOW, HIGH)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low <= value <= high:
            raise RobojamError(f"knob {name} takes a number from {low:g} to {high:g}, not {shown(value)}")
        checked[name] = float(value)
    return checked


def parse_steer(items: Iterable[str]) -> dict[str, float]:
    """``NAME=VALUE`` settings (``--steer density=1.5``) as a checked dict; the last of a name wins."""
    steer = {}
    for item in items:
        name, equals, text = item.partition("=")
        if not equals:
            raise RobojamError(f"--steer takes NAME=VALUE (for example density=1.5), not {shown(item)}")
        try:
            steer[name.strip()] = float(text)
        except ValueError:
            raise RobojamError(f"knob {shown(name.strip())}: {shown(text)} is not a number") from None
    return check_steer(steer)


def steered(style: Style, vector: list[float], steer: dict[str, float] | None) -> list[float]:
    """The style input ``vector`` (``style.vector(call)``) with the knobs applied; the same list if none moves."""
    steer = check_steer(steer)
    if not any(steer.values()):
        return vector
    moved = np.asarray(vector, dtype=np.float64) * (1.0 - 2.0 * steer.get(CONTRAST, 0.0))
    for name, value in steer.items():
        for feature, weight in KNOBS[name].pulls.items() if name in KNOBS else ():
            if feature in style.features:
                moved[style.features.index(feature)] += value * SPREADS_PER_UNIT * weight
    return np.clip(moved, -CLIP, CLIP).tolist()


def steered_model(model: Model, steer: dict[str, float] | None) -> Model:
    """The model whose engine plays ``steer``: ``model`` itself unless ``density`` moves its gap tilt."""
    density = check_steer(steer).get("density", 0.0)
    if not density:
        return model
    tilt = min(max(model.temperatures.gap_tilt - GAP_TILT_PER_UNIT * density, TILT_LIMITS[0]), TILT_LIMITS[1])
    return replace(model, temperatures=replace(model.temperatures, gap_tilt=tilt))
