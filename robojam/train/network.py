"""The MDN-RNN as a Keras model, and the bridge to robojam's model format.

RoboJam's architecture: stacked LSTMs feeding a keras-mdn-layer ``MDN`` head,
applied at every time step, or a head of robojam's own with a correlation per
component (``CorrelatedMDN``: keras-mdn-layer's is diagonal). This module imports Keras (and so TensorFlow):
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

from robojam.core.mixture import RHO_LIMIT, SIGMA_EPSILON, Head  # noqa: E402
from robojam.core.modelfile import Model  # noqa: E402
from robojam.train.look_ahead import AHEAD_DIM, AHEAD_MIXTURES  # noqa: E402


class CorrelatedMDN(layers.Layer):
    """A mixture head whose components correlate their first two dimensions (``Head`` with
    ``correlated``): keras-mdn-layer's ``MDN`` and its dense parts, with ``mdn_rhos`` between the
    deviations and the weight logits, activated as ``RHO_LIMIT * tanh``."""

    def __init__(self, output_dimension: int, num_mixtures: int, **kwargs):
        super().__init__(**kwargs)
        self.output_dim, self.num_mix = output_dimension, num_mixtures
        self.mdn_mus = layers.Dense(num_mixtures * output_dimension, name="mdn_mus")
        self.mdn_sigmas = layers.Dense(num_mixtures * output_dimension, name="mdn_sigmas")
        self.mdn_rhos = layers.Dense(num_mixtures, name="mdn_rhos")
        self.mdn_pi = layers.Dense(num_mixtures, name="mdn_pi")

    def build(self, input_shape):
        for part in (self.mdn_mus, self.mdn_sigmas, self.mdn_rhos, self.mdn_pi):
            part.build(input_shape)
        super().build(input_shape)

    def call(self, x):
        sigmas = ops.elu(self.mdn_sigmas(x)) + 1.0 + SIGMA_EPSILON
        rhos = RHO_LIMIT * ops.tanh(self.mdn_rhos(x))
        return ops.concatenate([self.mdn_mus(x), sigmas, rhos, self.mdn_pi(x)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], Head(self.output_dim, self.num_mix, correlated=True).size)

    def get_config(self):
        return {**super().get_config(), "output_dimension": self.output_dim, "num_mixtures": self.num_mix}


def head_layer(output_dim: int, mixtures: int, correlated: bool) -> layers.Layer:
    """The head applied at every step: keras-mdn-layer's ``MDN``, or ``CorrelatedMDN``."""
    head = CorrelatedMDN(output_dim, mixtures) if correlated else mdn.MDN(output_dim, mixtures)
    return layers.TimeDistributed(head, name="mdn")


def build_sequence_network(input_dim: int, n_layers: int, units: int, mixtures: int,
                           output_dim: int = 3, style_dim: int = 0, style_noise: float = 0.0,
                           correlated: bool = False, look_ahead: bool = False) -> keras.Model:
    """The training network: (batch, time, input_dim + style_dim) to mixture parameters at every step.

    A style input (the last ``style_dim`` columns) gets Gaussian noise of spread ``style_noise``
    while training; the network has no weights of its own for it. With ``look_ahead``, a second head
    (:mod:`robojam.train.look_ahead`) on the top layer too, its outputs after the head's.
    """
    inputs = keras.Input(shape=(None, input_dim + style_dim), name="touches")
    signal = inputs
    if style_dim and style_noise > 0:
        noisy = layers.GaussianNoise(style_noise, name="style_noise")(inputs[..., input_dim:])
        signal = layers.Concatenate(name="with_style")([inputs[..., :input_dim], noisy])
    for i in range(n_layers):
        signal = layers.LSTM(units, return_sequences=True, name=f"lstm{i}")(signal)
    head = head_layer(output_dim, mixtures, correlated)(signal)
    if look_ahead:
        ahead = layers.TimeDistributed(mdn.MDN(AHEAD_DIM, AHEAD_MIXTURES), name="ahead")(signal)
        head = layers.Concatenate(name="with_ahead")([head, ahead])
    return keras.Model(inputs, head, name="robojam_mdn_rnn")


def build_step_network(input_dim: int, n_layers: int, units: int, mixtures: int,
                       output_dim: int = 3, unroll: bool = False, correlated: bool = False) -> keras.Model:
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
    head = head_layer(output_dim, mixtures, correlated)(signal)
    return keras.Model([touch] + states_in, [head] + states_out, name="robojam_step")


def masked_mdn_loss(output_dim: int, mixtures: int, correlated: bool = False):
    """Mean negative log-likelihood of the mixture (Bishop 1994, eq. 33) over weighted steps: the
    numpy head's own density (``Head.log_prob``), evaluated with ``keras.ops``.

    ``y_true`` carries the target in its first ``output_dim`` columns and a
    0/1 weight in the last, so padding and unscored events add nothing.
    """
    head = Head(output_dim, mixtures, correlated)

    def loss(y_true, y_pred):
        weight = y_true[..., output_dim]
        nll = -head.log_prob(y_true[..., :output_dim], y_pred, xp=ops, dtype=np.float32)
        return ops.sum(nll * weight) / ops.maximum(ops.sum(weight), 1.0)

    return loss


def weights_from_keras(network: keras.Model, n_layers: int, head: Head) -> dict[str, np.ndarray]:
    """Keras layer weights under robojam's weight names."""
    weights = {}
    for i in range(n_layers):
        kernel, recurrent, bias = network.get_layer(f"lstm{i}").get_weights()
        weights.update({f"lstm{i}_kernel": kernel, f"lstm{i}_recurrent_kernel": recurrent, f"lstm{i}_bias": bias})
    layer = network.get_layer("mdn").layer
    for part in head.parts:
        kernel, bias = getattr(layer, f"mdn_{part}").get_weights()
        weights.update({f"mdn_{part}_kernel": kernel, f"mdn_{part}_bias": bias})
    return weights


def load_into_keras(network: keras.Model, model: Model) -> keras.Model:
    """Set a Keras network's weights from a robojam model."""
    w = model.weights
    for i in range(model.layers):
        network.get_layer(f"lstm{i}").set_weights(
            [w[f"lstm{i}_kernel"], w[f"lstm{i}_recurrent_kernel"], w[f"lstm{i}_bias"]])
    head = network.get_layer("mdn").layer
    for part in model.head.parts:
        getattr(head, f"mdn_{part}").set_weights([w[f"mdn_{part}_kernel"], w[f"mdn_{part}_bias"]])
    return network


def keras_sequence_model(model: Model) -> keras.Model:
    network = build_sequence_network(model.input_dim, model.layers, model.units, model.mixtures,
                                     correlated=model.correlated)
    return load_into_keras(network, model)


def keras_step_model(model: Model, unroll: bool = False) -> keras.Model:
    network = build_step_network(model.input_dim, model.layers, model.units, model.mixtures,
                                 unroll=unroll, correlated=model.correlated)
    return load_into_keras(network, model)
