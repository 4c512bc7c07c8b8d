"""The MDN-RNN as a Keras model, and the bridge to robojam's model format.

RoboJam's architecture: stacked LSTMs feeding a keras-mdn-layer ``MDN`` head,
applied at every time step. This module imports Keras (and so TensorFlow):
only training and the engine-versus-Keras checks use it.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from robojam.train.quiet import native_stderr_silenced  # noqa: E402

with native_stderr_silenced():
    import keras
    import keras_mdn_layer as mdn
    from keras import layers, ops

import numpy as np  # noqa: E402

from robojam.core.mixture import MDN_PARTS, Head  # noqa: E402
from robojam.core.modelfile import Model  # noqa: E402


def build_sequence_network(input_dim: int, n_layers: int, units: int, mixtures: int,
                           output_dim: int = 3, style_dim: int = 0, style_noise: float = 0.0) -> keras.Model:
    """The training network: (batch, time, input_dim + style_dim) to mixture parameters at every step.

    A style input (the last ``style_dim`` columns) gets Gaussian noise of spread ``style_noise``
    while training; the network has no weights of its own for it.
    """
    inputs = keras.Input(shape=(None, input_dim + style_dim), name="touches")
    signal = inputs
    if style_dim and style_noise > 0:
        noisy = layers.GaussianNoise(style_noise, name="style_noise")(inputs[..., input_dim:])
        signal = layers.Concatenate(name="with_style")([inputs[..., :input_dim], noisy])
    for i in range(n_layers):
        signal = layers.LSTM(units, return_sequences=True, name=f"lstm{i}")(signal)
    head = layers.TimeDistributed(mdn.MDN(output_dim, mixtures), name="mdn")(signal)
    return keras.Model(inputs, head, name="robojam_mdn_rnn")


def build_step_network(input_dim: int, n_layers: int, units: int, mixtures: int,
                       output_dim: int = 3, unroll: bool = False) -> keras.Model:
    """One step with explicit state: [touch, h0, c0, h1, c1, ...] to [params, h0', c0', ...].

    ``unroll`` writes the step without a loop op, as LiteRT's builtin ops need.
    """
    touch = keras.Input(shape=(1, input_dim), name="touch")
    states_in, states_out = [], []
    signal = touch
    for i in range(n_layers):
        h = keras.Input(shape=(units,), name=f"h{i}")
        c = keras.Input(shape=(units,), name=f"c{i}")
        signal, h_out, c_out = layers.LSTM(units, return_sequences=True, return_state=True, unroll=unroll,
                                           name=f"lstm{i}")(signal, initial_state=[h, c])
        states_in += [h, c]
        states_out += [h_out, c_out]
    head = layers.TimeDistributed(mdn.MDN(output_dim, mixtures), name="mdn")(signal)
    return keras.Model([touch] + states_in, [head] + states_out, name="robojam_step")


def masked_mdn_loss(output_dim: int, mixtures: int):
    """Mean negative log-likelihood of the mixture (Bishop 1994, eq. 33) over weighted steps: the
    numpy head's own density (``Head.log_prob``), evaluated with ``keras.ops``.

    ``y_true`` carries the target in its first ``output_dim`` columns and a
    0/1 weight in the last, so padding and unscored events add nothing.
    """
    head = Head(output_dim, mixtures)

    def loss(y_true, y_pred):
        weight = y_true[..., output_dim]
        nll = -head.log_prob(y_true[..., :output_dim], y_pred, xp=ops, dtype=np.float32)
        return ops.sum(nll * weight) / ops.maximum(ops.sum(weight), 1.0)

    return loss


def weights_from_keras(network: keras.Model, n_layers: int) -> dict[str, np.ndarray]:
    """Keras layer weights under robojam's weight names."""
    weights = {}
    for i in range(n_layers):
        kernel, recurrent, bias = network.get_layer(f"lstm{i}").get_weights()
        weights.update({f"lstm{i}_kernel": kernel, f"lstm{i}_recurrent_kernel": recurrent, f"lstm{i}_bias": bias})
    head = network.get_layer("mdn").layer
    for part in MDN_PARTS:
        kernel, bias = getattr(head, f"mdn_{part}").get_weights()
        weights.update({f"mdn_{part}_kernel": kernel, f"mdn_{part}_bias": bias})
    return weights


def load_into_keras(network: keras.Model, model: Model) -> keras.Model:
    """Set a Keras network's weights from a robojam model."""
    w = model.weights
    for i in range(model.layers):
        network.get_layer(f"lstm{i}").set_weights(
            [w[f"lstm{i}_kernel"], w[f"lstm{i}_recurrent_kernel"], w[f"lstm{i}_bias"]])
    head = network.get_layer("mdn").layer
    for part in MDN_PARTS:
        getattr(head, f"mdn_{part}").set_weights([w[f"mdn_{part}_kernel"], w[f"mdn_{part}_bias"]])
    return network


def keras_sequence_model(model: Model) -> keras.Model:
    network = build_sequence_network(model.input_dim, model.layers, model.units, model.mixtures)
    return load_into_keras(network, model)


def keras_step_model(model: Model, unroll: bool = False) -> keras.Model:
    network = build_step_network(model.input_dim, model.layers, model.units, model.mixtures,
                                 unroll=unroll)
    return load_into_keras(network, model)
