"""robojam's dynamics: how loud each touch it plays is (its z), and so the MIDI velocity of each note
it starts (a stroke's first touch).

The model predicts no touch size, so loudness follows a rule a player would recognise. It looks only
back, so that live playing (:mod:`robojam.live.session`) and ``robojam respond`` agree:

- A moving touch is as loud as it is fast: 0.25 standing still, 0.55 at a screen's width a second,
  towards 0.85 faster.
- A stroke's first touch, the note a synth hears, is accented by the rest before it (up to 0.3 after
  a second or more) and driven by how fast robojam has been moving lately (up to 0.6): a running
  average of its speed over about half a second, on a log scale from 1/8 to 4 screen widths a
  second. Fast sweeps make loud notes; slow drifts, soft ones.
- The ``energy`` knob (:mod:`robojam.core.steering`) raises or lowers every touch by
  ``ENERGY_Z_PER_UNIT`` a unit, beside the faster or slower strokes that it asks the model for.
"""

from __future__ import annotations

import math

import numpy as np

SPEED_DT_FLOOR = 1 / 240   # seconds: closer touches count as this far apart when speed is measured
LEVEL_TIME_S = 0.5         # the running speed's time constant
DRIVE_OCTAVES = (-3.0, 2.0)  # log2 of the running speed (screen widths a second) from no drive to full
DRIVE_BEFORE_MOVING = 0.5  # the drive before robojam has moved at all
ACCENT_BASE, ACCENT_REST, ACCENT_DRIVE = 0.1, 0.3, 0.6
ENERGY_Z_PER_UNIT = 0.07   # energy +-1.5: the knob alone moves a note's velocity by 17 (of 40 to 120)
VELOCITIES = (40, 120)     # MIDI velocity at z 0 and 1: robojam's default mapping


def step_speed(step: float, dt: float) -> float:
    """Screen widths a second of a move ``step`` long made in ``dt`` seconds."""
    return step / max(dt, SPEED_DT_FLOOR)


def moving_loudness(speed: float) -> float:
    """The z of a touch that continues a stroke at ``speed`` screen widths a second."""
    return 0.25 + 0.6 * speed / (speed + 1.0)


class Dynamics:
    """The loudness of robojam's touches, one after another (see the module's docstring)."""

    def __init__(self, energy: float = 0.0):
        self.energy = energy
        self.level: float | None = None  # the running speed, None before any move

    def reset(self) -> None:
        """A new part begins: nothing moved yet."""
        self.level = None

    def touch(self, step: float, dt: float, new_stroke: bool) -> float:
        """The z of the next touch: ``step`` from the touch before, ``dt`` seconds after it."""
        if new_stroke:
            z = ACCENT_BASE + ACCENT_REST * min(max(dt, 0.0), 1.0) + ACCENT_DRIVE * self._drive()
        else:
            speed = step_speed(step, dt)
            weight = 1.0 - math.exp(-max(dt, SPEED_DT_FLOOR) / LEVEL_TIME_S)
            self.level = speed if self.level is None else self.level + weight * (speed - self.level)
            z = moving_loudness(speed)
        return min(max(z + ENERGY_Z_PER_UNIT * self.energy, 0.0), 1.0)

    def _drive(self) -> float:
        if self.level is None:
            return DRIVE_BEFORE_MOVING
        low, high = DRIVE_OCTAVES
        octaves = math.log2(max(self.level, 2.0 ** low))
        return min((octaves - low) / (high - low), 1.0)


def dynamics_of(xy_dt: np.ndarray, moving: np.ndarray, energy: float = 0.0) -> np.ndarray:
    """The z of each of a whole part's touches (rows ``x, y, dt``; ``moving`` 0 where a stroke starts)."""
    dynamics = Dynamics(energy)
    steps = np.hypot(*np.diff(xy_dt[:, :2], axis=0, prepend=xy_dt[:1, :2]).T)
    return np.array([dynamics.touch(step, dt, not moves) for step, dt, moves in zip(steps, xy_dt[:, 2], moving)])


def velocity(z: float, low: int = VELOCITIES[0], high: int = VELOCITIES[1]) -> int:
    """The MIDI velocity of a note started at ``z`` (clipped to [0, 1]; not finite: the middle)."""
    z = min(max(float(z), 0.0), 1.0) if math.isfinite(float(z)) else 0.5
    return low + round(z * (high - low))
