"""Encodings: what the network reads and predicts, and the way back to touches."""

import math

import numpy as np
import pytest

from robojam.core.encoding import ENCODINGS, HeadingEncoding
from synthetic import synthetic_performance

ENCODING_NAMES = sorted(ENCODINGS)


def make(name):
    return ENCODINGS[name]() if name == "robojam" else ENCODINGS[name](10.0, -3.5, 1.2)


def curve() -> np.ndarray:
    """A performance with turns in every direction: a circle, then a stroke elsewhere."""
    angles = np.linspace(0, 2 * np.pi, 40)
    circle = np.column_stack([0.5 + 0.2 * np.cos(angles), 0.5 + 0.2 * np.sin(angles), np.full(40, 0.017)])
    circle[0, 2] = 0.0
    stroke = synthetic_performance(np.random.default_rng(1))
    stroke[:, :2] = np.clip(stroke[:, :2], 0.0, 1.0)
    stroke[0, 2] = 0.3  # a pause before it (a dt of 0 has no log: it is floored)
    return np.vstack([circle, stroke])


@pytest.mark.parametrize("name", ENCODING_NAMES)
def test_step_inputs_and_contexts_give_the_whole_performance_inputs(name):
    encoding, touches = make(name), curve()
    context, stepped = None, []
    for x, y, dt in touches:
        stepped.append(encoding.step_input(context, x, y, dt))
        context = encoding.context(context, x, y)
    np.testing.assert_allclose(stepped, encoding.inputs(touches), atol=1e-12)
    assert encoding.inputs(touches).shape == (len(touches), encoding.input_dim)


@pytest.mark.parametrize("name", ENCODING_NAMES)
def test_decoding_a_target_gives_back_its_touch(name):
    encoding, touches = make(name), curve()
    targets = encoding.targets(touches)
    context = encoding.context(None, *touches[0, :2])
    for (x, y, dt), target in zip(touches[1:], targets[1:]):
        np.testing.assert_allclose(encoding.decode(context, target), (x, y, dt), atol=1e-9)
        assert encoding.on_screen(context, target)
        context = encoding.context(context, x, y)


def rotated(touches: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    centred = touches[:, :2] - 0.5
    xy = 0.5 + centred @ np.array([[c, s], [-s, c]])
    return np.column_stack([xy, touches[:, 2]])


def test_heading_targets_do_not_depend_on_the_direction_of_play():
    encoding = make("heading")
    touches = curve()
    for angle in (0.7, math.pi / 2, 2.5):
        # From the second movement on, each is told relative to the one before: turning the
        # whole performance changes nothing. (The first movement is in the screen's frame.)
        np.testing.assert_allclose(encoding.targets(rotated(touches, angle))[2:], encoding.targets(touches)[2:],
                                   atol=1e-9)
    delta = make("delta")
    assert not np.allclose(delta.targets(rotated(touches, 0.7))[2:], delta.targets(touches)[2:])


def test_heading_tells_a_straight_line_as_along_only_and_a_turn_as_across():
    encoding = HeadingEncoding(delta_scale=10.0)
    line = np.array([[0.1 + 0.01 * i, 0.2 + 0.01 * i, 0.017] for i in range(6)])
    targets = encoding.targets(line)
    np.testing.assert_allclose(targets[2:, 0], math.hypot(0.01, 0.01) * 10)
    np.testing.assert_allclose(targets[2:, 1], 0.0, atol=1e-12)
    left_turn = np.array([[0.5, 0.5, 0.0], [0.6, 0.5, 0.02], [0.6, 0.6, 0.02]])  # east, then north (+y)
    np.testing.assert_allclose(encoding.targets(left_turn)[2, :2], [0.0, 1.0], atol=1e-12)


def test_heading_after_no_movement_uses_the_screens_frame():
    encoding = HeadingEncoding(delta_scale=10.0)
    tap_then_move = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.2], [0.5, 0.6, 0.02]])
    np.testing.assert_allclose(encoding.targets(tap_then_move)[2, :2], [0.0, 1.0], atol=1e-12)
    assert encoding.decode((0.5, 0.5, 0.0, 0.0), [1.0, 0.0, 0.0])[:2] == pytest.approx((0.6, 0.5))


def test_heading_density_needs_the_same_jacobian_as_delta():
    touches = curve()
    np.testing.assert_allclose(make("heading").log_jacobian(touches), make("delta").log_jacobian(touches))


def test_heading_inputs_show_the_room_to_the_screens_edges_around_the_stroke():
    encoding = HeadingEncoding(delta_scale=10.0)
    rightwards = np.array([[0.8, 0.3, 0.0], [0.9, 0.3, 0.02]])
    ahead, behind, left, right = encoding.inputs(rightwards)[1, -4:]
    assert (ahead, behind, left, right) == pytest.approx((0.1, 0.9, 0.7, 0.3))
    diagonal = np.array([[0.5, 0.5, 0.0], [0.6, 0.6, 0.02]])
    assert encoding.inputs(diagonal)[1, -4] == pytest.approx(0.4 * math.sqrt(2))
    assert encoding.inputs(diagonal)[0, -4:] == pytest.approx((0.5, 0.5, 0.5, 0.5))  # no movement: screen axes


def test_the_room_along_an_edge_is_the_distance_to_the_corner_ahead():
    encoding = HeadingEncoding(delta_scale=10.0)
    up_the_right_edge = np.array([[1.0, 0.8, 0.0], [1.0, 0.7, 0.02]])
    assert encoding.inputs(up_the_right_edge)[1, -4:] == pytest.approx((0.7, 0.3, 0.0, 1.0))
    along_the_bottom = np.array([[0.2, 1.0, 0.0], [0.3, 1.0, 0.02]])
    assert encoding.inputs(along_the_bottom)[1, -4:] == pytest.approx((0.7, 0.3, 0.0, 1.0))
    still_in_a_corner = np.array([[1.0, 1.0, 0.0]])
    assert encoding.inputs(still_in_a_corner)[0, -4:] == pytest.approx((0.0, 1.0, 0.0, 1.0))
