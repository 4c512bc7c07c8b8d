"""Training windows: each input is paired with the target of the event after it (no TensorFlow needed)."""

import numpy as np

from robojam.core.encoding import DeltaEncoding, RawEncoding
from robojam.train.training import make_windows


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
