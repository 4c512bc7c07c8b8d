"""Low-latency stateful inference: the MDN-RNN as plain numpy.

The engine keeps the LSTM state explicitly, one touch at a time:
``feed`` an observed touch, ``draw`` the next one, ``snapshot`` and
``restore`` the whole state (so several responses can be sampled from one
call). It needs numpy alone and agrees with the Keras model it came from.

    >>> engine = Engine(load_model())
    >>> for x, y, dt in call:
    ...     engine.feed(x, y, dt)
    >>> x, y, dt = engine.draw(rng, temp=1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robojam import RobojamError
from robojam.corpus import MAX_DT
from robojam.mixture import sample
from robojam.modelfile import MDN_PARTS, Model

# keras.backend.epsilon(), added by keras-mdn-layer to every standard deviation.
SIGMA_EPSILON = 1e-7
# A response stops after this many touches a second even if the model plays faster.
MAX_TOUCHES_PER_SECOND = 200
HALF = np.float32(0.5)


@dataclass
class EngineState:
    """Everything the next prediction depends on; copy it to branch.

    ``signals`` is ``[1, input, h_0, ..., h_{L-1}]`` (float32), ``cells`` the
    LSTM cell states, ``head`` the MDN head's raw output for the next touch
    (standard deviations not yet activated), None until a touch is fed.
    """

    signals: np.ndarray
    cells: list[np.ndarray]
    last_xy: tuple[float, float] | None
    head: np.ndarray | None

    def copy(self) -> "EngineState":
        return EngineState(self.signals.copy(), [c.copy() for c in self.cells], self.last_xy,
                           None if self.head is None else self.head.copy())


def elu_plus_one(v: float) -> float:
    """keras-mdn-layer's activation of a standard deviation: ELU(v) + 1 + epsilon."""
    return (v if v > 0 else math.expm1(v)) + 1.0 + SIGMA_EPSILON


class Engine:
    """A model's network with explicit state, stepping one touch at a time.

    Works in float32 like Keras, on one signal vector ``[1, input, h_0, ...,
    h_{L-1}]``: every layer and the head read a prefix or all of it through a
    kernel with zero rows where they take nothing, the leading 1 carrying the
    bias, so no vector is ever copied between layers. Gates are reordered to
    i, f, o, g with the sigmoid gates' columns halved, because
    sigmoid(a) = (1 + tanh(a / 2)) / 2: one tanh covers all four gates.
    """

    def __init__(self, model: Model):
        self.model = model
        self.encoding = model.encoding
        self.units = model.units
        self.mixtures = model.mixtures
        self.dim = model.output_dim
        u, n_in, w = model.units, model.encoding.input_dim, model.weights
        self._h_start = [1 + n_in + i * u for i in range(model.layers)]
        self._width = 1 + n_in + model.layers * u
        self._kernels = [self._layer_kernel(w, i) for i in range(model.layers)]
        self._head = self._head_kernel(w)
        self._gates = np.zeros(4 * u, np.float32)
        self._product = np.zeros(u, np.float32)
        kd = self.mixtures * self.dim
        self._sigmas = slice(kd, 2 * kd)
        self.reset()

    def _layer_kernel(self, w: dict, i: int) -> np.ndarray:
        """Rows for [1, input, h_0 .. h_i] (a prefix of the signal vector), gates i, f, o, g."""
        u, h_start = self.units, self._h_start[i]
        kernel = np.zeros((h_start + u, 4 * u), np.float64)
        kernel[0] = w[f"lstm{i}_bias"]
        reads = slice(1, 1 + self.encoding.input_dim) if i == 0 else slice(h_start - u, h_start)
        kernel[reads] = w[f"lstm{i}_kernel"]
        kernel[h_start:h_start + u] = w[f"lstm{i}_recurrent_kernel"]
        gate_i, gate_f, gate_g, gate_o = (kernel[:, k * u:(k + 1) * u] for k in range(4))
        return np.hstack([gate_i / 2, gate_f / 2, gate_o / 2, gate_g]).astype(np.float32)

    def _head_kernel(self, w: dict) -> np.ndarray:
        """Rows for the whole signal vector; only the bias and the top layer's h are read."""
        kernel = np.hstack([w[f"mdn_{p}_kernel"] for p in MDN_PARTS])
        full = np.zeros((self._width, kernel.shape[1]), np.float32)
        full[0] = np.hstack([w[f"mdn_{p}_bias"] for p in MDN_PARTS])
        full[self._h_start[-1]:] = kernel
        return full

    def reset(self) -> None:
        """Forget everything fed so far."""
        signals = np.zeros(self._width, np.float32)
        signals[0] = 1.0
        cells = [np.zeros(self.units, np.float32) for _ in self._kernels]
        self.state = EngineState(signals, cells, None, None)

    def snapshot(self) -> EngineState:
        return self.state.copy()

    def restore(self, state: EngineState) -> None:
        self.state = state.copy()

    def feed(self, x: float, y: float, dt: float) -> None:
        """Observe one touch: position in [0, 1], dt seconds since the previous touch.

        Values are cleaned as in training (clipped to the valid range); NaN or
        infinite values raise ValueError and leave the state unchanged.
        """
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(dt)):
            raise ValueError(f"touch ({x}, {y}, {dt}) is not finite")
        x, y, dt = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0), min(max(dt, 0.0), MAX_DT)
        state, u, gates, product = self.state, self.units, self._gates, self._product
        signals = state.signals
        prev_x, prev_y = state.last_xy if state.last_xy is not None else (x, y)
        encoded = self.encoding.step_input(prev_x, prev_y, x, y, dt)
        signals[1:1 + len(encoded)] = encoded
        for kernel, h_start, c in zip(self._kernels, self._h_start, state.cells):
            np.dot(signals[:len(kernel)], kernel, out=gates)
            np.tanh(gates, out=gates)
            sigmoids = gates[:3 * u]
            np.multiply(sigmoids, HALF, out=sigmoids)
            np.add(sigmoids, HALF, out=sigmoids)
            c *= gates[u:2 * u]
            np.multiply(gates[:u], gates[3 * u:], out=product)
            c += product
            h = signals[h_start:h_start + u]
            np.tanh(c, out=h)
            h *= gates[2 * u:3 * u]
        state.head = signals @ self._head
        state.last_xy = (x, y)

    def mixture_params(self) -> np.ndarray:
        """The mixture parameters for the next touch (keras-mdn-layer layout, float64)."""
        self._require_fed()
        params = self.state.head.astype(np.float64)
        sig = params[self._sigmas]
        params[self._sigmas] = np.where(sig > 0, sig, np.expm1(np.minimum(sig, 0.0))) + 1.0 + SIGMA_EPSILON
        return params

    def draw(self, rng: np.random.Generator, temp: float = 1.0, sigma_temp: float = 1.0) -> tuple[float, float, float]:
        """Sample the next touch ``(x, y, dt)`` without feeding it."""
        self._require_fed()
        target = sample(self.state.head, self.dim, self.mixtures, rng, temp, sigma_temp, elu_plus_one)
        prev_x, prev_y = self.state.last_xy
        return self.encoding.decode(prev_x, prev_y, target)

    def generate(self, seconds: float, rng: np.random.Generator, temp: float = 1.0,
                 sigma_temp: float = 1.0) -> np.ndarray:
        """Draw and feed touches until ``seconds`` have been played; rows ``x, y, dt``."""
        touches, elapsed = [], 0.0
        limit = max(1, int(seconds * MAX_TOUCHES_PER_SECOND))
        while len(touches) < limit:
            x, y, dt = self.draw(rng, temp, sigma_temp)
            if elapsed + dt > seconds:
                break
            elapsed += dt
            touches.append((x, y, dt))
            self.feed(x, y, dt)
        return np.array(touches, dtype=np.float64).reshape(-1, 3)

    def condition(self, call: np.ndarray) -> None:
        """Feed every touch of a call (rows ``x, y, dt``)."""
        for x, y, dt in np.asarray(call, dtype=np.float64).reshape(-1, 3):
            self.feed(float(x), float(y), float(dt))

    def respond(self, call: np.ndarray, seconds: float = 5.0, rng: np.random.Generator | None = None,
                temp: float = 1.0, sigma_temp: float = 1.0) -> np.ndarray:
        """Reset, condition on a whole call and generate a response of at most ``seconds``.

        The response's first touch has dt 0 (it starts when the response starts).
        """
        check_temperatures(temp, sigma_temp)
        rng = rng if rng is not None else np.random.default_rng()
        self.reset()
        call = np.asarray(call, dtype=np.float64).reshape(-1, 3)
        self.condition(call if len(call) else np.array([[0.5, 0.5, 0.0]]))
        first = self.draw(rng, temp, sigma_temp)
        self.feed(first[0], first[1], first[2])
        rest = self.generate(seconds, rng, temp, sigma_temp)
        return np.vstack([[first[0], first[1], 0.0], rest])

    def _require_fed(self) -> None:
        if self.state.head is None:
            raise RobojamError("the engine has not been fed a touch yet: feed one before drawing")


def check_temperatures(temp: float, sigma_temp: float) -> None:
    for name, value in (("temp", temp), ("sigma_temp", sigma_temp)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise RobojamError(f"{name} must be a positive number, not {value!r}")
