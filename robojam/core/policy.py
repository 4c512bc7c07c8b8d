"""How the engine chooses a touch from the network's mixture: the screen, the rim, the echo.

The engine (:mod:`robojam.core.engine`) steps the network and holds its
state; a ``TouchPolicy`` beside it turns the head's output into the next
touch's target. It draws from the mixture (:class:`robojam.core.mixture.Sampler`,
at the model's own temperatures), keeps draws on the screen and, in a model
with a rim, off its rim, and in a model with an echo lets a new stroke leap
as the call's did.
"""

from __future__ import annotations

import math

import numpy as np

from robojam.core.corpus import clean
from robojam.core.encoding import Encoding, within
from robojam.core.features import way_round
from robojam.core.mixture import Noise, Sampler
from robojam.core.performance import STROKE_GAP_S, STROKE_JUMP, starts_stroke, stroke_leaps
from robojam.core.temperatures import Temperatures

# Draws for one touch before a position off the screen is clipped onto its edge (see target).
DRAWS_PER_TOUCH = 16
# The register and size knobs pick among this many draws of each touch (sampling-importance resampling).
LEAN_CANDIDATES = 4
# A new stroke echoes the call's leaps only when the call has this many to pick from (see hear_call).
MIN_LEAPS = 2
# At most this many of the call's leaps are kept (its last): a new stroke looks through them all.
MAX_LEAPS = 64


class TouchPolicy:
    """Chooses each touch's target (in the encoding's units) from a sampler over the head's output."""

    def __init__(self, sampler: Sampler, encoding: Encoding, temperatures: Temperatures):
        self.sampler, self.encoding = sampler, encoding
        self._on_screen = encoding.on_screen
        self._rim, self._rim_keep = temperatures.avoided_rim, temperatures.rim_keep
        self._echo = temperatures.echo
        self.x_tilt = 0.0  # the register knob's lean (robojam.core.steering.x_tilt); 0: none
        self.y_tilt = 0.0  # contrast's lean down the screen, away from the call's height (steering.y_tilt)
        self.size_tilt = 0.0  # the size knob's lean towards longer moves or shorter (steering.size_tilt)
        self.curl_tilt = 0.0  # the curl knob's lean towards turning within a stroke, or not (steering.curl_tilt)
        self._call = ()  # the call heard (rows x, y, dt), read for its way round when the curl first leans
        self._way_round: float | None = None  # which way it curled (features.way_round); None: not read yet
        self._leaps: list[list[float]] = []  # the call's leaps to a new stroke (after a pause or not)
        # Those long enough to start a stroke without a pause.
        self._far_leaps: list[list[float]] = []  # pragma: no mutate (set-before-read)

    def hear_call(self, call) -> None:
        """Take a call (rows ``x, y, dt``; rows not finite are left out) until the next: which way round it
        curls, read only once the curl leans (``_call_way_round``), and in a model with an echo its leaps
        for new strokes to echo. So a response's first touch waits on neither when no one needs them.
        ``call`` is kept, not copied: pass one that stays as it is."""
        self._call, self._way_round = call, None
        self._leaps, self._far_leaps = [], []
        if self._echo:
            leaps = stroke_leaps(clean(self._call_rows()))[-MAX_LEAPS:]
            far = np.hypot(leaps[:, 0], leaps[:, 1]) > STROKE_JUMP
            self._leaps, self._far_leaps = leaps.tolist(), leaps[far].tolist()

    def _call_rows(self) -> np.ndarray:
        return np.asarray(self._call, dtype=np.float64).reshape(-1, 3)  # pragma: no mutate (reshape-neg)

    def _call_way_round(self) -> float:
        """Which way round the call curls (features.way_round), read once a call."""
        if self._way_round is None:
            self._way_round = way_round(self._call_rows())  # which cleans the rows itself
        return self._way_round

    def target(self, noise: Noise, prev: tuple, temp: float, sigma_temp: float) -> list[float]:
        """The next touch's target (``_drawn``); with a lean (``x_tilt``, ``y_tilt``, ``size_tilt``,
        ``curl_tilt``), one of LEAN_CANDIDATES drawn, chosen with odds exp(x_tilt * its move right +
        y_tilt * its move down + size_tilt * its move's length + the curl's ``_bends``): the model's own
        touches, leaning one way."""
        if not (self.x_tilt or self.y_tilt or self.size_tilt or self.curl_tilt):
            return self._drawn(noise, prev, temp, sigma_temp)
        candidates = [self._drawn(noise, prev, temp, sigma_temp) for _ in range(LEAN_CANDIDATES)]
        decoded = np.array([self.encoding.decode(prev, target) for target in candidates])
        moves = decoded[:, :2] - prev[:2]
        lengths = np.hypot(moves[:, 0], moves[:, 1])
        scores = self.x_tilt * moves[:, 0] + self.y_tilt * moves[:, 1] + self.size_tilt * lengths
        if self.curl_tilt and len(prev) >= 4 and (prev[2] or prev[3]):
            scores = scores + self._bends(prev, moves, starts_stroke(decoded[:, 2], lengths))
        odds = np.exp(scores - scores.max())
        chosen = int(np.searchsorted(np.cumsum(odds), noise.chance() * odds.sum(), side="right"))
        return candidates[min(chosen, len(candidates) - 1)]

    def _bends(self, prev: tuple, moves: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """The curl's part in each candidate's score, from a context that carries the last move (the
        heading encoding's). Candidates of the first's kind only (a new stroke or a step within one), so
        the lean never changes how often strokes end; within a stroke, curl_tilt times the candidate's
        turn from the last move, signed the call's way round (below 0: its size, either way)."""
        never = np.full(len(starts), -np.inf)
        if starts[0]:
            return np.where(starts, 0.0, never)  # pragma: no mutate (score-shift)
        turns = np.arctan2(prev[2] * moves[:, 1] - prev[3] * moves[:, 0], prev[2] * moves[:, 0] + prev[3] * moves[:, 1])
        if np.signbit(self.curl_tilt):  # below 0: going straight either way
            bends = np.abs(turns)
        else:
            bends = turns * self._call_way_round()  # pragma: no mutate (unit-sign)
        return np.where(starts, never, self.curl_tilt * bends)

    def _drawn(self, noise: Noise, prev: tuple, temp: float, sigma_temp: float) -> list[float]:
        """A draw from the mixture truncated to the screen: off-screen positions are drawn again.

        Clipping them instead piles touches up along the screen's edges, where
        people rarely play. From outside the model's rim, a position on it is
        kept only by chance (its rim_keep), else drawn again too. After
        DRAWS_PER_TOUCH misses the last is clipped. In a model with an echo,
        a draw that would start a new stroke may leap as the call did instead
        (``_echoed``). ``prev`` is the encoding's context of the touches so far.
        """
        draw, on_screen, keep = self.sampler.draw, self._on_screen, self._rim_keep
        rim = self._rim if self._rim and within(prev[0], prev[1], self._rim) else 0.0
        echo = len(self._leaps) >= MIN_LEAPS  # hear_call takes leaps only in a model with an echo
        target = draw(noise, temp, sigma_temp)
        for _ in range(DRAWS_PER_TOUCH - 1):
            echoed = self._echoed(target, noise, prev, rim) if echo else None
            if echoed is not None:
                return echoed
            if on_screen(prev, target, rim):
                break
            if rim and on_screen(prev, target) and noise.chance() < keep:  # pragma: no mutate (prob-zero)
                break
            target = draw(noise, temp, sigma_temp)
        return target

    def _echoed(self, target: list[float], noise: Noise, prev: tuple, rim: float) -> list[float] | None:
        """A draw that starts a new stroke, moved instead by one of the call's leaps (the model's echo),
        either way round, picked at random among those that land on the screen (off the rim): None when
        the draw continues a stroke, when the echo's chance says no, or no leap fits."""
        x, y, dt = self.encoding.decode(prev, target)
        starts = starts_stroke(dt, math.hypot(x - prev[0], y - prev[1]))
        if not starts or noise.chance() >= self._echo:  # pragma: no mutate (prob-zero)
            return None
        # Without a pause, only a leap over the jump starts a stroke.
        leaps = self._leaps if dt > STROKE_GAP_S else self._far_leaps  # pragma: no mutate (prob-zero)
        if len(leaps) < MIN_LEAPS:
            return None
        px, py = prev[0], prev[1]
        fits = [(px + dx, py + dy) for leap_x, leap_y in leaps for dx, dy in ((leap_x, leap_y), (-leap_x, -leap_y))
                if within(px + dx, py + dy, rim)]
        if not fits:
            return None
        x, y = fits[int(noise.chance() * len(fits))]
        return self.encoding.moved_to(prev, x, y, target)
