"""Loading a model, and bringing every session up to date on it, off the server's loop.

A model change costs reading the weights, compiling the engine's kernels and,
for each session, replaying what it heard through the new engine (up to
``HISTORY_TOUCHES`` touches). Done on the server's loop, as it once was, a
flood of changes made response touches leave tens of milliseconds late. Here
one long-lived thread does all of it; the loop only takes each session's
history (a copy of two short lists) before the replay and swaps the finished
engines in after it (``Session.use_prepared``: the few touches heard
meanwhile, if any, are fed on top).

Requests that come while a load runs wait in a single slot: a newer one
replaces an older one (coalescing), whose sender is told so. The load under way
always finishes and is swapped in. Loads start at most every
``MIN_LOAD_INTERVAL_S``, whoever asks: the per-host rate limit
(:mod:`robojam.live.model_switch`) cannot tell apart senders that forge their
UDP source address, or browser connections, and a loader kept busy without
rest still takes the loop's processor and the GIL from it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from robojam import RobojamError
from robojam.core.engine import Engine
from robojam.core.modelfile import Model, load_model
from robojam.core.shown import MOST, cut, shown
from robojam.live.session import History, replayed

# While a load runs the loader thread is numpy-heavy, and Python's GIL lets a thread keep the
# interpreter for sys.getswitchinterval() (5 ms by default) before another may run: the loop
# would wait that long for its next output. A shorter interval while a load runs hands the GIL
# back to the loop within LOAD_SWITCH_INTERVAL_S. The interval is process-wide, so this touches
# every thread of the process, for as long as any loader is loading; _FastSwitching restores the
# value it found once the last load ends (try/finally), and leaves it alone if someone else
# changed it meanwhile.
LOAD_SWITCH_INTERVAL_S = 0.0005
SUPERSEDED = "model change dropped: a later one replaced it before it started"
MIN_LOAD_INTERVAL_S = 0.25  # from one load's start to the next's: at most 4 loads a second
HISTORIES_TIMEOUT_S = 5.0   # the loop's answer to "what did each session hear?"; past it, the load is given up


class _FastSwitching:
    """A process-wide, reference-counted ``sys.setswitchinterval(LOAD_SWITCH_INTERVAL_S)``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._saved: float | None = None

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, LOAD_SWITCH_INTERVAL_S))
            self._users += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved is not None:
                if abs(sys.getswitchinterval() - min(self._saved, LOAD_SWITCH_INTERVAL_S)) < 1e-7:
                    sys.setswitchinterval(self._saved)
                self._saved = None
        return False


fast_switching = _FastSwitching()


@dataclass
class Loaded:
    """A model ready to play: its engine, and each session's engine with its history replayed."""

    model: Model
    engine: Engine
    sessions: dict = field(default_factory=dict)  # key -> (session, its engine, the History replayed)


Histories = Callable[[], dict]                    # key -> (session, History), called on the server's thread
Done = Callable[[Path, "Loaded | None", "str | None"], None]  # (path, what loaded, or None and why not)


@dataclass
class _Request:
    path: Path
    done: Done


class ModelLoader:
    """One thread that loads models and prepares sessions' engines, a request at a time.

    ``run_on_server(task)`` runs ``task()`` on the server's thread (soon);
    ``histories()`` (run there) says what each session heard; ``done`` of each
    request is run there too, with the result.
    """

    def __init__(self, run_on_server: Callable[[Callable[[], None]], None], histories: Histories,
                 load: Callable[[Path], Model] = load_model, min_interval_s: float = MIN_LOAD_INTERVAL_S):
        self.run_on_server, self.histories, self._load = run_on_server, histories, load
        self.min_interval_s = min_interval_s
        self._next_start = 0.0  # time.monotonic() before which no load starts
        self._wake = threading.Condition()
        self._waiting: _Request | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.superseded = 0  # requests replaced by a newer one before they were started

    def load(self, path: Path, done: Done) -> None:
        """Load ``path`` after the load under way, if any; a request still waiting is replaced (and
        its ``done`` told so, on the server's thread)."""
        with self._wake:
            if self._closed:
                return
            replaced, self._waiting = self._waiting, _Request(Path(path), done)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="robojam-model-loader", daemon=True)
                self._thread.start()
            self._wake.notify()
        if replaced is not None:
            self.superseded += 1
            self.run_on_server(lambda: replaced.done(replaced.path, None, SUPERSEDED))

    @property
    def busy(self) -> bool:
        with self._wake:
            return self._busy or self._waiting is not None

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread once the load under way (if any) ends; requests still waiting are dropped."""
        with self._wake:
            self._closed, self._waiting = True, None
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (self._waiting is None or time.monotonic() < self._next_start):
                    # a request waits out the interval here, where a later one may still replace it
                    self._wake.wait(None if self._waiting is None else self._next_start - time.monotonic())
                if self._closed:
                    return
                request, self._waiting, self._busy = self._waiting, None, True
                self._next_start = time.monotonic() + self.min_interval_s
            try:
                loaded, error = self._prepare(request.path)
            except Exception as e:  # noqa: BLE001 - a bug here must not end the loader: this change fails, not the next
                loaded, error = None, f"model {shown(str(request.path))}: not changed ({shown(e)})"
            finally:
                with self._wake:
                    self._busy = False
            self.run_on_server(lambda r=request, m=loaded, e=error: r.done(r.path, m, e))

    def _prepare(self, path: Path) -> tuple[Loaded | None, str | None]:
        with fast_switching:
            try:
                model = self._load(path)
                engine = Engine(model)
            except RobojamError as e:
                return None, cut(str(e), 2 * MOST)  # a hostile file's text may be in it
            except Exception as e:  # noqa: BLE001 - a hostile file must not take the loader down silently
                return None, f"model {shown(str(path))}: cannot load it ({shown(e)})"
            histories = self._ask_histories()
            if histories is None:
                return None, "the server did not answer in time; the model was not changed"
            loaded = Loaded(model, engine)
            for key, (session, history) in histories.items():
                try:
                    loaded.sessions[key] = (session, replayed(engine.spawn(), history), history)
                except ValueError:  # not expected (what a session heard is clean); it replays on the loop then
                    continue
            return loaded, None

    def _ask_histories(self) -> dict | None:
        """What each session heard, taken on the server's thread (where sessions change)."""
        answer: dict = {}
        ready = threading.Event()

        def take() -> None:
            try:
                answer.update(self.histories())
            finally:
                ready.set()

        self.run_on_server(take)
        deadline = time.monotonic() + HISTORIES_TIMEOUT_S
        while not ready.wait(0.05):  # a server that stops answers no more: give up at once then
            if self._closed or time.monotonic() > deadline:
                return None
        return answer


__all__ = ["History", "Loaded", "ModelLoader", "SUPERSEDED", "fast_switching"]
