"""robojam's dynamics (robojam.core.dynamics): how loud each touch it plays is."""

import math

import numpy as np
import pytest

from robojam.core.dynamics import ENERGY_Z_PER_UNIT, Dynamics, dynamics_of, moving_loudness, velocity
from robojam.core.performance import Performance, stroke_continues


def test_a_moving_touch_is_as_loud_as_its_speed():
    assert moving_loudness(0.0) == pytest.approx(0.25)
    assert moving_loudness(1.0) == pytest.approx(0.55)  # a screen's width a second
    dynamics = Dynamics()
    assert dynamics.touch(0.05, 0.05, new_stroke=False) == pytest.approx(0.55)
    assert dynamics.touch(0.01, 0.0, new_stroke=False) == pytest.approx(moving_loudness(2.4))  # dt floored at 1/240 s


def test_a_stroke_start_is_accented_by_the_rest_before_it():
    assert Dynamics().touch(0.3, 0.0, new_stroke=True) == pytest.approx(0.1 + 0.6 * 0.5)  # nothing moved: half drive
    assert Dynamics().touch(0.3, 2.0, new_stroke=True) == pytest.approx(0.1 + 0.3 + 0.3)  # a rest counts up to 1 s
    assert Dynamics().touch(0.3, 0.5, True) > Dynamics().touch(0.3, 0.1, True)


def played_after(speed: float, energy: float = 0.0) -> float:
    """The z of a note starting after a stroke of ten touches at ``speed`` screen widths a second."""
    dynamics = Dynamics(energy)
    for _ in range(10):
        dynamics.touch(speed * 0.02, 0.02, new_stroke=False)
    return dynamics.touch(0.2, 0.2, new_stroke=True)


def test_a_note_after_fast_moves_is_louder_than_after_slow_ones():
    notes = [played_after(speed) for speed in (0.05, 0.25, 1.0, 4.0, 16.0)]
    assert notes == sorted(notes) and notes[0] < notes[-2]
    assert notes[0] == pytest.approx(0.1 + 0.3 * 0.2)  # under 1/8 screen a second: no drive
    assert notes[-1] == pytest.approx(0.1 + 0.3 * 0.2 + 0.6)  # over 4: full drive
    assert played_after(1.0) == pytest.approx(0.1 + 0.06 + 0.6 * 3 / 5, abs=0.02)  # 1 a second: 3 of 5 octaves


def test_the_running_speed_follows_recent_moves_and_a_reset_forgets_them():
    dynamics = Dynamics()
    for _ in range(50):
        dynamics.touch(0.08, 0.02, new_stroke=False)  # 4 a second, for a second
    for _ in range(5):
        dynamics.touch(0.0025, 0.02, new_stroke=False)  # then a tenth of a second at 1/8
    assert 0.125 < dynamics.level < 4.0
    assert dynamics.level == pytest.approx(0.125 + (4 - 0.125) * math.exp(-0.1 / 0.5), rel=0.02)
    dynamics.reset()
    assert dynamics.level is None and dynamics.touch(0.3, 0.0, new_stroke=True) == pytest.approx(0.4)


def test_energy_raises_or_lowers_every_touch_within_zero_and_one():
    for energy in (-2.0, -1.5, 1.0, 2.0):
        assert played_after(1.0, energy) == pytest.approx(played_after(1.0) + ENERGY_Z_PER_UNIT * energy)
        moving = Dynamics(energy).touch(0.01, 0.02, False)
        assert moving == pytest.approx(moving_loudness(0.5) + ENERGY_Z_PER_UNIT * energy)
    loud = Dynamics(2.0)
    loud.touch(0.5, 0.02, new_stroke=False)  # 25 screen widths a second
    assert loud.touch(0.2, 1.0, new_stroke=True) == 1.0
    assert Dynamics(-2.0).touch(0.0, 0.02, False) == pytest.approx(0.11)
    assert Dynamics(-20.0).touch(0.0, 0.0, True) == 0.0


def test_a_whole_part_gets_the_same_dynamics_as_touch_by_touch():
    rng = np.random.default_rng(3)
    xy_dt = np.column_stack([rng.random(40), rng.random(40), rng.exponential(0.05, 40)])
    xy_dt[5:25, :2] = np.linspace(0.2, 0.4, 20)[:, None]  # one smooth stroke among jumps
    moving = stroke_continues(xy_dt)
    step_by_step = Dynamics(0.5)
    expected = [step_by_step.touch(math.hypot(*(xy_dt[i, :2] - xy_dt[max(i - 1, 0), :2])), xy_dt[i, 2], not moving[i])
                for i in range(len(xy_dt))]
    assert dynamics_of(xy_dt, moving, 0.5) == pytest.approx(expected)
    assert Performance.from_xy_dt(xy_dt, z=None, energy=0.5).events[:, 3] == pytest.approx(expected)
    assert (Performance.from_xy_dt(xy_dt, z=None).events[:, 3] < expected).all()
    assert dynamics_of(xy_dt, moving) == pytest.approx(Performance.from_xy_dt(xy_dt, z=None).events[:, 3])  # 0


def test_velocity_maps_z_onto_the_range_and_is_safe():
    assert [velocity(z) for z in (-1, 0, 0.5, 1, 5, math.nan, math.inf)] == [40, 40, 80, 120, 120, 80, 80]
    assert velocity(0.5, 1, 127) == 64
