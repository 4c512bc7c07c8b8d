"""Training windows: each input is paired with the target of the event after it (no TensorFlow needed)."""

import numpy as np

from robojam.core.encoding import DeltaEncoding, HeadingEncoding, RawEncoding
from robojam.train.training import make_windows, noisy_history


def test_each_input_is_paired_with_the_next_events_target():
    performance = np.array([[0.1 * i, 0.5, 0.0 if i == 0 else 0.02] for i in range(1, 8)])
    for encoding in (RawEncoding(), DeltaEncoding(10.0, -3.5, 1.2)):
        inputs, targets = make_windows([performance], encoding, seq_len=4)
        x, y = encoding.inputs(performance), encoding.targets(performance)
        np.testing.assert_allclose(inputs[0], x[0:4], rtol=1e-6)
        np.testing.assert_allclose(targets[0, :, :-1], y[1:5], rtol=1e-6)  # event t predicts event t + 1
        np.testing.assert_array_equal(targets[0, :, -1], 1.0)
        last = inputs[-1], targets[-1]  # the last window ends with the second-last input and the last target
        filled = int(last[1][:, -1].sum())
        np.testing.assert_allclose(last[0][filled - 1], x[-2], rtol=1e-6)
        np.testing.assert_allclose(last[1][filled - 1, :-1], y[-1], rtol=1e-6)


def _curve(n=40):
    angles = np.linspace(0, 3, n)
    return np.column_stack([0.5 + 0.3 * np.cos(angles), 0.5 + 0.3 * np.sin(angles),
                            np.r_[0.0, np.full(n - 1, 0.017)]])


def test_noisy_history_without_noise_is_the_plain_history():
    performance = _curve()
    for encoding in (DeltaEncoding(10.0, -3.5, 1.2), HeadingEncoding.fitted([performance])):
        inputs, targets = noisy_history(performance, encoding, 0.0, np.random.default_rng(1))
        np.testing.assert_allclose(inputs, encoding.inputs(performance), atol=1e-12)
        np.testing.assert_allclose(targets[1:], encoding.targets(performance)[1:], atol=1e-9)


def test_noisy_history_reads_jittered_touches_and_steers_back_to_the_persons():
    performance = _curve()
    encoding = HeadingEncoding.fitted([performance])
    inputs, targets = noisy_history(performance, encoding, 0.01, np.random.default_rng(1))
    jittered = inputs[:, :2]
    assert 0.003 < np.abs(jittered[1:] - performance[1:, :2]).mean() < 0.02
    np.testing.assert_array_equal(jittered[0], performance[0, :2])
    context = encoding.context(None, *jittered[0])
    for i in range(1, len(performance)):  # each target, decoded from the jittered touch before, lands on the person's
        x, y, dt = encoding.decode(context, targets[i])
        np.testing.assert_allclose([x, y, dt], performance[i], atol=1e-9)
        context = encoding.context(context, *jittered[i])


def test_windows_with_input_noise_use_the_noisy_history():
    performance = _curve(12)
    encoding = DeltaEncoding(10.0, -3.5, 1.2)
    inputs, targets = make_windows([performance], encoding, 8, input_noise=0.01, rng=np.random.default_rng(3))
    expected_x, expected_y = noisy_history(performance, encoding, 0.01, np.random.default_rng(3))
    np.testing.assert_allclose(inputs[0], expected_x[:8], rtol=1e-5)
    np.testing.assert_allclose(targets[0, :, :-1], expected_y[1:9], rtol=1e-5, atol=1e-6)
