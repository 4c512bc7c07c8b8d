"""How touch events are encoded for the network, and back.

The network reads one input vector per event and its MDN head models a
3-D target for the *next* event. Two encodings exist:

``robojam``
    RoboJam's original: input and target are the raw ``x, y, dt``.

``delta``
    Like handwriting and sketch models, the target is the *movement*:
    ``(dx, dy) * delta_scale`` and the standardised log of dt,
    ``(log dt - logdt_mean) / logdt_std``. The input adds the absolute
    position so the network knows where the screen edges are.

``heading``
    As ``delta``, but the movement is told in the frame of the movement
    before it: ``along`` its direction and ``across`` it (left positive), so
    a diagonal Gaussian can lay its spread along a stroke, and "carry on the
    same way" is one mean whatever the stroke's direction. After no movement
    (a tap, the first touch) the frame is the screen's own. The input holds
    the absolute position and movement, the movement in the frame before it,
    and the *room* ahead, behind, to the left and to the right: how far the
    screen's edge is in each direction of the new frame, so the network sees
    the edges the way it sees the stroke.

An encoding reads and writes one touch at a time given a *context*: what it
needs of the touches before (``context``). Raw and delta need the last
position ``(x, y)``; heading also the last movement ``(x, y, dx, dy)``.

Densities are reported in raw units (x, y, dt in seconds), so each encoding
gives the log-Jacobian ``log |d target / d raw|`` to add to the encoded
log-density (change of variables).
"""

from __future__ import annotations

import math

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import MAX_DT

# dt is floored here before its log is taken (the first event of a
# performance has dt 0); the shortest dt in the published corpus is 0.36 ms.
DT_FLOOR = 1e-4
LOG_MAX_DT = math.log(MAX_DT)


class Encoding:
    name = ""
    input_dim = 3
    output_dim = 3

    def targets(self, xy_dt: np.ndarray) -> np.ndarray:
        """Encoded target of each event (n, 3); a delta is taken from the event before."""
        raise NotImplementedError

    def inputs(self, xy_dt: np.ndarray) -> np.ndarray:
        """Network input vector of each event (n, input_dim)."""
        raise NotImplementedError

    def context(self, prev: tuple | None, x: float, y: float) -> tuple:
        """The context after a touch at (x, y), given the one before it (None: the first touch)."""
        return (x, y)

    def step_input(self, prev: tuple | None, x: float, y: float, dt: float) -> list[float]:
        """The input vector of one event given the context before it (the engine's fast path)."""
        raise NotImplementedError

    def inputs_after(self, context: tuple | None, touches: np.ndarray) -> list[list[float]]:
        """The input vectors of ``touches`` (rows ``x, y, dt``) fed after ``context`` (None: from the start)."""
        if context is None:
            return self.inputs(touches).tolist()
        inputs = []
        for x, y, dt in touches.tolist():
            inputs.append(self.step_input(context, x, y, dt))
            context = self.context(context, x, y)
        return inputs

    def decode(self, prev: tuple, target) -> tuple[float, float, float]:
        """A raw ``x, y, dt`` touch from a sampled target, clipped to the valid range."""
        raise NotImplementedError

    def moved_to(self, prev: tuple, x: float, y: float, target) -> list[float]:
        """The target that lands at (x, y) from the context ``prev``, with ``target``'s timing."""
        raise NotImplementedError

    def on_screen(self, prev: tuple, target, margin: float = 0.0) -> bool:  # pragma: no mutate (interface-default)
        """Whether a sampled target's position lies on the screen, ``margin`` or more from its edges,
        before ``decode`` clips it."""
        raise NotImplementedError

    def log_jacobian(self, xy_dt: np.ndarray) -> np.ndarray:
        """log |d target / d raw| of each event (n,)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"name": self.name}


class RawEncoding(Encoding):
    name = "robojam"

    def targets(self, xy_dt):
        return np.asarray(xy_dt, dtype=np.float64)[:, :3].copy()

    def inputs(self, xy_dt):
        return self.targets(xy_dt)

    def step_input(self, prev, x, y, dt):
        return [x, y, dt]

    def decode(self, prev, target):
        return _clip_touch(float(target[0]), float(target[1]), float(target[2]))

    def moved_to(self, prev, x, y, target):
        return [x, y, target[2]]

    def on_screen(self, prev, target, margin=0.0):
        return within(target[0], target[1], margin)

    def log_jacobian(self, xy_dt):
        return np.zeros(len(xy_dt))


class DeltaEncoding(Encoding):
    name = "delta"
    input_dim = 5

    def __init__(self, delta_scale: float = 10.0, logdt_mean: float = -3.5, logdt_std: float = 1.0):
        self.delta_scale = float(delta_scale)
        self.logdt_mean = float(logdt_mean)
        self.logdt_std = float(logdt_std)

    @classmethod
    def fitted(cls, performances: list[np.ndarray], delta_scale: float = 10.0) -> DeltaEncoding:
        """Standardise log dt with the mean and spread of the training events."""
        dts = np.concatenate([p[1:, 2] for p in performances if len(p) > 1])
        log_dt = np.log(np.maximum(dts, DT_FLOOR))
        return cls(delta_scale, float(log_dt.mean()), float(max(log_dt.std(), 1e-3)))

    def targets(self, xy_dt):
        xy_dt = np.asarray(xy_dt, dtype=np.float64)
        deltas = np.diff(xy_dt[:, :2], axis=0, prepend=xy_dt[:1, :2]) * self.delta_scale
        log_dt = (np.log(np.maximum(xy_dt[:, 2], DT_FLOOR)) - self.logdt_mean) / self.logdt_std
        return np.column_stack([deltas, log_dt])

    def inputs(self, xy_dt):
        xy_dt = np.asarray(xy_dt, dtype=np.float64)  # pragma: no mutate (dtype-alike)
        return np.column_stack([xy_dt[:, :2], self.targets(xy_dt)])

    def step_input(self, prev, x, y, dt):
        scale = self.delta_scale
        prev_x, prev_y = (x, y) if prev is None else prev
        return [x, y, (x - prev_x) * scale, (y - prev_y) * scale, self._log_dt(dt)]

    def _log_dt(self, dt: float) -> float:
        return (math.log(max(dt, DT_FLOOR)) - self.logdt_mean) / self.logdt_std

    def _dt(self, log_dt: float) -> float:
        return math.exp(min(log_dt * self.logdt_std + self.logdt_mean, LOG_MAX_DT))

    def decode(self, prev, target):
        dx, dy, log_dt = target
        return _clip_touch(prev[0] + dx / self.delta_scale, prev[1] + dy / self.delta_scale, self._dt(log_dt))

    def moved_to(self, prev, x, y, target):
        return [(x - prev[0]) * self.delta_scale, (y - prev[1]) * self.delta_scale, target[2]]

    def on_screen(self, prev, target, margin=0.0):
        scale = self.delta_scale
        return within(prev[0] + target[0] / scale, prev[1] + target[1] / scale, margin)

    def log_jacobian(self, xy_dt):
        dt = np.maximum(np.asarray(xy_dt, dtype=np.float64)[:, 2], DT_FLOOR)
        return 2 * math.log(self.delta_scale) - math.log(self.logdt_std) - np.log(dt)

    def to_dict(self):
        return {"name": self.name, "delta_scale": self.delta_scale,
                "logdt_mean": self.logdt_mean, "logdt_std": self.logdt_std}


class HeadingEncoding(DeltaEncoding):
    name = "heading"
    input_dim = 11

    def context(self, prev, x, y):
        still = (x, y, 0.0, 0.0)  # pragma: no mutate (screen-frame)
        return still if prev is None else (x, y, x - prev[0], y - prev[1])

    def targets(self, xy_dt):
        xy_dt = np.asarray(xy_dt, dtype=np.float64)
        moves = np.diff(xy_dt[:, :2], axis=0, prepend=xy_dt[:1, :2])
        before = np.vstack([np.zeros((1, 2)), moves[:-1]])
        return np.column_stack([_in_frame(moves, before) * self.delta_scale, self._log_dts(xy_dt[:, 2])])

    def inputs(self, xy_dt):
        xy_dt = np.asarray(xy_dt, dtype=np.float64)
        moves = np.diff(xy_dt[:, :2], axis=0, prepend=xy_dt[:1, :2])
        targets = self.targets(xy_dt)
        return np.column_stack([xy_dt[:, :2], moves * self.delta_scale, targets, _rooms(xy_dt[:, :2], moves)])

    def _log_dts(self, dts: np.ndarray) -> np.ndarray:
        return (np.log(np.maximum(dts, DT_FLOOR)) - self.logdt_mean) / self.logdt_std

    def step_input(self, prev, x, y, dt):
        scale = self.delta_scale
        px, py, pdx, pdy = (x, y, 0.0, 0.0) if prev is None else prev  # pragma: no mutate (screen-frame)
        dx, dy = x - px, y - py
        ux, uy = _unit(pdx, pdy)
        return [x, y, dx * scale, dy * scale, (dx * ux + dy * uy) * scale, (dy * ux - dx * uy) * scale,
                self._log_dt(dt), *_rooms_around(x, y, *_unit(dx, dy))]

    def _move(self, prev, target) -> tuple[float, float]:
        ux, uy = _unit(prev[2], prev[3])
        along, across = target[0] / self.delta_scale, target[1] / self.delta_scale
        return along * ux - across * uy, along * uy + across * ux

    def decode(self, prev, target):
        dx, dy = self._move(prev, target)
        return _clip_touch(prev[0] + dx, prev[1] + dy, self._dt(target[2]))

    def moved_to(self, prev, x, y, target):
        dx, dy = (x - prev[0]) * self.delta_scale, (y - prev[1]) * self.delta_scale
        ux, uy = _unit(prev[2], prev[3])
        return [dx * ux + dy * uy, dy * ux - dx * uy, target[2]]

    def on_screen(self, prev, target, margin=0.0):
        dx, dy = self._move(prev, target)
        return within(prev[0] + dx, prev[1] + dy, margin)


def within(x: float, y: float, margin: float) -> bool:
    """Whether (x, y) lies on the screen, ``margin`` or more from each of its edges."""
    far = 1.0 - margin
    return margin <= x <= far and margin <= y <= far


# A movement shorter than this sets no direction: the frame after it is the screen's.
MIN_HEADING_MOVE = 1e-6


def _unit(dx: float, dy: float) -> tuple[float, float]:
    norm = math.hypot(dx, dy)
    return (dx / norm, dy / norm) if norm > MIN_HEADING_MOVE else (1.0, 0.0)


# Room is measured up to this far (the screen's diagonal is about 1.41).
MAX_ROOM = 1.5


def _room(x: float, y: float, vx: float, vy: float) -> float:
    """How far from (x, y) along the unit direction (vx, vy) the screen's edge is, at most MAX_ROOM.

    A direction with no x (or y) part never meets the left or right (top or bottom) edge.
    """
    room = MAX_ROOM
    if vx:
        room = min(room, (1.0 - x if vx > 0 else x) / abs(vx))  # pragma: no mutate (nonzero-here)
    if vy:
        room = min(room, (1.0 - y if vy > 0 else y) / abs(vy))  # pragma: no mutate (nonzero-here)
    return room


def _rooms_around(x: float, y: float, vx: float, vy: float) -> tuple[float, float, float, float]:
    """The room ahead along the unit heading (vx, vy), behind, to its left (-vy, vx) and to its right."""
    return _room(x, y, vx, vy), _room(x, y, -vx, -vy), _room(x, y, -vy, vx), _room(x, y, vy, -vx)


def _rooms(xy: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """Room ahead, behind, left and right of each touch, in the frame of its own movement (n, 4)."""
    return np.array([_rooms_around(x, y, *_unit(dx, dy)) for (x, y), (dx, dy) in zip(xy.tolist(), moves.tolist())])


def _in_frame(moves: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Each movement as (along, across) the movement before it; the screen's axes after none."""
    norms = np.hypot(before[:, 0], before[:, 1])
    has_heading = norms > MIN_HEADING_MOVE
    safe_norms = np.where(has_heading, norms, 1.0)  # pragma: no mutate (replaced-below)
    ux = np.where(has_heading, before[:, 0] / safe_norms, 1.0)
    uy = np.where(has_heading, before[:, 1] / safe_norms, 0.0)
    return np.column_stack([moves[:, 0] * ux + moves[:, 1] * uy, moves[:, 1] * ux - moves[:, 0] * uy])


def _clip_touch(x: float, y: float, dt: float) -> tuple[float, float, float]:
    """Python floats in the valid ranges; NaN goes to the lower bound."""
    # pragma: no mutate start (clip-bounds)
    return (float(x if 0.0 <= x <= 1.0 else 1.0 if x > 1.0 else 0.0),
            float(y if 0.0 <= y <= 1.0 else 1.0 if y > 1.0 else 0.0),
            float(dt if 0.0 <= dt <= MAX_DT else MAX_DT if dt > MAX_DT else 0.0))
    # pragma: no mutate end


ENCODINGS = {"robojam": RawEncoding, "delta": DeltaEncoding, "heading": HeadingEncoding}


def from_dict(spec: dict) -> Encoding:
    """The encoding a model file's metadata names."""
    name = spec.get("name") if isinstance(spec, dict) else None
    if name not in ENCODINGS:
        raise RobojamError(f"unknown encoding {name!r}; known: {', '.join(ENCODINGS)}")
    params = {k: v for k, v in spec.items() if k != "name"}
    try:
        return ENCODINGS[name](**params)
    except (TypeError, ValueError) as e:
        raise RobojamError(f"bad parameters for encoding {name!r}: {e}") from None
