"""The MDN-RNN as plain numpy, agreeing with its Keras twin: the network and its state.

A :class:`Network` keeps the LSTM state explicitly, one touch at a time: ``feed``
an observed touch, ``condition`` on a whole call, read the next touch's
``mixture_params``, ``snapshot`` and ``restore`` the whole state (to branch).
Choosing a touch from that prediction is :class:`robojam.core.engine.Engine`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import MAX_DT, clean
from robojam.core.kernels import CELL, Kernels, compile_kernels, h_starts, layer_step, signal_size
from robojam.core.mixture import RHO_LIMIT, SIGMA_EPSILON
from robojam.core.modelfile import Model


@dataclass
class EngineState:
    """Everything the next prediction depends on; copy it to branch. ``signals``: the signal vector
    (:mod:`robojam.core.kernels`); ``cells``: the LSTM cell states (layers, units); ``context``: what the
    encoding needs of the touches fed so far (None before any); ``head``: the head's raw output for the
    next touch (deviations not yet activated), None until a touch is fed."""

    signals: np.ndarray
    cells: np.ndarray
    context: tuple | None
    head: np.ndarray | None

    def copy(self) -> EngineState:
        return EngineState(self.signals.copy(), self.cells.copy(), self.context,
                           None if self.head is None else self.head.copy())


class Network:
    """A model's network with explicit state, stepping one touch at a time (on the buffers of
    :mod:`robojam.core.kernels`)."""

    def __init__(self, model: Model, kernels: Kernels | None = None):
        self.model = model
        self.encoding = model.encoding
        self.mixtures = model.mixtures
        self.dim = model.output_dim
        u, n_in, layers = model.units, model.input_dim, model.layers
        self._style = [0.0] * (n_in - model.encoding.input_dim)  # the average style until set_style
        self._h_start = h_starts(model)
        self._signals = np.zeros(signal_size(model), np.float32)
        self._signal_items = memoryview(self._signals)  # item writes cost far less than numpy's
        self._kernels = kernels if kernels is not None else self._compile()
        self._blocks = np.zeros((layers, 5, u), np.float32)
        self._cells = self._blocks[:, CELL]
        self._steps = [
            layer_step(self._signals[:k.shape[0]], k, self._blocks[i], self._signals[h:h + u])
            for i, (k, h) in enumerate(zip(self._kernels.layers, self._h_start))
        ]
        self._wave_block = np.zeros((5, layers * u), np.float32)
        self._wavefront = layer_step(self._signals, self._kernels.wavefront, self._wave_block,
                                      self._signals[1 + n_in:-1])
        self._wave_cells = self._wave_block[CELL].reshape(layers, u)
        self._head_reads = self._signals[self._h_start[-1]:]
        self._head_out = np.zeros(self._kernels.head.shape[1], np.float32)
        self._sigmas, self._rhos = model.head.sigmas, model.head.rhos
        self._params = slice(model.head.size)  # the mixture parameters; then the sampler's tilted logits
        self.reset()

    def _compile(self) -> Kernels:
        return compile_kernels(self.model)

    @property
    def state(self) -> EngineState:
        """The live state (its arrays are the engine's own buffers: copy to keep)."""
        return EngineState(self._signals, self._cells, self._context, self._head_out if self._fed else None)

    def reset(self) -> None:
        """Forget everything fed so far."""
        self._signals[:] = 0.0
        self._signals[0] = self._signals[-1] = 1.0
        self._write_input(self._style, at=1 + self.encoding.input_dim)
        self._blocks[:] = 0.0
        self._context: tuple | None = None
        self._fed = False  # pragma: no mutate (truth-value)

    def snapshot(self) -> EngineState:
        return self.state.copy()

    def restore(self, state: EngineState) -> None:
        np.copyto(self._signals, state.signals)
        np.copyto(self._cells, state.cells)
        self._context = state.context
        self._fed = state.head is not None
        if self._fed:
            np.copyto(self._head_out, state.head)

    def feed(self, x: float, y: float, dt: float) -> None:
        """Observe one touch: position in [0, 1], dt seconds since the previous touch. Values are clipped
        to the valid range as in training; NaN or infinite values raise ValueError, the state unchanged."""
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(dt)):
            raise ValueError(f"touch ({x}, {y}, {dt}) is not finite")
        self._step(min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0), min(max(dt, 0.0), MAX_DT))

    def _step(self, x: float, y: float, dt: float) -> None:
        """Feed a touch already known to be clean (as ``draw`` returns them)."""
        prev = self._context
        self._write_input(self.encoding.step_input(prev, x, y, dt))
        for step in self._steps:
            step()
        self._predict()
        self._context = self.encoding.context(prev, x, y)

    def set_style(self, values) -> None:
        """The style input for every touch fed from now, in a model with one: ``model.style.vector(call)``
        while robojam plays, None (the average style, zeros) while it listens."""
        values = [0.0] * len(self._style) if values is None else [float(v) for v in values]
        if len(values) != len(self._style) or not all(map(math.isfinite, values)):
            raise ValueError(f"a style is {len(self._style)} finite numbers for this model")
        self._style = values
        self._write_input(values, at=1 + self.encoding.input_dim)

    def _write_input(self, values, at: int = 1) -> None:
        items = self._signal_items
        for position, value in enumerate(values, at):
            items[position] = value

    def _predict(self) -> None:
        np.dot(self._head_reads, self._kernels.head, self._head_out)
        self._fed = True

    def condition(self, call: np.ndarray) -> None:
        """Feed every touch of a call (rows ``x, y, dt``), as ``feed`` would one by one.

        Faster than feeding: layer i handles touch t while layer i + 1 handles
        touch t - 1 (a wavefront), so all layers step in one set of numpy calls
        on a block of their own; cell states move there and back around it.
        """
        rows = np.asarray(call).reshape(-1, 3)  # pragma: no mutate (reshape-neg)
        touches = clean(rows)
        if len(touches) != len(rows):
            raise ValueError("call holds NaN or infinite values")
        if not len(touches):
            return
        inputs = self.encoding.inputs_after(self._context, touches)
        layers, count = len(self._steps), len(touches)
        for tick in range(count + layers - 1):  # pragma: no mutate (no-layer-left)
            if tick < count:
                self._write_input(inputs[tick])
            if layers - 1 <= tick < count:
                if tick == layers - 1:
                    np.copyto(self._wave_cells, self._cells)
                self._wavefront()
                if tick == count - 1:
                    np.copyto(self._cells, self._wave_cells)
            else:  # the wavefront filling or draining: upper layers first, they read the lower ones' last output
                for i in reversed(range(max(0, tick - count + 1), min(layers, tick + 1))):
                    self._steps[i]()
        self._predict()
        x, y = float(touches[-1, 0]), float(touches[-1, 1])
        # A context needs at most the last two touches: the one before them adds nothing.
        prev = self._context if count == 1 else self.encoding.context(None, *touches[-2, :2].tolist())
        self._context = self.encoding.context(prev, x, y)

    def mixture_params(self) -> np.ndarray:
        """The mixture parameters for the next touch (``Head``'s layout, activated, float64)."""
        self._require_fed()
        params = self._head_out[self._params].astype(np.float64)  # pragma: no mutate (float64-default)
        sig = params[self._sigmas]
        elu = np.where(sig > 0, sig, np.expm1(np.minimum(sig, 0.0)))  # pragma: no mutate (zero-both, expm1-cap)
        params[self._sigmas] = elu + 1.0 + SIGMA_EPSILON
        params[self._rhos] = RHO_LIMIT * np.tanh(params[self._rhos])
        return params

    def _require_fed(self) -> None:
        if not self._fed:
            raise RobojamError("the engine has not been fed a touch yet: feed one before drawing")
