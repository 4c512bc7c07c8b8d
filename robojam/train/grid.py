"""One touchscreen point grid for both sides of the realism report.

People's touches come from screens: each performance's positions lie on its
canvas's point grid (multiples of 1 / 600, 1 / 1000, 1 / 686, ... of the
canvas in the shared corpus), written with 6 decimals, and its times with
microseconds. robojam's touches are float32 anywhere in [0, 1]. A judge that
learns "off every grid" tells them apart by precision, not by playing, so the
report snaps both sides to one grid first:

- positions to multiples of ``1 / points``, where ``points`` is the most
  common canvas grid among the people's performances (:func:`chosen_points`;
  600 in the shared corpus, the coarsest grid of any sizeable share of its
  performances, so no side keeps detail the other lacks);
- times to whole microseconds (the corpus's precision).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from robojam.core.touch_runs import TIME_STEP, snap  # noqa: F401 (the report snaps with it)

DEFAULT_POINTS = 600  # when no performance shows a grid (made-up data)
MIN_POINTS, MAX_POINTS = 50, 2048
ON_GRID_SHARE = 0.95  # a performance lies on a grid when this share of its coordinates do
ROUNDING = 1.5e-6  # 6-decimal rounding (5e-7) and float32 storage (6e-8), with room
MIN_COORDINATES = 20  # fewer inner coordinates than this tell no grid
MAX_COORDINATES = 256  # more tell no more (and cost time)


def grid_points(touches: np.ndarray) -> int | None:
    """The coarsest point grid (points across the canvas) the performance's positions lie on, or None.

    Coordinates on the canvas's border (0 or 1, where off-screen touches are
    clipped) lie on every grid and are left out.
    """
    xy = np.asarray(touches, dtype=np.float64)[:, :2].ravel()
    inner = xy[(xy > 0) & (xy < 1)][:MAX_COORDINATES]
    if len(inner) < MIN_COORDINATES:
        return None
    points = np.arange(MIN_POINTS, MAX_POINTS + 1, dtype=np.float64)
    scaled = np.outer(points, inner)
    on_grid = np.abs(scaled - np.round(scaled)) <= ROUNDING * points[:, None]
    fits = np.flatnonzero(on_grid.mean(axis=1) >= ON_GRID_SHARE)
    return int(points[fits[0]]) if len(fits) else None


def chosen_points(performances: list[np.ndarray]) -> int:
    """The most common grid among the performances' (ties: the coarser), DEFAULT_POINTS if none shows one."""
    counts = Counter(p for p in map(grid_points, performances) if p is not None)
    if not counts:
        return DEFAULT_POINTS
    return min(counts, key=lambda p: (-counts[p], p))
