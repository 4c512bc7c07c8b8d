"""Encodings, checked where the mutation run (README, "Development") found them unchecked: model-file
round trips, fitting, the screen's edges, the log-Jacobian and the room to the edges."""

import math

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.corpus import MAX_DT
from robojam.core.encoding import (MAX_ROOM, MIN_HEADING_MOVE, DeltaEncoding, HeadingEncoding,
                                   RawEncoding, _clip_touch, _rooms_around, from_dict)

ALL = [RawEncoding(), DeltaEncoding(10.0, -3.5, 1.2), HeadingEncoding(8.0, -3.0, 0.9)]


@pytest.mark.parametrize("encoding", ALL, ids=lambda e: e.name)
def test_model_files_round_trip_every_encoding_and_its_parameters(encoding):
    spec = encoding.to_dict()
    assert spec["name"] == encoding.name
    again = from_dict(spec)
    assert type(again) is type(encoding) and again.to_dict() == spec


def test_delta_parameters_are_named_in_the_model_file_and_default_as_documented():
    assert DeltaEncoding().to_dict() == {"name": "delta", "delta_scale": 10.0, "logdt_mean": -3.5, "logdt_std": 1.0}
    assert from_dict({"name": "heading", "logdt_std": 2.0}).to_dict() == {
        "name": "heading", "delta_scale": 10.0, "logdt_mean": -3.5, "logdt_std": 2.0}


@pytest.mark.parametrize("spec, message", [
    ({"name": "sketch"}, "unknown encoding 'sketch'; known: robojam, delta, heading"),
    ({}, "unknown encoding None; known: robojam, delta, heading"),
    (["delta"], "unknown encoding None"),
    ({"name": "delta", "scale": 3}, "bad parameters for encoding 'delta': "),
    ({"name": "delta", "delta_scale": "big"}, "bad parameters for encoding 'delta': "),
])
def test_a_bad_encoding_in_a_model_file_is_named(spec, message):
    with pytest.raises(RobojamError) as error:
        from_dict(spec)
    assert message in str(error.value)


def test_fitting_standardises_the_log_of_every_gap_after_a_performances_first_touch():
    performances = [np.array([[0.1, 0.1, 9.0], [0.2, 0.1, 0.01], [0.3, 0.1, 0.1], [0.4, 0.1, 0.0]]),
                    np.array([[0.5, 0.5, 7.0]]),  # a lone touch has no gap
                    np.array([[0.5, 0.5, 3.0], [0.6, 0.5, 1.0]])]
    fitted = DeltaEncoding.fitted(performances, delta_scale=4.0)
    logs = np.log([0.01, 0.1, 1e-4, 1.0])  # a gap of 0 is floored
    assert fitted.to_dict() == pytest.approx({"name": "delta", "delta_scale": 4.0, "logdt_mean": logs.mean(),
                                              "logdt_std": logs.std()})
    assert DeltaEncoding.fitted(performances).delta_scale == 10.0
    steady = DeltaEncoding.fitted([np.array([[0.1, 0.1, 0.0], [0.2, 0.2, 0.02], [0.3, 0.3, 0.02]])])
    assert steady.logdt_mean == pytest.approx(math.log(0.02)) and steady.logdt_std == 1e-3


@pytest.mark.parametrize("encoding", ALL, ids=lambda e: e.name)
def test_float32_touches_are_encoded_in_float64(encoding):
    # the last two steps are ones float32 cannot subtract exactly (0.9 - 0.0123456 needs more bits)
    rows = np.array([[0.1, 0.2, 0.0], [0.1234567, 0.2345678, 0.0166667], [0.3, 0.2, 0.3],
                     [0.9, 0.0123457, 0.02], [0.0123456, 0.77, 0.5]], np.float32)
    exact = rows.astype(np.float64)
    for method in (encoding.targets, encoding.inputs, encoding.log_jacobian):
        got = method(rows)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, method(exact))
    assert encoding.log_jacobian(rows).shape == (5,)


def test_raw_targets_are_x_y_dt_whatever_else_a_row_holds():
    rows = np.array([[0.1, 0.2, 0.3, 0.9, 1.0], [0.4, 0.5, 0.6, 0.9, 0.0]])
    np.testing.assert_array_equal(RawEncoding().targets(rows), rows[:, :3])
    np.testing.assert_array_equal(RawEncoding().log_jacobian(rows), [0.0, 0.0])


@pytest.mark.parametrize("encoding", ALL[1:], ids=lambda e: e.name)
def test_the_log_jacobian_is_the_derivative_of_the_targets(encoding):
    rows = np.array([[0.3, 0.4, 0.0], [0.32, 0.41, 0.05], [0.35, 0.45, 0.8], [0.4, 0.44, 0.02]])
    h = 1e-6
    for i in range(1, len(rows)):
        jacobian = np.zeros((3, 3))
        for column in range(3):
            up, down = rows.copy(), rows.copy()
            up[i, column] += h
            down[i, column] -= h
            jacobian[:, column] = (encoding.targets(up)[i] - encoding.targets(down)[i]) / (2 * h)
        assert encoding.log_jacobian(rows)[i] == pytest.approx(math.log(abs(np.linalg.det(jacobian))), abs=1e-5)


def landing(encoding, prev, x, y):
    """A target that lands exactly at (x, y) after the context ``prev``, and a dt of 0.05 s."""
    if encoding.name == "robojam":
        return [x, y, 0.05]
    dx, dy = (x - prev[0]) * encoding.delta_scale, (y - prev[1]) * encoding.delta_scale
    if encoding.name == "heading":  # prev's movement is along +x: along = dx, across = dy
        return [dx, dy, 0.0]
    return [dx, dy, 0.0]


@pytest.mark.parametrize("encoding", ALL, ids=lambda e: e.name)
def test_the_screens_edges_are_on_it_and_a_step_past_either_is_not(encoding):
    prev = (0.75, 0.25, 0.1, 0.0)  # moving along +x, right of centre: a sign error lands elsewhere
    for x, y in [(0.0, 0.5), (1.0, 0.5), (0.5, 0.0), (0.5, 1.0), (0.0, 0.0), (1.0, 1.0)]:
        assert encoding.on_screen(prev, landing(encoding, prev, x, y)), (x, y)
    for x, y in [(-0.01, 0.5), (1.01, 0.5), (0.5, -0.01), (0.5, 1.01), (1.3, 0.5), (0.5, 1.3)]:
        assert not encoding.on_screen(prev, landing(encoding, prev, x, y)), (x, y)
    if encoding.name == "robojam":
        assert encoding.on_screen(prev, [0.5, 0.5, 3.0])  # dt is not a position


@pytest.mark.parametrize("value, clipped", [(-0.5, 0.0), (0.0, 0.0), (0.3, 0.3), (1.0, 1.0), (1.5, 1.0),
                                            (float("nan"), 0.0), (-1e9, 0.0), (1e9, 1.0)])
def test_decoded_positions_are_clipped_onto_the_screen(value, clipped):
    assert _clip_touch(value, 0.5, 0.1)[0] == clipped
    assert _clip_touch(0.5, value, 0.1)[1] == clipped


@pytest.mark.parametrize("value, clipped", [(-0.5, 0.0), (0.0, 0.0), (0.3, 0.3), (MAX_DT, MAX_DT),
                                            (MAX_DT + 1, MAX_DT), (float("nan"), 0.0)])
def test_decoded_gaps_are_clipped_to_the_valid_range(value, clipped):
    assert _clip_touch(0.5, 0.5, value)[2] == clipped


def ray_room(x, y, vx, vy):
    """How far the ray from (x, y) along (vx, vy) stays on the screen, by bisection."""
    low, high = 0.0, 10.0
    for _ in range(200):
        mid = (low + high) / 2
        px, py = x + mid * vx, y + mid * vy
        low, high = (mid, high) if (0 <= px <= 1 and 0 <= py <= 1) else (low, mid)
    return min(low, MAX_ROOM)


def test_the_room_around_a_touch_is_how_far_each_way_the_screen_goes():
    rng = np.random.default_rng(2)
    for _ in range(200):
        x, y = rng.uniform(0.02, 0.98, 2)
        angle = rng.uniform(0, 2 * math.pi)
        vx, vy = math.cos(angle), math.sin(angle)
        expected = [ray_room(x, y, *v) for v in ((vx, vy), (-vx, -vy), (-vy, vx), (vy, -vx))]
        assert _rooms_around(x, y, vx, vy) == pytest.approx(expected, abs=1e-9)
    assert _rooms_around(0.9, 0.5, 0.6, 0.8) == pytest.approx((0.1 / 0.6, 0.5 / 0.8, 0.5 / 0.6, 0.1 / 0.8))


def test_room_off_the_screen_is_capped():
    assert _rooms_around(-1.0, 0.5, 1.0, 0.0)[0] == MAX_ROOM


def test_a_movement_no_longer_than_the_minimum_sets_no_direction_in_either_path():
    encoding = HeadingEncoding(10.0)
    rows = np.array([[MIN_HEADING_MOVE, 0.5, 0.0], [0.0, 0.5, 0.02], [0.0, 0.6, 0.02]])  # a -x hair, then +y
    targets = encoding.targets(rows)
    np.testing.assert_allclose(targets[2, :2], [0.0, 1.0], atol=1e-9)  # told in the screen's frame
    context = encoding.context(encoding.context(None, *rows[0, :2]), *rows[1, :2])
    assert encoding.step_input(context, *rows[2])[4:6] == pytest.approx([0.0, 1.0], abs=1e-9)
    assert encoding.decode(context, [0.0, 1.0, 0.0])[:2] == pytest.approx((0.0, 0.6))


def test_fitting_on_lone_touches_alone_fails_rather_than_standardising_with_nan():
    with pytest.raises(ValueError):
        DeltaEncoding.fitted([np.array([[0.5, 0.5, 0.0]]), np.array([[0.2, 0.7, 3.0]])])
