"""The server's performers: one session each, keyed by host (and session id), admitted, evicted, expired."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from robojam.core.engine import Engine
from robojam.core.modelfile import Model
from robojam.live.protocol import BadMessage
from robojam.live.session import Session, Settings


@dataclass
class Performer:
    """A session and what the server knows of its performer."""

    session: Session
    host: str
    last_active: float
    allowance: float        # token bucket for the touch rate
    session_id: str | None = None       # the id its messages end with; every reply ends with it too
    stroke_open: bool = False           # the performer's finger is down
    robojam_stroke_open: bool = False   # robojam's finger is down


class SessionRegistry:
    """Performers by key: ``HOST`` or ``HOST/SESSION-ID``.

    At most ``max_sessions`` are kept: a newcomer evicts the longest-idle
    performer that is not being answered, or is refused. Performers idle for
    ``session_timeout`` seconds expire, unless robojam is playing to them.
    """

    def __init__(self, engine: Engine, settings: Settings, counts: Counter, *, max_sessions: int,
                 session_timeout: float, touch_rate: float, seed: int | None = None):
        self.performers: dict[str, Performer] = {}
        self._engine = engine  # its kernels are shared by every session's engine
        self._settings = settings
        self._counts = counts
        self.max_sessions = max_sessions
        self.session_timeout = session_timeout
        self.touch_rate = touch_rate
        self._seeds = np.random.SeedSequence(seed)

    def key(self, host: str, session_id: str | None, now: float) -> str:
        """The performer's key, admitting a newcomer (BadMessage ``too_many_sessions`` if full)."""
        key = f"{host}/{session_id}" if session_id else host
        if key not in self.performers:
            self._admit(key, host, session_id or None, now)
        self.performers[key].host = host
        return key

    def start_with(self, settings: Settings) -> None:
        """Settings for the performers admitted from now on."""
        self._settings = settings

    def use_model(self, model: Model) -> None:
        """New performers get the model's engine; those here switch at their next call (each replays
        what it heard here, on the caller's thread: ``use_loaded`` takes engines replayed already)."""
        self._engine = Engine(model)
        for performer in self.performers.values():
            performer.session.use_engine(self._engine.spawn())

    def spawn_engine(self) -> Engine:
        """A fresh engine of the model playing now, sharing its kernels (from any thread: read-only)."""
        return self._engine.spawn()

    def histories(self) -> dict:
        """Each performer's session and what it heard (robojam.live.session.History), for the model
        loader to replay off the server's loop."""
        return {key: (p.session, p.session.history()) for key, p in self.performers.items()}

    def use_loaded(self, engine: Engine, sessions: dict) -> None:
        """As ``use_model``, with ``sessions`` (key -> (session, its engine, the History it replayed))
        prepared by robojam.live.model_loader; a performer who came since replays here."""
        self._engine = engine
        for key, performer in self.performers.items():
            session, prepared, history = sessions.get(key, (None, None, None))
            if session is performer.session:
                performer.session.use_prepared(prepared, history)
            else:
                performer.session.use_engine(engine.spawn())

    def session(self, key: str, now: float) -> Session:
        performer = self.performers[key]
        performer.last_active = now
        return performer.session

    def allow_touch(self, performer: Performer, now: float) -> bool:
        """Whether a touch is within the performer's touch rate (a token bucket); marks them active."""
        refill = (now - performer.last_active) * self.touch_rate
        performer.allowance = min(self.touch_rate, performer.allowance + refill)
        performer.last_active = now
        if performer.allowance < 1:
            return False
        performer.allowance -= 1
        return True

    def expire(self, now: float) -> None:
        for key, performer in list(self.performers.items()):
            if now - performer.last_active > self.session_timeout and not performer.session.playing:
                self.end(key)

    def end(self, key: str) -> None:
        if self.performers.pop(key, None) is not None:
            self._counts["sessions_ended"] += 1

    def _admit(self, key: str, host: str, session_id: str | None, now: float) -> None:
        if len(self.performers) >= self.max_sessions and not self._evict_one():
            raise BadMessage("too_many_sessions", f"no room for performer {key}")
        rng = np.random.default_rng(self._seeds.spawn(1)[0])
        session = Session(self._engine.spawn(), Settings(**vars(self._settings)), rng)
        self.performers[key] = Performer(session, host, now, allowance=self.touch_rate, session_id=session_id)
        self._counts["sessions_started"] += 1

    def _evict_one(self) -> bool:
        idle = [(p.last_active, k) for k, p in self.performers.items() if not p.session.playing]
        if not idle:
            return False
        self.end(min(idle)[1])
        return True
