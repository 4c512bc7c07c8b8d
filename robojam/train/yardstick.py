"""The yardstick: a small non-neural model of touch performances that any good model must beat.

A performance is an (n, 3) float array of ``x, y, dt``: position in [0, 1] and
seconds since the previous event (0 for the first). The yardstick predicts
event t+1 from events t and t-1 only, with position and dt independent given
the past::

    log p(x, y, dt) = log p_pos(x, y) + log p_dt(dt)

Position is a three-way mixture:

- *continue*: N(p[t] + (p[t] - p[t-1]), s1^2 I), carrying on at constant
  velocity (velocity 0 for the first prediction of a performance);
- *step*: N(p[t], s2^2 I), a small move from where the touch is;
- *jump*: uniform on the unit square, density 1.

dt is a mixture of log-normals, that is a Gaussian mixture on log dt, so its
density over dt carries the 1/dt Jacobian. Only transitions with dt > 0 are
fitted or scored for dt; events with dt <= 0 (simultaneous touches) get nan.

Both mixtures are fitted by EM over all transitions of all performances at
once, from a deterministic start, so fitting is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DT_COMPONENTS = 4
SIGMA_FLOOR = 1e-4
WEIGHT_FLOOR = 1e-6
# Starting point for position EM; continue and step are told apart by their
# means, so the start need not know which sigma is larger.
INITIAL_POSITION_WEIGHTS = (0.45, 0.45, 0.1)
INITIAL_POSITION_SIGMAS = (0.02, 0.05)
LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Transitions:
    """Every (event t -> event t+1) pair, concatenated across performances."""

    squared_errors: np.ndarray  # (2, m): |target - continue mean|^2, |target - step mean|^2
    dt: np.ndarray  # (m,): dt of the target event


class Yardstick:
    """Constant-velocity / small-step / jump positions with log-normal-mixture timing."""

    def __init__(
        self,
        position_weights: np.ndarray,
        position_sigmas: np.ndarray,
        dt_weights: np.ndarray,
        dt_means: np.ndarray,
        dt_sigmas: np.ndarray,
    ):
        self.position_weights = _as_vector(position_weights, "position_weights", 3)
        self.position_sigmas = _as_vector(position_sigmas, "position_sigmas", 2)
        self.dt_weights = _as_vector(dt_weights, "dt_weights")
        self.dt_means = _as_vector(dt_means, "dt_means", len(self.dt_weights))
        self.dt_sigmas = _as_vector(dt_sigmas, "dt_sigmas", len(self.dt_weights))
        _check_mixture(self.position_weights, self.position_sigmas, "position")
        _check_mixture(self.dt_weights, self.dt_sigmas, "dt")

    @classmethod
    def fit(cls, performances: list[np.ndarray], iterations: int = 100) -> Yardstick:
        """Fit both mixtures by EM on every transition in ``performances``."""
        transitions = _all_transitions(performances)
        if transitions.dt.size == 0:
            raise ValueError("Yardstick.fit needs at least one performance with two or more events")
        log_dt = np.log(transitions.dt[transitions.dt > 0])
        if len(log_dt) == 0:
            raise ValueError("Yardstick.fit needs at least one transition with dt > 0")
        position_weights, position_sigmas = _fit_position(transitions.squared_errors, iterations)
        dt_weights, dt_means, dt_sigmas = _fit_log_dt(log_dt, iterations)
        return cls(position_weights, position_sigmas, dt_weights, dt_means, dt_sigmas)

    def event_log_probs(self, performance: np.ndarray) -> np.ndarray:
        """log density (nats) of events 2..n given the ones before, in raw units; shape (n-1,).
        Entries with dt <= 0 are nan (not scored by callers)."""
        transitions = _transitions(_checked(performance))
        joint = _position_joint(transitions.squared_errors, self.position_weights, self.position_sigmas)
        return np.log(joint.sum(axis=0)) + self._dt_log_density(transitions.dt)

    def _dt_log_density(self, dt: np.ndarray) -> np.ndarray:
        positive = dt > 0
        log_dt = np.log(np.where(positive, dt, 1.0))
        log_joint = _gauss_log_joint(log_dt, self.dt_weights, self.dt_means, self.dt_sigmas)
        return np.where(positive, _logsumexp(log_joint) - log_dt, np.nan)

    def to_dict(self) -> dict:
        return {
            "position": {
                "weights": self.position_weights.tolist(),
                "sigmas": self.position_sigmas.tolist(),
            },
            "dt": {
                "weights": self.dt_weights.tolist(),
                "log_means": self.dt_means.tolist(),
                "log_sigmas": self.dt_sigmas.tolist(),
            },
        }

    @classmethod
    def from_dict(cls, d: dict) -> Yardstick:
        try:
            position, dt = d["position"], d["dt"]
            return cls(position["weights"], position["sigmas"], dt["weights"], dt["log_means"], dt["log_sigmas"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a yardstick dict: missing or malformed {e}") from None


# --- transitions -------------------------------------------------------------


def _checked(performance: np.ndarray) -> np.ndarray:
    array = np.asarray(performance, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"a performance must be an (n, 3) array of x, y, dt; got shape {array.shape}")
    return array


def _transitions(performance: np.ndarray) -> Transitions:
    if len(performance) < 2:
        return Transitions(np.zeros((2, 0)), np.zeros(0))
    position = performance[:, :2]
    current, target = position[:-1], position[1:]
    velocity = np.diff(current, axis=0, prepend=current[:1])  # first row 0: no earlier event
    squared_errors = np.stack([
        np.sum((target - current - velocity) ** 2, axis=1),
        np.sum((target - current) ** 2, axis=1),
    ])
    return Transitions(squared_errors, performance[1:, 2].copy())


def _all_transitions(performances: list[np.ndarray]) -> Transitions:
    parts = [_transitions(_checked(p)) for p in performances]
    if not parts:
        raise ValueError("Yardstick.fit needs at least one performance, got none")
    return Transitions(
        np.concatenate([t.squared_errors for t in parts], axis=1),
        np.concatenate([t.dt for t in parts]),
    )


# --- mixture maths -----------------------------------------------------------
# Arrays over components and transitions are (k, m): numpy reduces across a
# short leading axis far faster than across a short trailing one.


def _logsumexp(log_joint: np.ndarray) -> np.ndarray:
    """log sum over components (axis 0), stable when all entries are large negative."""
    top = np.max(log_joint, axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.sum(np.exp(log_joint - top), axis=0)) + top


def _responsibilities(log_joint: np.ndarray) -> np.ndarray:
    """Normalise (k, m) log joints over components; overwrites log_joint."""
    log_joint -= np.max(log_joint, axis=0)
    joint = np.exp(log_joint, out=log_joint)
    joint /= joint.sum(axis=0)
    return joint


def _position_joint(squared_errors: np.ndarray, weights: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """(3, m) weight * density of continue, step and jump.

    Safe without logs: the Gaussian exponents are <= 0 and their peaks at most
    1 / (2 pi SIGMA_FLOOR^2), and the jump term (a positive weight times
    density 1) keeps every column sum positive when both Gaussians underflow.
    """
    joint = np.empty((3, squared_errors.shape[1]))
    variances = sigmas**2
    np.multiply(squared_errors, (-0.5 / variances)[:, None], out=joint[:2])
    np.exp(joint[:2], out=joint[:2])
    joint[:2] *= (weights[:2] / (2 * np.pi * variances))[:, None]
    joint[2] = weights[2]
    return joint


def _gauss_log_joint(values: np.ndarray, weights: np.ndarray, means: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """(k, m) log(weight * 1-D normal density) of each value under each component."""
    z = values - means[:, None]
    z *= (1 / sigmas)[:, None]
    z *= z
    z *= -0.5
    z += (np.log(weights) - 0.5 * LOG_2PI - np.log(sigmas))[:, None]
    return z


def _floored_weights(weights: np.ndarray) -> np.ndarray:
    weights = np.maximum(weights, WEIGHT_FLOOR)
    return weights / weights.sum()


def _weighted_sigma(weighted_sum_sq: np.ndarray, mass: np.ndarray, dims: int, previous: np.ndarray) -> np.ndarray:
    """sqrt of weighted mean square per dimension; a component with no mass keeps its sigma."""
    safe_mass = np.maximum(mass, 1e-300)
    sigma = np.sqrt(weighted_sum_sq / (dims * safe_mass))
    return np.maximum(np.where(mass > 1e-12, sigma, previous), SIGMA_FLOOR)


# --- EM ----------------------------------------------------------------------


def _fit_position(squared_errors: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    weights = np.array(INITIAL_POSITION_WEIGHTS)
    sigmas = np.array(INITIAL_POSITION_SIGMAS)
    for _ in range(iterations):
        resp = _position_joint(squared_errors, weights, sigmas)
        resp /= resp.sum(axis=0)
        mass = resp.sum(axis=1)
        weights = _floored_weights(mass / resp.shape[1])
        weighted_sum_sq = np.einsum("km,km->k", resp[:2], squared_errors)
        sigmas = _weighted_sigma(weighted_sum_sq, mass[:2], 2, sigmas)
    return weights, sigmas


def _initial_log_dt(log_dt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal weights, means at evenly spaced quantiles, sigmas a share of the spread."""
    quantiles = (np.arange(DT_COMPONENTS) + 0.5) / DT_COMPONENTS
    means = np.quantile(log_dt, quantiles)
    sigmas = np.full(DT_COMPONENTS, max(np.std(log_dt) / DT_COMPONENTS, SIGMA_FLOOR))
    weights = np.full(DT_COMPONENTS, 1.0 / DT_COMPONENTS)
    return weights, means, sigmas


def _fit_log_dt(log_dt: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    weights, means, sigmas = _initial_log_dt(log_dt)
    for _ in range(iterations):
        resp = _responsibilities(_gauss_log_joint(log_dt, weights, means, sigmas))
        mass = resp.sum(axis=1)
        weights = _floored_weights(mass / len(log_dt))
        means = np.where(mass > 1e-12, resp @ log_dt / np.maximum(mass, 1e-300), means)
        squared = (log_dt - means[:, None]) ** 2
        sigmas = _weighted_sigma(np.einsum("km,km->k", resp, squared), mass, 1, sigmas)
    return weights, means, sigmas


# --- validation --------------------------------------------------------------


def _as_vector(values, name: str, length: int | None = None) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float64)
    if vector.ndim != 1 or len(vector) == 0 or (length is not None and len(vector) != length):
        expected = f"{length} numbers" if length is not None else "a non-empty list of numbers"
        raise ValueError(f"yardstick {name} must be {expected}, got {values!r}")
    if not np.all(np.isfinite(vector)):
        raise ValueError(f"yardstick {name} must be finite, got {values!r}")
    return vector


def _check_mixture(weights: np.ndarray, sigmas: np.ndarray, name: str) -> None:
    if np.any(weights <= 0) or not math.isclose(weights.sum(), 1.0, abs_tol=1e-6):
        raise ValueError(f"yardstick {name} weights must be positive and sum to 1, got {weights.tolist()}")
    if np.any(sigmas <= 0):
        raise ValueError(f"yardstick {name} sigmas must be positive, got {sigmas.tolist()}")
