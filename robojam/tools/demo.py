"""A made-up call performance for examples, quick starts and benchmarks.

It is drawn here, not taken from any corpus: a spiral gesture sampled at
60 Hz like a phone's touch sensor, a pause, then three quick taps.
"""

from __future__ import annotations

import numpy as np

from robojam.core.performance import Performance

SENSOR_DT = 1 / 60


def demo_call(seconds: float = 5.0) -> Performance:
    """A call of about ``seconds`` length: a spiral stroke then taps."""
    spiral_events = max(2, int(seconds * 0.7 / SENSOR_DT))
    angle = np.linspace(0, 4 * np.pi, spiral_events)
    radius = np.linspace(0.05, 0.3, spiral_events)
    xy = np.column_stack([0.5 + radius * np.cos(angle), 0.5 + radius * np.sin(angle)])
    dt = np.full(spiral_events, SENSOR_DT)
    dt[0] = 0.0
    taps = np.array([[0.2, 0.8], [0.5, 0.85], [0.8, 0.8]])
    tap_gap = (seconds - dt.sum()) / len(taps)
    rows = np.vstack([np.column_stack([xy, dt]), np.column_stack([taps, np.full(len(taps), tap_gap)])])
    return Performance.from_xy_dt(rows)
