"""Changing the model while ``robojam serve`` plays: by name, or by path from trusted senders.

Over the network a model is named: a folder under ``--models-dir``, or
``default`` for the shipped one. A filesystem path is accepted only from the
command line, a config file, SIGHUP, or a sender on this machine (loopback),
so a stranger on the venue's network cannot make robojam read files of their
choosing. Models load, and every session hears its history again through the
new one, on a thread of their own (:mod:`robojam.live.model_loader`), so the
show goes on meanwhile. Each sending host may change the model at most once
every ``model_change_gap_s`` seconds; more often is refused, counted as
``rate_limited``, and answered with ``/robojam/model/refused``.
"""

from __future__ import annotations

import ipaddress
import re
import time
from pathlib import Path
from collections.abc import Callable

from robojam import RobojamError
from robojam.core.modelfile import Model, default_model_path
from robojam.core.shown import shown
from robojam.live.model_loader import SUPERSEDED, Loaded, ModelLoader

MODEL_NAME_MOST = 64
MODEL_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MODEL_NAME_MOST - 1}}}")
SHIPPED = "default"
MAX_HOSTS_REMEMBERED = 1024  # senders whose last change is kept for the rate limit; older ones are forgotten


def trusted_host(host: str) -> bool:
    """Whether a sender may name model folders by path: only this machine (loopback)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "web:N", "midi" and other pseudo-hosts


def model_path(spec: str, models_dir: Path, trusted: bool) -> Path:
    """The folder a model change names; RobojamError when the sender may not name it so."""
    if MODEL_NAME.fullmatch(spec):
        folder = Path(models_dir) / spec
        return default_model_path() if spec == SHIPPED and not folder.is_dir() else folder
    if not trusted:
        raise RobojamError(f"model {_name(spec)} refused: not a model folder's name; paths only "
                           "from this machine")
    return Path(spec).expanduser()


def _name(spec: str) -> str:
    """A model name as replies show it: a real one whole, anything longer cut."""
    return shown(spec, MODEL_NAME_MOST + 2)


def rate_key(host: str) -> str:
    """Whom the change rate limit counts as one sender: an address, or a pseudo-host's scheme ("web:3"
    and "web:4" are two browser connections, perhaps of one person: they share "web")."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.split(":", 1)[0]


def model_names(models_dir: Path) -> list[str]:
    """The models a performer can name: folders under ``models_dir`` holding a model, and ``default``."""
    try:
        found = {p.parent.name for p in Path(models_dir).glob("*/model.json") if MODEL_NAME.fullmatch(p.parent.name)}
    except OSError:
        found = set()
    return sorted(found | {SHIPPED})


class ModelKeeper:
    """The model the server plays, changed live by a performer's request or SIGHUP.

    ``registry`` gets each new model (robojam.live.registry); ``reply(key,
    address, *args)`` answers the performer who asked; ``drops`` counts
    refusals as ``bad_model``, or ``rate_limited`` for a host changing models
    more often than every ``change_gap_s`` seconds; ``warnings`` and
    ``notices`` print at most a line per reason every few seconds.
    """

    def __init__(self, model: Model, path: Path, models_dir: Path, registry, reply, drops, run_on_server,
                 warnings, notices, *, change_gap_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.model, self.path, self.models_dir = model, path, Path(models_dir)
        self.registry, self.reply, self.drops = registry, reply, drops
        self.warnings, self.notices = warnings, notices
        self.change_gap_s, self.clock = change_gap_s, clock
        self._last_change: dict[str, float] = {}  # rate_key(host) -> when it last asked for a change
        self.loader = ModelLoader(run_on_server, registry.histories)

    def change(self, key: str, host: str, spec: str) -> None:
        """Load the model a performer named, then answer every new call with it."""
        if not self._allowed(host):
            self.drops["rate_limited"] += 1
            why = f"model change refused: at most one every {self.change_gap_s:g} s from one host"
            self.warnings.warn("model_rate_limited", f"{why} (counted as rate_limited)")
            self.reply(key, "/robojam/model/refused", why)
            return
        try:
            path = model_path(spec, self.models_dir, trusted_host(host))
        except RobojamError as e:
            self._refuse(key, str(e))
            return
        self.loader.load(path, lambda p, loaded, error: self._loaded(key, p, loaded, error))

    def _allowed(self, host: str) -> bool:
        """Whether ``host`` may change the model now; if so, its gap starts again."""
        now, sender = self.clock(), rate_key(host)
        last = self._last_change.get(sender)
        if last is not None and now - last < self.change_gap_s:
            return False
        if len(self._last_change) >= MAX_HOSTS_REMEMBERED:  # spoofed addresses cannot grow this without end
            self._last_change = {h: t for h, t in self._last_change.items() if now - t < self.change_gap_s}
            if len(self._last_change) >= MAX_HOSTS_REMEMBERED:
                return False
        self._last_change[sender] = now
        return True

    def reload(self) -> None:
        """Read the model folder in use again (SIGHUP): retrain, then reload without a restart."""
        self.loader.load(self.path, lambda p, loaded, error: self._loaded(None, p, loaded, error))

    def close(self) -> None:
        self.loader.close()

    def _loaded(self, key: str | None, path: Path, loaded: Loaded | None, error: str | None) -> None:
        """On the server's thread: swap in what the loader prepared (cheap), or refuse."""
        if loaded is None and error == SUPERSEDED:  # not a bad model: the sender hears why, uncounted
            self.reply(key, "/robojam/model/refused", error)
            return
        if loaded is None:
            self._refuse(key, error)
            return
        self.model, self.path = loaded.model, path
        self.registry.use_loaded(loaded.engine, loaded.sessions)
        self.notices.warn("model_changed", f"now playing model {path.name}: {loaded.model.describe()}")
        self.reply(key, "/robojam/model/changed", path.name)

    def _refuse(self, key: str | None, why: str) -> None:
        """The old model stays; the sender hears why, and the console at most every few seconds."""
        self.drops["bad_model"] += 1
        self.warnings.warn("bad_model", f"{why}; the model stays {self.path.name}")
        self.reply(key, "/robojam/model/refused", why)
