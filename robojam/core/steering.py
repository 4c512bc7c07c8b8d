"""Knobs a player understands (#24), declared once: each nudges the model's style input, so the
response changes character while staying the model's own playing (nothing is scaled after it is drawn).

A model with a style input (:mod:`robojam.core.style`) reads the call's style, standardised, beside
every touch it plays. A knob at ``v`` (from -2 to 2; 0 leaves robojam as it is) moves each style
feature it pulls by ``v * SPREADS_PER_UNIT * weight`` spreads before the response is drawn;
``contrast`` (0 to 1) turns the call's style around instead (at 1: its mirror image about the
average style). Features a model's style input lacks are left alone.

The style input alone hardly moves the touch rate (``robojam eval --steer``: 0.98x from -1.5 to
+1.5 on the validation split), so ``density`` also tilts the choice among the mixture's gestures
towards their shorter gaps, or longer ones: the model's gap tilt (:mod:`robojam.core.temperatures`)
moves by ``-GAP_TILT_PER_UNIT`` a unit (``extra_gap_tilt``). Nor does the style input move where robojam
plays (``register``: -0.005 in mean x), so ``register`` also leans each touch's draw left or right
(``x_tilt``; :class:`robojam.core.policy.TouchPolicy`), and ``size`` towards longer moves or shorter
(``size_tilt``): its style input moved the spread 1.26x of the 1.6x asked. ``curl`` leans each touch
within a stroke towards turning the call's way round, or below 0 towards going straight
(``curl_tilt``): its style input alone turned the answers the right way in 88% of the test calls
(seeds 0 to 7) of the 90% asked. ``contrast`` turns the levers of density, register and size too,
away from where the call's style lies along each (``contrasted``), and leans the draw up or down,
away from the call's height (``contrast_height``; no knob moves the height): the style input alone
moved the answer's style farther from the call's in 70% of the validation calls.

Standard library only: ``robojam serve``'s settings (:mod:`robojam.live.knobs`) are read from here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from robojam import RobojamError
from robojam.core.shown import shown
from robojam.core.temperatures import TILT_LIMITS

SPREADS_PER_UNIT = 2.0
GAP_TILT_PER_UNIT = 0.13  # density +-1.5: the shipped model's gap tilt of 0.1 becomes -0.1 or 0.3
X_TILT_PER_UNIT = 5.0  # register: a touch's odds grow e-fold for each 1/(5 v) of the screen it moves right
SIZE_TILT_PER_UNIT = 8.0  # size: a touch's odds grow e-fold for each 1/(8 v) of the screen it moves
# curl: within a stroke, a touch's odds grow e-fold for each 1/(0.5 v) radians it turns the call's way round
# (below 0: shrink for each it turns either way); validation split, 0.5 against 1 and 2: as sure (96% of
# calls against 97.5%) at half the rise in realism AUC (+0.016 against +0.032)
CURL_TILT_PER_UNIT = 0.5
# contrast at 1 moves density, register, size and the height this many knob units for each spread the
# call's style lies along them, the other way, and at least CONTRAST_FLOOR units: a call near the average
# style is answered unlike itself too (validation split, seeds 0 to 11: the answer's style farther from the
# call's in 82.6% of calls; 78.7% without the floor and the height, 70% with the style input alone)
CONTRAST_LEVERS = 3.0
CONTRAST_FLOOR = 1.0
HEIGHT_FEATURE = "mean_y"


@dataclass(frozen=True)
class PlayerKnob:
    name: str
    help: str
    pulls: dict[str, float]  # style feature -> its weight
    measured_by: tuple[str, ...] = ()  # the features it should move (their mean)
    as_ratio: bool = True  # its effect judged as a ratio of those features (else a difference)
    low: float = -2.0
    high: float = 2.0


KNOBS = {knob.name: knob for knob in (
    PlayerKnob("density", "below 0 sparser (fewer touches, more pauses), above 0 busier",
               {"touch_rate": 1.0, "strokes_per_s": 1.0, "pause_share": -1.0}, ("touch_rate",)),
    PlayerKnob("energy", "below 0 slower strokes, above 0 faster", {"speed": 1.0, "step_length": 1.0}, ("speed",)),
    PlayerKnob("register", "below 0 further left (lower notes through the MIDI mapping), above 0 further right",
               {"mean_x": 1.0}, ("mean_x",), as_ratio=False),
    PlayerKnob("size", "below 0 small gestures, above 0 gestures spread over the screen",
               {"spread_x": 1.0, "spread_y": 1.0, "stroke_length": 1.0}, ("spread_x", "spread_y")),
    PlayerKnob("curl", "below 0 straight lines, above 0 curves and circles",
               {"turning": 1.0, "straight_share": -1.0, "curl": 1.0}, ("turning",)),
    PlayerKnob("contrast", "0 to 1: answers unlike the call, its style turned around", {}, low=0.0, high=1.0),
)}
CONTRAST = "contrast"
MOVERS = tuple(name for name in KNOBS if name != CONTRAST)  # the knobs that pull style features
SAMPLING_KNOBS = ("density", "register", "size")  # the knobs that also act as touches are drawn: any model has them


def check_steer(steer: dict[str, float] | None) -> dict[str, float]:
    """The knobs set (names checked, values finite and in range); RobojamError naming the first wrong one."""
    checked = {}
    for name, value in (steer or {}).items():
        knob = KNOBS.get(name)
        if knob is None:
            raise RobojamError(f"no knob called {shown(name)}; the knobs are {', '.join(KNOBS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not knob.low <= value <= knob.high:
            raise RobojamError(f"knob {name} takes a number from {knob.low:g} to {knob.high:g}, not {shown(value)}")
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


def steered(features: tuple[str, ...], vector: list[float], steer: dict[str, float] | None,
            clip: float) -> list[float]:
    """A style input ``vector`` (of the style ``features``) with the knobs applied, each value within
    ``clip`` spreads; the same list if no knob moves."""
    steer = check_steer(steer)
    if not any(steer.values()):
        return vector
    turned = 1.0 - 2.0 * steer.get(CONTRAST, 0.0)
    moved = [value * turned for value in vector]
    for name in MOVERS:
        for feature, weight in KNOBS[name].pulls.items():
            if feature in features:
                moved[features.index(feature)] += steer.get(name, 0.0) * SPREADS_PER_UNIT * weight
    return [min(max(value, -clip), clip) for value in moved]


def contrasted(steer: dict[str, float] | None, features: tuple[str, ...], vector: list[float]) -> dict[str, float]:
    """The knobs as they act while touches are drawn (SAMPLING_KNOBS), with ``contrast`` turning the call's
    style around there too: each such knob moves by minus contrast times where the call's style input
    ``vector`` (of ``features``) lies along it, in the knob's own units, within its range."""
    steer = check_steer(steer)
    amount = steer.get(CONTRAST, 0.0)
    if not amount:
        return steer
    levers = dict(steer)
    for name in SAMPLING_KNOBS:
        knob = KNOBS[name]
        along = [weight * vector[features.index(f)] for f, weight in knob.pulls.items() if f in features]
        if along:
            moved = steer.get(name, 0.0) + _turned_against(amount, sum(along) / len(along))
            levers[name] = min(max(moved, knob.low), knob.high)
    return levers


def contrast_height(steer: dict[str, float] | None, features: tuple[str, ...], vector: list[float]) -> float:
    """How far, in register's units (-2 to 2), ``contrast`` leans the draw down the screen (below 0: up),
    away from the call's height (its style input ``vector``'s HEIGHT_FEATURE); 0 without one."""
    amount = check_steer(steer).get(CONTRAST, 0.0)
    if not amount or HEIGHT_FEATURE not in features:
        return 0.0
    return min(max(_turned_against(amount, vector[features.index(HEIGHT_FEATURE)]), -2.0), 2.0)


def _turned_against(amount: float, along: float) -> float:
    """Knob units that move a lever against the call's ``along`` (spreads): CONTRAST_LEVERS a spread, at
    least CONTRAST_FLOOR, times the contrast ``amount``; a call at the average is turned below it."""
    units = amount * max(CONTRAST_LEVERS * abs(along), CONTRAST_FLOOR)
    return -units if along >= 0.0 else units


def x_tilt(steer: dict[str, float] | None) -> float:
    """How strongly ``register`` leans the choice of each touch to the right (below 0: the left)."""
    return X_TILT_PER_UNIT * check_steer(steer).get("register", 0.0)


def y_tilt(height: float) -> float:
    """How strongly a height lean (``contrast_height``'s units) leans the choice of each touch down."""
    return X_TILT_PER_UNIT * height


def size_tilt(steer: dict[str, float] | None) -> float:
    """How strongly ``size`` leans the choice of each touch towards longer moves (below 0: shorter)."""
    return SIZE_TILT_PER_UNIT * check_steer(steer).get("size", 0.0)


def curl_tilt(steer: dict[str, float] | None) -> float:
    """How strongly ``curl`` leans the choice of each touch within a stroke towards turning (below 0: away)."""
    return CURL_TILT_PER_UNIT * check_steer(steer).get("curl", 0.0)


def extra_gap_tilt(gap_tilt: float, steer: dict[str, float] | None) -> float:
    """How much ``density`` adds to a model's ``gap_tilt``, kept within the gap tilt's limits."""
    wanted = gap_tilt - GAP_TILT_PER_UNIT * check_steer(steer).get("density", 0.0)
    return min(max(wanted, TILT_LIMITS[0]), TILT_LIMITS[1]) - gap_tilt
