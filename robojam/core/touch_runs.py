"""What a judge of raw touches reads: performances on one point grid, cut into runs of touches.

People's positions lie on their screen's point grid and robojam's anywhere in
[0, 1], so anything that compares the two snaps both to one grid first
(:func:`snap`; the realism report chooses the grid, :mod:`robojam.train.grid`).

A **run** is ``RUN`` consecutive touches, one starting every ``HOP``
touches; :func:`run_rows` makes each a row of its start position, then every
step's ``dx, dy``, every gap's log (seconds, floored at ``MIN_GAP``), and each
step again in polar form: its length's log (floored at ``MIN_STEP``) and its
turn from the step before (radians; missing beside a step that does not move).
No value summarises more than two touches. A performance shorter than a run
gives one run, its missing touches NaN (missing values to a classifier).

The realism report's featureless judge (:mod:`robojam.train.judges`) and the
drafts' selector (:mod:`robojam.core.selector`) read these rows.
"""

from __future__ import annotations

import numpy as np

RUN = 16
HOP = 4
MIN_GAP = 1e-3
MIN_STEP = 1e-4
ROW_WIDTH = 5 * RUN - 4
TIME_STEP = 1e-6  # times snap to whole microseconds (the shared corpus's precision)


def snap(touches: np.ndarray, points: int) -> np.ndarray:
    """Rows ``x, y, dt`` with positions on the ``1 / points`` grid and times in whole microseconds."""
    array = np.asarray(touches, dtype=np.float64)
    return np.column_stack([np.round(array[:, :2] * points) / points,
                            np.round(array[:, 2] / TIME_STEP) * TIME_STEP])


def run_rows(touches: np.ndarray) -> np.ndarray:
    """Rows of ``ROW_WIDTH`` values: each run's start ``x, y``, its steps' ``dx, dy``, its gaps' logs,
    its steps' lengths' logs and their turns."""
    touches = np.asarray(touches, dtype=np.float64).reshape(-1, 3)
    if len(touches) < RUN:
        touches = np.vstack([touches, np.full((RUN - len(touches), 3), np.nan)])
    starts = np.arange(0, len(touches) - RUN + 1, HOP)
    runs = touches[starts[:, None] + np.arange(RUN)]
    steps = np.diff(runs[:, :, :2], axis=1)
    distances = np.hypot(steps[..., 0], steps[..., 1])
    with np.errstate(invalid="ignore"):  # NaN padding stays NaN
        headings = np.where(distances > 0, np.arctan2(steps[..., 1], steps[..., 0]), np.nan)
        turns = np.angle(np.exp(1j * np.diff(headings, axis=1)))  # wrapped into (-pi, pi]
        gaps = np.log(np.maximum(runs[:, 1:, 2], MIN_GAP))
        lengths = np.log(np.maximum(distances, MIN_STEP))
    return np.hstack([runs[:, 0, :2], steps.reshape(len(runs), -1), gaps, lengths, turns])
