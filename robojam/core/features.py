"""Summaries of one performance that do not depend on its length: its rhythm, strokes and use of space.

The realism report (:mod:`robojam.train.realism`) compares these between
people and robojam, and a model trained with a style input
(:mod:`robojam.core.style`) reads some of them from the call.

Features (x, y in screen units [0, 1], times in seconds; a step is the
movement from one touch to the next within a stroke; strokes follow
:func:`robojam.core.performance.stroke_continues`: a new stroke after a pause
over ``STROKE_GAP_S`` or a jump over ``STROKE_JUMP``). Any value that is
undefined (no gaps, no steps, no turns, a zero duration or variance) is 0.

rhythm
    ``touch_rate`` gaps between touches per second; ``dt_q10``,
    ``dt_median``, ``dt_q90`` quantiles of the gaps; ``pause_share`` share of
    gaps over ``STROKE_GAP_S``; ``pause_median`` the median such pause.
strokes
    ``strokes_per_s``; ``tap_share`` share of one-touch strokes;
    ``stroke_touches`` median touches per stroke; ``stroke_length`` mean path
    length of a stroke (taps count 0); ``jump_length`` median distance from a
    stroke's end to the next one's start; ``step_length`` median step length
    and ``step_cv`` its coefficient of variation; ``speed`` median step
    length / dt; ``path_per_s`` path length within strokes per second;
    ``turning`` mean absolute angle between successive (non-zero) steps;
    ``straight_share`` share of those turns under ``STRAIGHT_RAD``; ``curl``
    the mean, over strokes that turn, of a stroke's net turn in radians (its
    turns summed with their signs, in absolute value): a circle's turns add
    up to 2 pi whatever its touches, a wobble's cancel;
    ``dx_autocorr``, ``dy_autocorr`` lag-1 autocorrelation of dx, dy between
    successive steps.
space
    ``spread_x``, ``spread_y`` standard deviations; ``mean_x``, ``mean_y``;
    ``edge_share`` share of touches within ``EDGE`` of the screen's edge.
"""

from __future__ import annotations

import math

import numpy as np

from robojam.core.corpus import clean
from robojam.core.performance import STROKE_GAP_S, stroke_continues

EDGE = 0.02
STRAIGHT_RAD = 0.2
MIN_STEP = 1e-9  # a step shorter than this has no direction (no turn is measured at it)
MIN_GAP_S = 1e-6  # a gap shorter than this counts as none: no screen reports faster, and a rate over a
                  # subnormal time would overflow

RHYTHM = ("touch_rate", "dt_q10", "dt_median", "dt_q90", "pause_share", "pause_median")
STROKES = ("strokes_per_s", "tap_share", "stroke_touches", "stroke_length", "jump_length", "step_length",
           "step_cv", "speed", "path_per_s", "turning", "straight_share", "curl", "dx_autocorr", "dy_autocorr")
SPACE = ("spread_x", "spread_y", "mean_x", "mean_y", "edge_share")
FEATURES = RHYTHM + STROKES + SPACE
STYLE_FEATURES = ("touch_rate", "pause_share", "strokes_per_s", "stroke_length", "step_length", "speed",
                  "turning", "straight_share", "spread_x", "spread_y", "mean_x", "mean_y", "tap_share")


def describe(xy_dt: np.ndarray) -> dict[str, float]:
    """The ``FEATURES`` of one performance (rows ``x, y, dt``), each a finite float."""
    touches = clean(np.asarray(xy_dt, dtype=np.float64).reshape(-1, 3))
    touches[touches[:, 2] < MIN_GAP_S, 2] = 0.0
    values = {**_rhythm(touches), **_strokes(touches), **_space(touches)}
    return {name: _finite(values[name]) for name in FEATURES}


def feature_matrix(performances: list[np.ndarray]) -> np.ndarray:
    """(performances, len(FEATURES)) array, columns in ``FEATURES`` order."""
    rows = [list(describe(p).values()) for p in performances]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def _finite(value) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else 0.0


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else 0.0


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


def _rhythm(touches: np.ndarray) -> dict[str, float]:
    gaps = touches[1:, 2]
    pauses = gaps[gaps > STROKE_GAP_S]
    q10, q50, q90 = np.quantile(gaps, [0.1, 0.5, 0.9]) if len(gaps) else (0.0, 0.0, 0.0)
    return {"touch_rate": _ratio(len(gaps), gaps.sum()), "dt_q10": q10, "dt_median": q50, "dt_q90": q90,
            "pause_share": _ratio(len(pauses), len(gaps)), "pause_median": _median(pauses)}


def _strokes(touches: np.ndarray) -> dict[str, float]:
    if not len(touches):
        return dict.fromkeys(STROKES, 0.0)
    starts = stroke_continues(touches) == 0
    stroke = np.cumsum(starts) - 1
    count = int(starts.sum())
    steps = np.diff(touches[:, :2], axis=0)
    within = ~starts[1:]  # steps[i] (touch i to i + 1) lies inside a stroke
    lengths = np.hypot(steps[:, 0], steps[:, 1])
    moves, move_dt = lengths[within], touches[1:, 2][within]
    duration = touches[1:, 2].sum()
    stroke_paths = np.bincount(stroke[1:][within], weights=moves, minlength=count)
    stroke_sizes = np.bincount(stroke, minlength=count)
    moving = move_dt > 0
    return {"strokes_per_s": _ratio(count, duration), "tap_share": _mean(stroke_sizes == 1),
            "stroke_touches": _median(stroke_sizes), "stroke_length": _mean(stroke_paths),
            "jump_length": _median(lengths[~within]),
            "step_length": _median(moves), "step_cv": _ratio(float(np.std(moves)) if len(moves) else 0.0,
                                                             _mean(moves)),
            "speed": _median(moves[moving] / move_dt[moving]), "path_per_s": _ratio(moves.sum(), duration),
            **_turns(steps, lengths, within, stroke[1:]), **_autocorrelations(steps, within)}


def _successive(within: np.ndarray) -> np.ndarray:
    """Where steps[i] and steps[i + 1] are successive steps of one stroke."""
    return within[:-1] & within[1:]


def _turns(steps: np.ndarray, lengths: np.ndarray, within: np.ndarray, step_stroke: np.ndarray) -> dict[str, float]:
    """Angles between successive steps of a stroke that both move (a zero step has no direction);
    ``step_stroke[i]`` is the stroke that steps[i] ends in."""
    pairs, signed = _signed_turns(steps, lengths, within)
    strokes = step_stroke[1:][pairs]
    turns_in = np.bincount(strokes) > 0
    net = np.bincount(strokes, weights=signed)[turns_in]
    angles = np.abs(signed)
    return {"turning": _mean(angles), "straight_share": _mean(angles < STRAIGHT_RAD), "curl": _mean(np.abs(net))}


def _signed_turns(steps: np.ndarray, lengths: np.ndarray, within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where steps[i] and steps[i + 1] turn within a stroke (both moving), and those turns' signed angles."""
    pairs = _successive(within) & (lengths[:-1] > MIN_STEP) & (lengths[1:] > MIN_STEP)
    a, b = steps[:-1][pairs], steps[1:][pairs]
    return pairs, np.arctan2(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0], (a * b).sum(axis=1))


def way_round(xy_dt: np.ndarray) -> float:
    """+1 where the turns within the strokes of ``xy_dt`` (rows x, y, dt) add up to 0 or more (from +x
    towards +y: clockwise on a screen, whose y grows downwards), else -1: which way round it mostly curls."""
    touches = clean(xy_dt)
    steps = np.diff(touches[:, :2], axis=0)
    within = stroke_continues(touches)[1:] == 1
    _, signed = _signed_turns(steps, np.hypot(steps[:, 0], steps[:, 1]), within)
    return 1.0 if signed.sum() >= 0.0 else -1.0


def _autocorrelations(steps: np.ndarray, within: np.ndarray) -> dict[str, float]:
    pairs = _successive(within)
    return {"dx_autocorr": _correlation(steps[:-1][pairs, 0], steps[1:][pairs, 0]),
            "dy_autocorr": _correlation(steps[:-1][pairs, 1], steps[1:][pairs, 1])}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation, 0 with under 3 pairs or no variance."""
    if len(a) < 3 or constant(a) or constant(b):
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def constant(values: np.ndarray) -> bool:
    """True when the values do not vary (beyond rounding error)."""
    return not len(values) or float(np.ptp(values)) <= 1e-9 * (1.0 + float(np.max(np.abs(values))))


def _space(touches: np.ndarray) -> dict[str, float]:
    if not len(touches):
        return dict.fromkeys(SPACE, 0.0)
    x, y = touches[:, 0], touches[:, 1]
    return {"spread_x": np.std(x), "spread_y": np.std(y), "mean_x": np.mean(x), "mean_y": np.mean(y),
            "edge_share": _mean(near_edge(touches))}


def near_edge(touches: np.ndarray) -> np.ndarray:
    """True for touches within ``EDGE`` of the screen's edge (x or y within EDGE of 0 or 1)."""
    x, y = touches[:, 0], touches[:, 1]
    return np.minimum(np.minimum(x, 1 - x), np.minimum(y, 1 - y)) <= EDGE + 1e-12
