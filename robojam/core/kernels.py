"""A model's weights laid out for the engine's fused numpy step, and the step itself.

The engine (:mod:`robojam.core.engine`) works in float32 like Keras, on one
signal vector ``[1, input, 2 h_0, ..., 2 h_{L-1}, 1]``: every layer reads a
prefix of it through a kernel with zero rows where it takes nothing, the
leading 1 carrying the bias, and the MDN head reads the top layer and the
trailing 1. So no vector is copied between layers and a step works on
buffers allocated once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robojam.core.modelfile import Model

# The rows of a layer's working block: its cell state, then its gates.
CELL, GATE_G, GATE_F, GATE_I, GATE_O = range(5)


@dataclass
class Kernels:
    """An engine's weight matrices, laid out for stepping; shared by spawned engines."""

    layers: list[np.ndarray]
    wavefront: np.ndarray
    head: np.ndarray


def h_starts(model: Model) -> list[int]:
    """Where each layer's 2 h sits in the signal vector."""
    return [1 + model.input_dim + i * model.units for i in range(model.layers)]


def signal_size(model: Model) -> int:
    return 1 + model.input_dim + model.layers * model.units + 1


def compile_kernels(model: Model) -> Kernels:
    layers = [_layer_kernel(model, i) for i in range(model.layers)]
    return Kernels(layers, _wavefront_kernel(model, layers), _head_kernel(model))


def _layer_kernel(model: Model, i: int) -> np.ndarray:
    """Rows for the signals up to 2 h_i, gate columns g, f, i, o (Keras stores i, f, g, o)."""
    w, u, starts = model.weights, model.units, h_starts(model)
    kernel = np.zeros((starts[i] + u, 4 * u))
    kernel[0] = w[f"lstm{i}_bias"]
    if i == 0:
        kernel[1:1 + model.input_dim] = w["lstm0_kernel"]
    else:
        below = starts[i - 1]
        kernel[below:below + u] = w[f"lstm{i}_kernel"] / 2
    kernel[starts[i]:starts[i] + u] = w[f"lstm{i}_recurrent_kernel"] / 2
    gate_i, gate_f, gate_g, gate_o = (kernel[:, k * u:(k + 1) * u] for k in range(4))
    return np.hstack([gate_g, gate_f / 2, gate_i / 2, gate_o / 2]).astype(np.float32)


def _wavefront_kernel(model: Model, kernels: list[np.ndarray]) -> np.ndarray:
    """All layers' kernels side by side, columns grouped by gate then layer."""
    u, layers = model.units, len(kernels)
    fused = np.zeros((signal_size(model), 4 * u * layers), np.float32)
    for i, kernel in enumerate(kernels):
        for gate in range(4):  # pragma: no mutate (empty-slice)
            column = (gate * layers + i) * u
            fused[:kernel.shape[0], column:column + u] = kernel[:, gate * u:(gate + 1) * u]
    return fused


def _head_kernel(model: Model) -> np.ndarray:
    """Rows for the top layer's 2 h and the trailing 1 (the bias). Columns: the mixture parameters,
    then the weight logits the sampler reads, tilted by the model's ``gap_tilt`` times each
    component's mean gap (both are linear in the top layer, so the tilt costs no step any time)."""
    w, layout = model.weights, model.head
    kernel = np.hstack([w[f"mdn_{p}_kernel"] for p in layout.parts]) / 2
    bias = np.hstack([w[f"mdn_{p}_bias"] for p in layout.parts])
    head = np.vstack([kernel, bias])
    tilted = head[:, layout.logits] + model.temperatures.gap_tilt * head[:, layout.gap_means]  # the logits, tilted
    return np.hstack([head, tilted]).astype(np.float32)


def layer_step(reads: np.ndarray, kernel: np.ndarray, block: np.ndarray, twice_h: np.ndarray):
    """One LSTM layer's step on the engine's buffers, as a function of no arguments.

    ``block`` is the layer's working memory, rows ``[c, t_g, t_f, t_i, t_o]``
    (C-contiguous: numpy is much slower on strided views this small), where
    t is tanh of a gate's pre-activation with the sigmoid gates' kernel
    columns halved, since sigmoid(a) = (1 + tanh(a / 2)) / 2. Then
        c' = ((1 + t_f) c + (1 + t_i) t_g) / 2,    2 h' = (1 + t_o) tanh(c')
    and the two products are one call on rows ``[c, t_g]`` times ``[1 + t_f,
    1 + t_i]``. The layer writes 2 h', so every kernel reading h has its rows
    halved. Used for one layer at a time (``feed``) or for all layers at once
    (``condition``'s wavefront, each row holding every layer). Views are
    bound once in a closure and no operand is a scalar: the step is eight
    numpy calls and little else, since their per-call overhead is what a
    step costs.
    """
    pre_activations = np.zeros(kernel.shape[1], np.float32)
    gates_shaped = pre_activations.reshape(4, -1)  # pragma: no mutate (reshape-neg)
    gates, sigmoids = block[GATE_G:], block[GATE_F:]
    carried, multipliers = block[CELL:GATE_F], block[GATE_F:GATE_O]
    cells, candidates, out_gate = block[CELL], block[GATE_G], block[GATE_O]
    # pragma: no mutate start (float-width)
    ones = np.ones(sigmoids.shape, np.float32)
    halves = np.full(cells.shape, 0.5, np.float32)
    # pragma: no mutate end
    dot, tanh, multiply, add = np.dot, np.tanh, np.multiply, np.add

    def step() -> None:
        dot(reads, kernel, pre_activations)
        tanh(gates_shaped, gates)
        add(sigmoids, ones, sigmoids)
        multiply(carried, multipliers, carried)
        add(cells, candidates, cells)
        multiply(cells, halves, cells)
        tanh(cells, twice_h)
        multiply(twice_h, out_gate, twice_h)

    return step
