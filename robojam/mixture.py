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


def mixture_weights(logits, temp: float) -> list[float]:
    """softmax(logits / temp): lower temperature favours the likeliest component."""
    exps = _unnormalised_weights(logits, temp)
    total = sum(exps)
    return [e / total for e in exps]


def _unnormalised_weights(logits, temp: float) -> list[float]:
    top = max(logits)
    return [math.exp((v - top) / temp) for v in logits]


def sample(params, dim: int, mixtures: int, rng: np.random.Generator, temp: float = 1.0,
           sigma_temp: float = 1.0, sigma_of=float) -> list[float]:
    """One draw from the mixture, with RoboJam's two temperatures.

    ``temp`` divides the weight logits; ``sigma_temp`` scales each component's
    covariance (so its standard deviations by ``sqrt(sigma_temp)``).
    ``sigma_of`` maps a stored standard-deviation entry to the value used,
    so a caller can keep the head's raw outputs and activate only the
    chosen component. Plain Python on a handful of numbers: this runs once
    per generated touch and numpy's per-call overhead would dominate.
    """
    values = params.tolist() if hasattr(params, "tolist") else list(params)
    kd = mixtures * dim
    weights = _unnormalised_weights(values[2 * kd:], temp)
    k = _pick(weights, rng.random() * sum(weights))
    noise = rng.standard_normal(dim).tolist()
    spread = math.sqrt(sigma_temp)
    mu, sigma = k * dim, kd + k * dim
    return [values[mu + d] + sigma_of(values[sigma + d]) * spread * noise[d] for d in range(dim)]


def _pick(weights: list[float], u: float) -> int:
    """The component whose cumulative weight first passes ``u`` (drawn in [0, sum of weights));
    never out of range, even when rounding leaves the running sum a hair under ``u``."""
    running = 0.0
    for k, w in enumerate(weights):
        running += w
        if u < running:
            return k
    return len(weights) - 1
