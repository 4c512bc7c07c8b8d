"""Copies: how much of a response repeats what it heard, or what the model learned from.

A run is ``RUN`` consecutive touches of a performance on the report's point
grid (:mod:`robojam.train.grid`), read as its ``RUN - 1`` steps in whole grid
points, so a run repeats another wherever on the screen either lies. Runs that
never move (a finger held still, a tap after a tap on the same spot) repeat
by nature and are left out. Times are left out too: a shape played at
another speed is still the same shape.

- The **call-copied share**: the share of a response's moving runs that also
  occur among its call's runs. Echo is not invention.
- The **corpus-copied share**: the share that also occur in a set of other
  performances (the report uses the training split).
- The **call-copied share of leaps**: the share of a response's leaps (from a
  stroke's last touch to the next stroke's first) that repeat one of its
  call's leaps, either way round, to within a grid point on each axis. A
  new stroke that leaps as the call's did (a model's echo) lands its notes
  where the call's did: that too is echo, not invention.
"""

from __future__ import annotations

import numpy as np

from robojam.core.performance import stroke_leaps

RUN = 8


def step_runs(touches: np.ndarray, points: int) -> set[bytes]:
    """The performance's moving runs, each as bytes of its steps in whole grid points."""
    return set(_runs(touches, points))


def _runs(touches: np.ndarray, points: int) -> list[bytes]:
    xy = np.round(np.asarray(touches, dtype=np.float64)[:, :2] * points).astype(np.int32)
    steps = np.diff(xy, axis=0)
    if len(steps) < RUN - 1:
        return []
    windows = np.lib.stride_tricks.sliding_window_view(steps, (RUN - 1, 2)).reshape(-1, 2 * (RUN - 1))
    moving = windows.any(axis=1)
    return [np.ascontiguousarray(w).tobytes() for w in windows[moving]]


def corpus_runs(performances: list[np.ndarray], points: int) -> set[bytes]:
    """Every moving run of every performance."""
    runs: set[bytes] = set()
    for touches in performances:
        runs.update(_runs(touches, points))
    return runs


def copied_share(performances: list[np.ndarray], sources: list[set[bytes]], points: int) -> float | None:
    """Share of all the performances' moving runs found in their source (``sources[i]`` for
    performance i); None when they have no moving run."""
    found = total = 0
    for touches, source in zip(performances, sources):
        runs = _runs(touches, points)
        total += len(runs)
        found += sum(run in source for run in runs)
    return round(found / total, 4) if total else None


def grid_leaps(touches: np.ndarray, points: int) -> np.ndarray:
    """The performance's leaps between strokes in whole grid points, (n, 2)."""
    return np.round(stroke_leaps(touches) * points).astype(np.int64)


def leap_copied_share(performances: list[np.ndarray], calls: list[np.ndarray], points: int) -> float | None:
    """Share of all the performances' leaps that repeat a leap of their call (``calls[i]`` for performance
    i), either way round, within a grid point on each axis (snapping can round a copy by one);
    None when they have no leap."""
    found = total = 0
    for touches, call in zip(performances, calls):
        mine, theirs = grid_leaps(touches, points), grid_leaps(call, points)
        total += len(mine)
        if len(mine) and len(theirs):
            either_way = np.vstack([theirs, -theirs])
            nearest = np.abs(mine[:, None, :] - either_way[None, :, :]).max(axis=2).min(axis=1)
            found += int((nearest <= 1).sum())
    return round(found / total, 4) if total else None
