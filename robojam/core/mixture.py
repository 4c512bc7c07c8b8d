"""The MDN head: its output's layout, its density and its draw, in numpy.

A head's output is laid out as keras-mdn-layer's ``MDN`` writes it:
``K * D`` means (component-major), ``K * D`` standard deviations, then
``K`` mixture-weight logits. The density is Bishop's (1994, eq. 22)
``p(y) = sum_k pi_k N(y | mu_k, diag(sigma_k^2))`` with ``pi = softmax(logits)``.
A *correlated* head (Graves 2013) also has ``K`` correlations, between the
standard deviations and the logits: each component's first two dimensions
(the movement) are a bivariate Gaussian with correlation ``rho_k``, so a
component can lie slantwise across its axes.
``Head`` is the one place that knows this: the engine, its kernels, the
model file, the sampler and the Keras loss (:mod:`robojam.train.network`, which
evaluates the same ``Head.log_prob`` with ``keras.ops``) all ask it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOG_2PI = math.log(2 * math.pi)
# keras.backend.epsilon(), added by keras-mdn-layer to every standard deviation.
SIGMA_EPSILON = 1e-7
NOISE_BLOCK = 128  # pragma: no mutate (speed-only)
MDN_PARTS = ("mus", "sigmas", "pi")  # keras-mdn-layer's dense parts (weights mdn_<part>_...), in the output's order
CORRELATED_PARTS = ("mus", "sigmas", "rhos", "pi")  # a correlated head's (robojam.train.network.CorrelatedMDN)
# A correlation is RHO_LIMIT * tanh(its raw output): a component never collapses onto a line.
RHO_LIMIT = 0.95


def elu_plus_one(v: float) -> float:
    """keras-mdn-layer's activation of a standard deviation: ELU(v) + 1 + epsilon."""
    return (v if v > 0 else math.expm1(v)) + 1.0 + SIGMA_EPSILON  # pragma: no mutate (zero-both)


def limited_tanh(v: float) -> float:
    """A correlated head's activation of a correlation: RHO_LIMIT * tanh(v)."""
    return RHO_LIMIT * math.tanh(v)


@dataclass(frozen=True)
class Head:
    """A mixture head of ``mixtures`` Gaussians over ``dim`` numbers, diagonal or (``correlated``) with a
    correlation between the first two: where each part of its output sits, and its density."""

    dim: int
    mixtures: int
    correlated: bool = False

    @property
    def means(self) -> slice:
        return slice(0, self.mixtures * self.dim)

    @property
    def sigmas(self) -> slice:
        return slice(self.mixtures * self.dim, 2 * self.mixtures * self.dim)

    @property
    def rhos(self) -> slice:
        """Each component's correlation (empty in a diagonal head)."""
        start = 2 * self.mixtures * self.dim
        return slice(start, start + (self.mixtures if self.correlated else 0))

    @property
    def logits(self) -> slice:
        return slice(self.rhos.stop, self.size)

    @property
    def gap_means(self) -> slice:
        """Each component's mean in the last dimension (the gap, in every encoding)."""
        return slice(self.dim - 1, self.mixtures * self.dim, self.dim)

    @property
    def size(self) -> int:
        return (2 * self.dim + 1 + self.correlated) * self.mixtures

    @property
    def parts(self) -> tuple[str, ...]:
        """The dense parts' names (weights ``mdn_<part>_kernel`` and ``_bias``), in the output's order."""
        return CORRELATED_PARTS if self.correlated else MDN_PARTS

    @property
    def part_sizes(self) -> dict[str, int]:
        """Each dense part's width, in the output's order."""
        widths = {"mus": self.mixtures * self.dim, "sigmas": self.mixtures * self.dim, "rhos": self.mixtures,
                  "pi": self.mixtures}
        return {part: widths[part] for part in self.parts}

    def log_prob(self, y, params, xp=np, dtype=np.float64):
        """log p(y) for each row of ``y`` (..., D) under the matching row of ``params`` (..., size).

        Written with array functions numpy and ``keras.ops`` share (``xp``), so that training's loss is
        this density: components are summed over their dimensions by a product with a 0/1 matrix, which
        needs no reshape of the (symbolic) leading axes. ``dtype`` is the arrays' float type.
        """
        tile, per_component = self._summing_matrices(dtype)  # pragma: no mutate (keras-twin)
        means, sigmas, logits = params[..., self.means], params[..., self.sigmas], params[..., self.logits]
        z = (xp.matmul(y, tile) - means) / sigmas
        log_components = (-0.5 * self.dim * LOG_2PI - xp.matmul(xp.log(sigmas), per_component)
                          - 0.5 * xp.matmul(xp.square(z), per_component))
        if self.correlated:
            log_components = log_components + self._correlation_term(z, params[..., self.rhos], xp, dtype)
        return _logsumexp(_log_softmax(logits, xp) + log_components, xp)  # pragma: no mutate (keras-twin)

    def _correlation_term(self, z, rhos, xp, dtype):
        """What a correlation adds to a component's log density over the diagonal one's, from the first
        two dimensions' standardised residuals z0, z1: the bivariate normal's
        -log(1 - rho^2) / 2 - (rho^2 (z0^2 + z1^2) - 2 rho z0 z1) / (2 (1 - rho^2))."""
        first, second = (np.eye(self.dim * self.mixtures, dtype=dtype)[:, d::self.dim] for d in (0, 1))
        z0, z1 = xp.matmul(z, first), xp.matmul(z, second)
        free = 1.0 - xp.square(rhos)
        return -0.5 * xp.log(free) - 0.5 * (xp.square(rhos) * (xp.square(z0) + xp.square(z1))
                                             - 2.0 * rhos * z0 * z1) / free

    def _summing_matrices(self, dtype):
        """(D, K D): y copied for every component; (K D, K): a component's dimensions summed."""
        # pragma: no mutate start (keras-twin)
        eye = np.eye(self.dim, dtype=dtype)
        per_component = np.repeat(np.eye(self.mixtures, dtype=dtype), self.dim, axis=0)
        # pragma: no mutate end
        return np.tile(eye, self.mixtures), per_component


def log_prob(y: np.ndarray, params: np.ndarray, dim: int, mixtures: int) -> np.ndarray:
    """log p(y) for each row of ``y`` (N, D) under the matching row of ``params``."""
    return Head(dim, mixtures).log_prob(np.asarray(y), np.asarray(params))


def _log_softmax(logits, xp=np):
    return logits - _logsumexp(logits, xp)[..., None]  # pragma: no mutate (keras-twin)


def _logsumexp(a, xp=np):
    top = xp.max(a, axis=-1, keepdims=True)
    return top[..., 0] + xp.log(xp.sum(xp.exp(a - top), axis=-1))


class Noise:
    """A Generator's random numbers for sampling, fetched a block at a time.

    Each draw takes ``mixtures`` standard Gumbel numbers (to pick a
    component) and ``dim`` standard normals. A Generator call costs about a
    microsecond whatever its size, more than the rest of a draw, so numbers
    come in blocks; the same seed still gives the same draws.
    """

    def __init__(self, rng: np.random.Generator, mixtures: int, dim: int, block: int = NOISE_BLOCK):
        self.rng, self.mixtures, self.dim, self.block = rng, mixtures, dim, block
        self._next = block
        self._chances: list[float] = []  # pragma: no mutate (truth-value)

    def take(self, temp: float = 1.0) -> tuple[np.ndarray, list[float]]:
        """The next draw's Gumbel numbers times ``temp`` (float32) and its normals."""
        if self._next == self.block:
            self._gumbels = self.rng.gumbel(size=(self.block, self.mixtures)).astype(np.float32)
            self._scaled = self._gumbels.copy()
            self._scaled_rows, self._scale = list(self._scaled), 1.0  # row views: rescaling shows through
            self._normals = self.rng.standard_normal((self.block, self.dim)).tolist()
            self._next = 0
        if temp != self._scale:
            np.multiply(self._gumbels[self._next:], np.float32(temp), self._scaled[self._next:])
            self._scale = temp  # pragma: no mutate (speed-only)
        self._next += 1
        return self._scaled_rows[self._next - 1], self._normals[self._next - 1]

    def chance(self) -> float:
        """A uniform number in [0, 1), from a block of its own, fetched only when one is asked
        for: draws that never ask take the same numbers as without."""
        if not self._chances:
            self._chances = self.rng.random(self.block).tolist()
        return self._chances.pop()


class Sampler:
    """Draws from the mixture whose parameters sit in a float32 buffer (an engine's head output).

    The component is the argmax of the logits plus ``temp`` times Gumbel
    noise, which picks k with probability softmax(logits / temp)_k and
    cannot go out of range; then only the chosen component's mean and
    standard deviation are read. That is two numpy calls and a few Python
    numbers a draw: this runs once per generated touch. ``spreads`` are
    per-dimension factors on the standard deviations (a model's own
    temperatures, :mod:`robojam.core.temperatures`); 1 when not given.
    ``logits`` (a float32 buffer) are the weight logits to choose by, when
    not those in ``params`` (the engine's, tilted towards longer gaps).
    ``tilt`` tilts them further by each component's mean in the last dimension
    (the gap): the same choice as a model whose gap tilt is that much more,
    since both are linear in the head's inputs (a player's density knob).
    A ``correlated`` head's chosen component draws its first two numbers with
    its correlation, ``rho_of`` mapping the stored entry to it (as ``sigma_of``).
    """

    def __init__(self, params: np.ndarray, dim: int, mixtures: int, sigma_of=float, spreads=None, logits=None,
                 correlated: bool = False, rho_of=float):
        head = Head(dim, mixtures, correlated)
        self.dim, self._kd, self._sigma_of, self._rho_of = dim, head.sigmas.start, sigma_of, rho_of
        self._rhos = head.rhos.start if correlated else None  # where the correlations sit
        self._items = memoryview(params)
        self._logits = params[head.logits] if logits is None else logits
        self._scores = np.zeros(mixtures, np.float32)  # pragma: no mutate (float-width)
        self._spreads = list(spreads) if spreads is not None else [1.0] * dim
        self._gaps = params[head.gap_means]
        self.tilt = 0.0

    def draw(self, noise: Noise, temp: float = 1.0, sigma_temp: float = 1.0) -> list[float]:
        """One draw with RoboJam's two temperatures: ``temp`` divides the weight logits,
        ``sigma_temp`` scales each component's covariance (its standard deviations by its root),
        on top of the per-dimension ``spreads`` factors the sampler was made with."""
        gumbels, normals = noise.take(temp)
        np.add(self._logits, gumbels, self._scores)
        if self.tilt:
            self._scores += np.float32(self.tilt) * self._gaps
        k = int(self._scores.argmax())
        items, sigma_of, spreads, root = self._items, self._sigma_of, self._spreads, math.sqrt(sigma_temp)
        mu, sigma = k * self.dim, self._kd + k * self.dim
        if self._rhos is not None:
            normals = _correlated(normals, self._rho_of(items[self._rhos + k]))
        return [items[mu + d] + sigma_of(items[sigma + d]) * spreads[d] * root * normals[d] for d in range(self.dim)]


def _correlated(normals: list[float], rho: float) -> list[float]:
    """Standard normals with the second made to correlate ``rho`` with the first (the rest as they are)."""
    return [normals[0], rho * normals[0] + math.sqrt(1.0 - rho * rho) * normals[1], *normals[2:]]


def sample(params, dim: int, mixtures: int, rng: np.random.Generator | Noise, temp: float = 1.0,
           sigma_temp: float = 1.0, sigma_of=float, correlated: bool = False) -> list[float]:
    """One draw from the mixture given its parameters, as ``Sampler.draw``.

    ``sigma_of`` maps a stored standard-deviation entry to the value used,
    so a caller can keep a head's raw outputs and activate only the chosen
    component. ``rng`` is a Generator or, for many draws, a ``Noise`` over one.
    """
    noise = rng if isinstance(rng, Noise) else Noise(rng, mixtures, dim, block=1)
    params = np.array(params, np.float32)  # pragma: no mutate (float-width)
    return Sampler(params, dim, mixtures, sigma_of, correlated=correlated).draw(noise, temp, sigma_temp)
