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

    def __init__(self, rng: np.random.Generator, mixtures: int, dim: int, block: int = 128):
        self.rng, self.mixtures, self.dim, self.block = rng, mixtures, dim, block
        self._rows: list[list[float]] = []
        self._next = 0

    def take(self) -> list[float]:
        """``mixtures`` Gumbel numbers, then ``dim`` normals."""
        if self._next == len(self._rows):
            gumbels = self.rng.gumbel(size=(self.block, self.mixtures))
            self._rows = np.hstack([gumbels, self.rng.standard_normal((self.block, self.dim))]).tolist()
            self._next = 0
        self._next += 1
        return self._rows[self._next - 1]


def sample(params, dim: int, mixtures: int, rng: "np.random.Generator | Noise", temp: float = 1.0,
           sigma_temp: float = 1.0, sigma_of=float) -> list[float]:
    """One draw from the mixture, with RoboJam's two temperatures.

    ``temp`` divides the weight logits; ``sigma_temp`` scales each component's
    covariance (so its standard deviations by ``sqrt(sigma_temp)``). The
    component is the argmax of the tempered logits plus Gumbel noise, which
    picks k with probability softmax(logits / temp)_k and cannot go out of
    range. ``sigma_of`` maps a stored standard-deviation entry to the value
    used, so a caller can keep the head's raw outputs and activate only the
    chosen component. ``rng`` is a Generator or, for many draws, a ``Noise``
    over one. Plain Python on a handful of numbers: this runs once per
    generated touch and numpy's per-call overhead would dominate.
    """
    values = params.tolist() if hasattr(params, "tolist") else list(params)
    noise = rng if isinstance(rng, Noise) else Noise(rng, mixtures, dim, block=1)
    numbers = noise.take()
    kd, scale = mixtures * dim, 1.0 / temp
    scores = [v * scale + g for v, g in zip(values[2 * kd:], numbers)]
    k = scores.index(max(scores))
    spread = math.sqrt(sigma_temp)
    mu, sigma, normal = k * dim, kd + k * dim, mixtures
    return [values[mu + d] + sigma_of(values[sigma + d]) * spread * numbers[normal + d] for d in range(dim)]
