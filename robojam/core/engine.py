"""Low-latency stateful inference: the network (:mod:`robojam.core.network`) and the choice of its touches.

An :class:`Engine` is a :class:`~robojam.core.network.Network` whose ``policy``
(:mod:`robojam.core.policy`) chooses each drawn touch: ``draw`` the next one,
``generate`` a stretch of them, ``respond`` to a whole call, steered by the
player's knobs (:mod:`robojam.core.steering`).

    >>> engine = Engine(load_model())
    >>> engine.condition(call)          # or engine.feed(x, y, dt) a touch at a time
    >>> x, y, dt = engine.draw(rng, temp=1.0)
"""

from __future__ import annotations

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.kernels import Kernels
from robojam.core.mixture import Noise, Sampler, elu_plus_one, limited_tanh
from robojam.core.modelfile import Model
from robojam.core.network import EngineState, Network
from robojam.core.policy import TouchPolicy
from robojam.core.steering import (CONTRAST, SAMPLING_KNOBS, check_steer, contrast_height, contrasted, curl_tilt,
                                   extra_gap_tilt, size_tilt, steered, x_tilt, y_tilt)
from robojam.core.style import CLIP
from robojam.core.temperatures import check_temperatures

__all__ = ["Engine", "EngineState", "MAX_TOUCHES_PER_SECOND"]

# A response stops after this many touches a second even if the model plays faster.
MAX_TOUCHES_PER_SECOND = 200


class Engine(Network):
    """A model's network with explicit state (:class:`~robojam.core.network.Network`); its ``policy``
    chooses each drawn touch."""

    def __init__(self, model: Model, kernels: Kernels | None = None):
        super().__init__(model, kernels)
        sampler = Sampler(self._head_out, self.dim, self.mixtures, elu_plus_one,
                          model.temperatures.spreads(self.dim), self._head_out[self._params.stop:],
                          model.head.correlated, limited_tanh)
        self.policy = TouchPolicy(sampler, self.encoding, model.temperatures)
        self._noise: Noise | None = None

    def spawn(self) -> Engine:
        """A new engine with its own fresh state, sharing this one's (read-only) kernels."""
        return Engine(self.model, self._kernels)

    def steered_style(self, call, steer: dict[str, float] | None) -> list[float]:
        """The style input a model with one plays ``call``'s answer in, with the knobs ``steer`` set."""
        style = self.model.style
        call = np.asarray(call, dtype=np.float64).reshape(-1, 3)  # pragma: no mutate (dtype-alike, reshape-neg)
        return steered(style.features, style.vector(clean(call)),
                       steer, CLIP)

    def set_sampling_knobs(self, steer: dict[str, float] | None, call=None) -> None:
        """The knobs' part in how touches are drawn, from the next draw: the gap tilt density asks for,
        register's lean left or right, size's towards longer moves and curl's towards turning
        (``TouchPolicy.target``); with the ``call`` answered, in a model with a style input, contrast
        turns its style around in them too, and leans the draw away from the call's height."""
        height = 0.0
        if call is not None and self.model.style is not None and check_steer(steer).get(CONTRAST):
            style = self.model.style  # the call's style is read (about a millisecond) only for contrast
            call = np.asarray(call, dtype=np.float64).reshape(-1, 3)  # pragma: no mutate (dtype-alike, reshape-neg)
            vector = style.vector(clean(call))
            steer, height = contrasted(steer, style.features, vector), contrast_height(steer, style.features, vector)
        self.policy.sampler.tilt = extra_gap_tilt(self.model.temperatures.gap_tilt, steer)
        self.policy.x_tilt, self.policy.size_tilt = x_tilt(steer), size_tilt(steer)
        self.policy.y_tilt, self.policy.curl_tilt = y_tilt(height), curl_tilt(steer)

    def hear_call(self, call) -> None:
        """Take a call until the next: its way round for the curl, its leaps for an echo (``TouchPolicy.hear_call``)."""
        self.policy.hear_call(call)

    def draw(self, rng: np.random.Generator, temp: float = 1.0, sigma_temp: float = 1.0) -> tuple[float, float, float]:
        """Sample the next touch ``(x, y, dt)`` without feeding it. Random numbers come from ``rng`` a block
        at a time: the same seed gives the same touches, but the Generator runs ahead of them."""
        self._require_fed()
        target = self.policy.target(self._noise_from(rng), self._context, temp, sigma_temp)
        return self.encoding.decode(self._context, target)

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
        target, decode, noise = self.policy.target, self.encoding.decode, self._noise_from(rng)
        while len(touches) < limit:  # draw's work, inlined: this loop is most of a response's time
            x, y, dt = decode(self._context, target(noise, self._context, temp, sigma_temp))
            if elapsed + dt > seconds:
                break
            elapsed += dt
            touches.append((x, y, dt))
            self._step(x, y, dt)
        return np.array(touches).reshape(-1, 3)  # pragma: no mutate (reshape-neg)

    def respond(self, call: np.ndarray, seconds: float = 5.0, rng: np.random.Generator | None = None,
                temp: float = 1.0, sigma_temp: float = 1.0, steer: dict[str, float] | None = None) -> np.ndarray:
        """Reset, condition on a whole call and generate a response of at most ``seconds``
        (``take_call``, then ``answer``).

        The response's first touch has dt 0 (it starts when the response starts). ``steer`` sets
        knobs (:mod:`robojam.core.steering`); a model without a style input turns only density, register and size.
        """
        check_temperatures(temp, sigma_temp)
        self.take_call(call, steer)
        return self.answer(seconds, rng if rng is not None else np.random.default_rng(), temp, sigma_temp)

    def take_call(self, call: np.ndarray, steer: dict[str, float] | None = None) -> None:
        """Reset and condition on a whole call, in its style with the knobs of ``steer``: ready to answer."""
        if self.model.style is None and any(v for k, v in check_steer(steer).items() if k not in SAMPLING_KNOBS):
            raise RobojamError("this model has no style input for the knobs but density, register and size to steer: "
                               "train it with --style")
        call = np.asarray(call, dtype=np.float64).reshape(-1, 3)  # pragma: no mutate (dtype-alike, reshape-neg)
        self.set_style(None)
        self.reset()
        self.hear_call(call)
        self.condition(call if len(call) else np.array([[0.5, 0.5, 0.0]]))
        if self.model.style is not None:  # the call is heard plainly, the response played in its style
            self.set_style(self.steered_style(call, steer))
        self.set_sampling_knobs(steer, call)

    def answer(self, seconds: float, rng: np.random.Generator, temp: float = 1.0,
               sigma_temp: float = 1.0) -> np.ndarray:
        """A response of at most ``seconds`` drawn from the state as it is; its first touch has dt 0."""
        first = self.draw(rng, temp, sigma_temp)
        self.feed(first[0], first[1], first[2])
        rest = self.generate(seconds, rng, temp, sigma_temp)
        return np.vstack([[first[0], first[1], 0.0], rest])
