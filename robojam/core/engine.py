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
from robojam.core.corpus import MAX_DT, clean
from robojam.core.encoding import within
from robojam.core.mixture import Noise, Sampler
from robojam.core.modelfile import MDN_PARTS, Model
from robojam.core.performance import STROKE_GAP_S, STROKE_JUMP, starts_stroke, stroke_leaps

# keras.backend.epsilon(), added by keras-mdn-layer to every standard deviation.
SIGMA_EPSILON = 1e-7
# A response stops after this many touches a second even if the model plays faster.
MAX_TOUCHES_PER_SECOND = 200
# Draws for one touch before a position off the screen is clipped onto its edge (see draw).
DRAWS_PER_TOUCH = 16
# A new stroke echoes the call's leaps only when the call has this many to pick from (see hear_call).
MIN_LEAPS = 2
# At most this many of the call's leaps are kept (its last): a new stroke looks through them all.
MAX_LEAPS = 64
# The rows of a layer's working block: its cell state, then its gates.
CELL, GATE_G, GATE_F, GATE_I, GATE_O = range(5)


@dataclass
class EngineState:
    """Everything the next prediction depends on; copy it to branch.

    ``signals`` is the engine's signal vector (float32, see ``Engine``),
    ``cells`` the LSTM cell states (layers, units), ``context`` what the
    encoding needs of the touches fed so far (None before any), ``head`` the MDN head's
    raw output for the next touch (standard deviations not yet activated),
    None until a touch is fed.
    """

    signals: np.ndarray
    cells: np.ndarray
    context: tuple | None
    head: np.ndarray | None

    def copy(self) -> "EngineState":
        return EngineState(self.signals.copy(), self.cells.copy(), self.context,
                           None if self.head is None else self.head.copy())


def elu_plus_one(v: float) -> float:
    """keras-mdn-layer's activation of a standard deviation: ELU(v) + 1 + epsilon."""
    return (v if v > 0 else math.expm1(v)) + 1.0 + SIGMA_EPSILON  # pragma: no mutate (v >= 0: at 0 both branches give 0)


@dataclass
class _Kernels:
    """An engine's weight matrices, laid out for stepping; shared by spawned engines."""

    layers: list[np.ndarray]
    wavefront: np.ndarray
    head: np.ndarray


def _layer_step(reads: np.ndarray, kernel: np.ndarray, block: np.ndarray, twice_h: np.ndarray):
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
    gates_shaped = pre_activations.reshape(4, -1)  # pragma: no mutate (numpy reads reshape(4, -2) as reshape(4, -1))
    gates, sigmoids = block[GATE_G:], block[GATE_F:]
    carried, multipliers = block[CELL:GATE_F], block[GATE_F:GATE_O]
    cells, candidates, out_gate = block[CELL], block[GATE_G], block[GATE_O]
    # pragma: no mutate start (float64 ones and halves give the same float32 results, more slowly: 1 + t and c / 2 round once either way)
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


class Engine:
    """A model's network with explicit state, stepping one touch at a time.

    Works in float32 like Keras, on one signal vector ``[1, input, 2 h_0,
    ..., 2 h_{L-1}, 1]``: every layer reads a prefix of it through a kernel
    with zero rows where it takes nothing, the leading 1 carrying the bias,
    and the MDN head reads the top layer and the trailing 1. So no vector is
    copied between layers and a step works on buffers allocated once.
    """

    def __init__(self, model: Model, kernels: "_Kernels | None" = None):
        self.model = model
        self.encoding = model.encoding
        self.units = model.units
        self.mixtures = model.mixtures
        self.dim = model.output_dim
        u, n_in, layers = model.units, model.input_dim, model.layers
        self._style = [0.0] * (n_in - model.encoding.input_dim)  # the average style until set_style
        self._h_start = [1 + n_in + i * u for i in range(layers)]
        self._signals = np.zeros(1 + n_in + layers * u + 1, np.float32)
        self._signal_items = memoryview(self._signals)  # item writes cost far less than numpy's
        self._kernels = kernels if kernels is not None else self._compile(model.weights)
        self._blocks = np.zeros((layers, 5, u), np.float32)
        self._cells = self._blocks[:, CELL]
        self._steps = [
            _layer_step(self._signals[:k.shape[0]], k, self._blocks[i], self._signals[h:h + u])
            for i, (k, h) in enumerate(zip(self._kernels.layers, self._h_start))
        ]
        self._wave_block = np.zeros((5, layers * u), np.float32)
        self._wavefront = _layer_step(self._signals, self._kernels.wavefront, self._wave_block,
                                      self._signals[1 + n_in:-1])
        self._wave_cells = self._wave_block[CELL].reshape(layers, u)
        self._head_reads = self._signals[self._h_start[-1]:]
        self._head_out = np.zeros(self._kernels.head.shape[1], np.float32)
        kd = self.mixtures * self.dim
        self._sigmas = slice(kd, 2 * kd)
        self._params = slice(2 * kd + self.mixtures)  # the mixture parameters; then the sampler's tilted logits
        self._sampler = Sampler(self._head_out, self.dim, self.mixtures, elu_plus_one,
                                model.temperatures.spreads(self.dim), self._head_out[self._params.stop:])
        self._rim, self._rim_keep = model.temperatures.avoided_rim, model.temperatures.rim_keep
        self._echo = model.temperatures.echo
        self._leaps: list[list[float]] = []  # the call's leaps to a new stroke (after a pause or not)
        # Those long enough to start a stroke without a pause.
        self._far_leaps: list[list[float]] = []  # pragma: no mutate (hear_call sets it before any leap is read)
        self._noise: Noise | None = None
        self.reset()

    def spawn(self) -> "Engine":
        """A new engine with its own fresh state, sharing this one's (read-only) kernels."""
        return Engine(self.model, self._kernels)

    def _compile(self, w: dict) -> "_Kernels":
        layers = [self._layer_kernel(w, i) for i in range(self.model.layers)]
        return _Kernels(layers, self._wavefront_kernel(layers), self._head_kernel(w))

    def _layer_kernel(self, w: dict, i: int) -> np.ndarray:
        """Rows for the signals up to 2 h_i, gate columns g, f, i, o (Keras stores i, f, g, o)."""
        u, h_start = self.units, self._h_start[i]
        kernel = np.zeros((h_start + u, 4 * u))
        kernel[0] = w[f"lstm{i}_bias"]
        if i == 0:
            n_in = self.model.input_dim
            kernel[1:1 + n_in] = w["lstm0_kernel"]
        else:
            below = self._h_start[i - 1]
            kernel[below:below + u] = w[f"lstm{i}_kernel"] / 2
        kernel[h_start:h_start + u] = w[f"lstm{i}_recurrent_kernel"] / 2
        gate_i, gate_f, gate_g, gate_o = (kernel[:, k * u:(k + 1) * u] for k in range(4))
        return np.hstack([gate_g, gate_f / 2, gate_i / 2, gate_o / 2]).astype(np.float32)

    def _wavefront_kernel(self, kernels: list[np.ndarray]) -> np.ndarray:
        """All layers' kernels side by side, columns grouped by gate then layer."""
        u, layers = self.units, len(kernels)
        fused = np.zeros((self._signals.size, 4 * u * layers), np.float32)
        for i, kernel in enumerate(kernels):
            for gate in range(4):  # pragma: no mutate (a fifth gate's columns lie past both kernels' ends: empty slices)
                column = (gate * layers + i) * u
                fused[:kernel.shape[0], column:column + u] = kernel[:, gate * u:(gate + 1) * u]
        return fused

    def _head_kernel(self, w: dict) -> np.ndarray:
        """Rows for the top layer's 2 h and the trailing 1 (the bias). Columns: the mixture parameters,
        then the weight logits the sampler reads, tilted by the model's ``gap_tilt`` times each
        component's mean gap (both are linear in the top layer, so the tilt costs no step any time)."""
        kernel = np.hstack([w[f"mdn_{p}_kernel"] for p in MDN_PARTS]) / 2
        bias = np.hstack([w[f"mdn_{p}_bias"] for p in MDN_PARTS])
        head = np.vstack([kernel, bias])
        kd, dim = self.mixtures * self.dim, self.dim
        gaps = head[:, dim - 1:kd:dim]  # each component's mean in the last target dimension, the gap
        tilted = head[:, 2 * kd:] + self.model.temperatures.gap_tilt * gaps  # the weight logits, tilted
        return np.hstack([head, tilted]).astype(np.float32)

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
        self._fed = False  # pragma: no mutate (read only as a truth value: None would do as well)

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
        """Observe one touch: position in [0, 1], dt seconds since the previous touch.

        Values are cleaned as in training (clipped to the valid range); NaN or
        infinite values raise ValueError and leave the state unchanged.
        """
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

    def hear_call(self, call) -> None:
        """Take the leaps of a call (rows ``x, y, dt``) for new strokes to echo, in a model with an echo
        (its temperatures); until the next call. Rows that are not finite are left out."""
        leaps = stroke_leaps(clean(np.asarray(call, dtype=np.float64).reshape(-1, 3)))  # pragma: no mutate (numpy reads reshape(-2, 3) as reshape(-1, 3))
        leaps = leaps[-MAX_LEAPS:]
        far = np.hypot(leaps[:, 0], leaps[:, 1]) > STROKE_JUMP
        self._leaps, self._far_leaps = leaps.tolist(), leaps[far].tolist()

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
        rows = np.asarray(call).reshape(-1, 3)  # pragma: no mutate (numpy reads reshape(-2, 3) as reshape(-1, 3))
        touches = clean(rows)
        if len(touches) != len(rows):
            raise ValueError("call holds NaN or infinite values")
        if not len(touches):
            return
        inputs = self._inputs_after(self._context, touches)
        layers, count = len(self._steps), len(touches)
        for tick in range(count + layers - 1):  # pragma: no mutate (ticks past the last find no layer left to drain)
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

    def _inputs_after(self, context: tuple | None, touches: np.ndarray) -> list[list[float]]:
        """The network inputs of ``touches`` fed after ``context`` (None: from the start)."""
        if context is None:
            return self.encoding.inputs(touches).tolist()
        inputs = []
        for x, y, dt in touches.tolist():
            inputs.append(self.encoding.step_input(context, x, y, dt))
            context = self.encoding.context(context, x, y)
        return inputs

    def mixture_params(self) -> np.ndarray:
        """The mixture parameters for the next touch (keras-mdn-layer layout, float64)."""
        self._require_fed()
        params = self._head_out[self._params].astype(np.float64)  # pragma: no mutate (astype(None) is float64 too)
        sig = params[self._sigmas]
        params[self._sigmas] = np.where(sig > 0, sig, np.expm1(np.minimum(sig, 0.0))) + 1.0 + SIGMA_EPSILON  # pragma: no mutate (sig >= 0: at 0 both give 0; any cap >= 0 keeps expm1 finite where sig > 0 wins)
        return params

    def draw(self, rng: np.random.Generator, temp: float = 1.0, sigma_temp: float = 1.0) -> tuple[float, float, float]:
        """Sample the next touch ``(x, y, dt)`` without feeding it.

        Random numbers are taken from ``rng`` a block at a time, so the same
        seed gives the same touches but the Generator runs ahead of them.
        """
        self._require_fed()
        target = self._on_screen_target(self._noise_from(rng), temp, sigma_temp)
        return self.encoding.decode(self._context, target)

    def _on_screen_target(self, noise: Noise, temp: float, sigma_temp: float) -> list[float]:
        """A draw from the mixture truncated to the screen: off-screen positions are drawn again.

        Clipping them instead piles touches up along the screen's edges, where
        people rarely play. From outside the model's rim, a position on it is
        kept only by chance (its rim_keep), else drawn again too. After
        DRAWS_PER_TOUCH misses the last is clipped. In a model with an echo,
        a draw that would start a new stroke may leap as the call did instead
        (``_echoed``).
        """
        draw, on_screen, prev, keep = self._sampler.draw, self.encoding.on_screen, self._context, self._rim_keep
        rim = self._rim if self._rim and within(prev[0], prev[1], self._rim) else 0.0
        echo = self._echo and len(self._leaps) >= MIN_LEAPS
        target = draw(noise, temp, sigma_temp)
        for _ in range(DRAWS_PER_TOUCH - 1):
            echoed = self._echoed(target, noise, rim) if echo else None
            if echoed is not None:
                return echoed
            if on_screen(prev, target, rim) or rim and on_screen(prev, target) and noise.chance() < keep:  # pragma: no mutate (<= keep: a chance equal to it has probability 0)
                break
            target = draw(noise, temp, sigma_temp)
        return target

    def _echoed(self, target: list[float], noise: Noise, rim: float) -> list[float] | None:
        """A draw that starts a new stroke, moved instead by one of the call's leaps (the model's echo),
        either way round, picked at random among those that land on the screen (off the rim): None when
        the draw continues a stroke, when the echo's chance says no, or no leap fits."""
        prev = self._context
        x, y, dt = self.encoding.decode(prev, target)
        if not starts_stroke(dt, math.hypot(x - prev[0], y - prev[1])) or noise.chance() >= self._echo:  # pragma: no mutate (> echo: a chance equal to it has probability 0)
            return None
        # Without a pause, only a leap over the jump starts a stroke.
        leaps = self._leaps if dt > STROKE_GAP_S else self._far_leaps  # pragma: no mutate (>=: a drawn dt of exactly STROKE_GAP_S has probability 0)
        if len(leaps) < MIN_LEAPS:
            return None
        px, py = prev[0], prev[1]
        fits = [(px + dx, py + dy) for leap_x, leap_y in leaps for dx, dy in ((leap_x, leap_y), (-leap_x, -leap_y))
                if within(px + dx, py + dy, rim)]
        if not fits:
            return None
        x, y = fits[int(noise.chance() * len(fits))]
        return self.encoding.moved_to(prev, x, y, target)

    def _noise_from(self, rng: np.random.Generator) -> Noise:
        if self._noise is None or self._noise.rng is not rng:
            self._noise = Noise(rng, self.mixtures, self.dim)
        return self._noise

    def generate(self, seconds: float, rng: np.random.Generator, temp: float = 1.0,
                 sigma_temp: float = 1.0) -> np.ndarray:
        """Draw and feed touches until ``seconds`` have been played; rows ``x, y, dt``."""
        self._require_fed()
        touches, elapsed = [], 0.0
        limit = max(1, int(seconds * MAX_TOUCHES_PER_SECOND))
        on_screen_target, decode, noise = self._on_screen_target, self.encoding.decode, self._noise_from(rng)
        while len(touches) < limit:  # draw's work, inlined: this loop is most of a response's time
            x, y, dt = decode(self._context, on_screen_target(noise, temp, sigma_temp))
            if elapsed + dt > seconds:
                break
            elapsed += dt
            touches.append((x, y, dt))
            self._step(x, y, dt)
        return np.array(touches).reshape(-1, 3)  # pragma: no mutate (numpy reads reshape(-2, 3) as reshape(-1, 3))

    def respond(self, call: np.ndarray, seconds: float = 5.0, rng: np.random.Generator | None = None,
                temp: float = 1.0, sigma_temp: float = 1.0) -> np.ndarray:
        """Reset, condition on a whole call and generate a response of at most ``seconds``.

        The response's first touch has dt 0 (it starts when the response starts).
        """
        check_temperatures(temp, sigma_temp)
        rng = rng if rng is not None else np.random.default_rng()
        call = np.asarray(call, dtype=np.float64).reshape(-1, 3)  # pragma: no mutate (clean and condition take any dtype to float64; numpy reads reshape(-2, 3) as reshape(-1, 3))
        self.set_style(None)
        self.reset()
        self.hear_call(call)
        self.condition(call if len(call) else np.array([[0.5, 0.5, 0.0]]))
        if self.model.style is not None:  # the call is heard plainly, the response played in its style
            self.set_style(self.model.style.vector(clean(call)))
        first = self.draw(rng, temp, sigma_temp)
        self.feed(first[0], first[1], first[2])
        rest = self.generate(seconds, rng, temp, sigma_temp)
        return np.vstack([[first[0], first[1], 0.0], rest])

    def _require_fed(self) -> None:
        if not self._fed:
            raise RobojamError("the engine has not been fed a touch yet: feed one before drawing")


def check_temperatures(temp: float, sigma_temp: float) -> None:
    for name, value in (("temp", temp), ("sigma_temp", sigma_temp)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise RobojamError(f"{name} must be a positive number, not {value!r}")
