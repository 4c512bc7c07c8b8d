"""Mixture-of-Gaussians maths for the MDN head, in numpy.

The parameter vector is laid out as keras-mdn-layer's ``MDN`` writes it:
``K * D`` means (component-major), ``K * D`` standard deviations, then
``K`` mixture-weight logits. The density is Bishop's (1994, eq. 22)
``p(y) = sum_k pi_k N(y | mu_k, diag(sigma_k^2))`` with ``pi = softmax(logits)``.
"""

from __future__ import annotations

import math

import numpy as np

LOG_2PI = math.log(2 * math.pi)
# keras.backend.epsilon(), added by keras-mdn-layer to every standard deviation.
SIGMA_EPSILON = 1e-7
NOISE_BLOCK = 128  # pragma: no mutate (speed-only)


def elu_plus_one(v: float) -> float:
    """keras-mdn-layer's activation of a standard deviation: ELU(v) + 1 + epsilon."""
    return (v if v > 0 else math.expm1(v)) + 1.0 + SIGMA_EPSILON  # pragma: no mutate (zero-both)


def split(params: np.ndarray, dim: int, mixtures: int):
    """Means (..., K, D), standard deviations (..., K, D) and logits (..., K)."""
    params = np.asarray(params)
    lead = params.shape[:-1]
    kd = mixtures * dim
    mus = params[..., :kd].reshape(*lead, mixtures, dim)
    sigmas = params[..., kd:2 * kd].reshape(*lead, mixtures, dim)
    return mus, sigmas, params[..., 2 * kd:]


def log_prob(y: np.ndarray, params: np.ndarray, dim: int, mixtures: int) -> np.ndarray:
    """log p(y) for each row of ``y`` (N, D) under the matching row of ``params``."""
    mus, sigmas, logits = split(params, dim, mixtures)
    z = (np.asarray(y)[..., None, :] - mus) / sigmas
    log_components = -0.5 * dim * LOG_2PI - np.log(sigmas).sum(-1) - 0.5 * (z ** 2).sum(-1)
    return _logsumexp(_log_softmax(logits) + log_components)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(-1)
    return top + np.log(np.exp(a - top[..., None]).sum(-1))


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
    """

    def __init__(self, params: np.ndarray, dim: int, mixtures: int, sigma_of=float, spreads=None, logits=None):
        self.dim, self._kd, self._sigma_of = dim, mixtures * dim, sigma_of
        self._items = memoryview(params)
        self._logits = params[2 * mixtures * dim:2 * mixtures * dim + mixtures] if logits is None else logits
        self._scores = np.zeros(mixtures, np.float32)  # pragma: no mutate (float-width)
        self._spreads = list(spreads) if spreads is not None else [1.0] * dim
        self._gaps = params[dim - 1:mixtures * dim:dim]
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
        return [items[mu + d] + sigma_of(items[sigma + d]) * spreads[d] * root * normals[d] for d in range(self.dim)]


def sample(params, dim: int, mixtures: int, rng: np.random.Generator | Noise, temp: float = 1.0,
           sigma_temp: float = 1.0, sigma_of=float) -> list[float]:
    """One draw from the mixture given its parameters, as ``Sampler.draw``.

    ``sigma_of`` maps a stored standard-deviation entry to the value used,
    so a caller can keep a head's raw outputs and activate only the chosen
    component. ``rng`` is a Generator or, for many draws, a ``Noise`` over one.
    """
    noise = rng if isinstance(rng, Noise) else Noise(rng, mixtures, dim, block=1)
    params = np.array(params, np.float32)  # pragma: no mutate (float-width)
    return Sampler(params, dim, mixtures, sigma_of).draw(noise, temp, sigma_temp)
