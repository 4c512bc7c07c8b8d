"""Changing the model while ``robojam serve`` plays: by name, or by path from trusted senders.

Over the network a model is named: a folder under ``--models-dir``, or
``default`` for the shipped one. A filesystem path is accepted only from the
command line, a config file, SIGHUP, or a sender on this machine (loopback),
so a stranger on the venue's network cannot make robojam read files of their
choosing. Models load on a thread of their own, one at a time, so the show
goes on meanwhile.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from pathlib import Path
from collections.abc import Callable

from robojam import RobojamError
from robojam.core.modelfile import Model, default_model_path, load_model
from robojam.core.shown import MOST, cut, shown

MODEL_NAME_MOST = 64
MODEL_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MODEL_NAME_MOST - 1}}}")
SHIPPED = "default"

Done = Callable[[Path, "Model | None", "str | None"], None]  # (path, the model or None, why it was refused)


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


def model_names(models_dir: Path) -> list[str]:
    """The models a performer can name: folders under ``models_dir`` holding a model, and ``default``."""
    try:
        found = {p.parent.name for p in Path(models_dir).glob("*/model.json") if MODEL_NAME.fullmatch(p.parent.name)}
    except OSError:
        found = set()
    return sorted(found | {SHIPPED})


class ModelLoader:
    """Loads one model at a time off the server's thread; ``run_on_server`` hands back the result."""

    def __init__(self, run_on_server: Callable[[Callable[[], None]], None]):
        self.run_on_server = run_on_server
        self._busy = threading.Lock()

    def load(self, path: Path, done: Done) -> bool:
        """Start loading ``path``; False (and nothing done) while another load is under way."""
        if not self._busy.acquire(blocking=False):
            return False
        threading.Thread(target=self._work, args=(path, done), name="robojam-model-loader", daemon=True).start()
        return True

    def _work(self, path: Path, done: Done) -> None:
        try:
            model, error = load_model(path), None
        except RobojamError as e:
            model, error = None, cut(str(e), 2 * MOST)  # a hostile file's text may be in it
        except Exception as e:  # noqa: BLE001 - a hostile file must not take the loader down silently
            model, error = None, f"model {shown(str(path))}: cannot load it ({shown(e)})"
        finally:
            self._busy.release()
        self.run_on_server(lambda: done(path, model, error))


class ModelKeeper:
    """The model the server plays, changed live by a performer's request or SIGHUP.

    ``registry`` gets each new model (robojam.live.registry); ``reply(key,
    address, *args)`` answers the performer who asked; ``drops`` counts
    refusals as ``bad_model``; ``warnings`` and ``notices`` print at most a
    line per reason every few seconds.
    """

    def __init__(self, model: Model, path: Path, models_dir: Path, registry, reply, drops, run_on_server,
                 warnings, notices):
        self.model, self.path, self.models_dir = model, path, Path(models_dir)
        self.registry, self.reply, self.drops = registry, reply, drops
        self.warnings, self.notices = warnings, notices
        self.loader = ModelLoader(run_on_server)

    def change(self, key: str, host: str, spec: str) -> None:
        """Load the model a performer named, then answer every new call with it."""
        try:
            path = model_path(spec, self.models_dir, trusted_host(host))
        except RobojamError as e:
            self._refuse(key, str(e))
            return
        if not self.loader.load(path, lambda p, model, error: self._loaded(key, p, model, error)):
            self._refuse(key, f"model {_name(spec)} refused: another model is loading")

    def reload(self) -> None:
        """Read the model folder in use again (SIGHUP): retrain, then reload without a restart."""
        if not self.loader.load(self.path, lambda p, model, error: self._loaded(None, p, model, error)):
            self.warnings.warn("bad_model", "not reloading: another model is loading")

    def _loaded(self, key: str | None, path: Path, model: Model | None, error: str | None) -> None:
        if model is None:
            self._refuse(key, error)
            return
        self.model, self.path = model, path
        self.registry.use_model(model)
        self.notices.warn("model_changed", f"now playing model {path.name}: {model.describe()}")
        self.reply(key, "/robojam/model/changed", path.name)

    def _refuse(self, key: str | None, why: str) -> None:
        """The old model stays; the sender hears why, and the console at most every few seconds."""
        self.drops["bad_model"] += 1
        self.warnings.warn("bad_model", f"{why}; the model stays {self.path.name}")
        self.reply(key, "/robojam/model/refused", why)
