"""Settings for ``robojam serve`` from presets and TOML config files.

A config file holds the same settings as the command line's long options,
with dashes or underscores (``reply-port = 5001``, ``send = ["10.0.0.5:5001"]``).
A preset is a config file shipped in ``server/presets/`` and picked by name.
Command-line options win over the config file, which wins over the preset.
"""

from __future__ import annotations

import difflib
import tomllib
from importlib import resources
from pathlib import Path

from robojam import SOURCE_ROOT, RobojamError


def preset_folder() -> Path:
    """Shipped presets: package data when installed, ``server/presets`` in a source checkout."""
    try:
        installed = Path(str(resources.files("robojam.presets")))
    except ModuleNotFoundError:
        installed = None
    if installed is not None and any(installed.glob("*.toml")):
        return installed
    return SOURCE_ROOT / "server" / "presets"


def preset_names() -> list[str]:
    return sorted(p.stem for p in preset_folder().glob("*.toml"))


def load_preset(name: str, known: set[str]) -> dict:
    path = preset_folder() / f"{name}.toml"
    if not path.exists():
        raise RobojamError(f"no preset {name!r}; presets: {', '.join(preset_names()) or 'none'}")
    return load_config(path, known)


def load_config(path: str | Path, known: set[str]) -> dict:
    """Settings from a TOML file, keys normalised to option names with underscores."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RobojamError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RobojamError(f"{path}: cannot read config ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise RobojamError(f"{path}: not valid TOML ({e})") from None
    except (ValueError, RecursionError) as e:  # a number too long to read, arrays nested too deep
        raise RobojamError(f"{path}: not a config robojam can read ({str(e)[:80]})") from None
    settings = {key.replace("-", "_"): value for key, value in raw.items()}
    unknown = [key for key in raw if key.replace("-", "_") not in known]
    if unknown:
        raise RobojamError(f"{path}: unknown setting(s) {', '.join(_with_suggestion(k, known) for k in unknown)}; "
                           f"known: {', '.join(sorted(k.replace('_', '-') for k in known))}")
    return settings


def _with_suggestion(key: str, known: set[str]) -> str:
    """A mistyped key as written, and the nearest known one in the same style: ``reply-prot (did you mean
    reply-port?)``."""
    written = key if key.isprintable() and key.strip() == key and key else repr(key)
    nearest = difflib.get_close_matches(key.replace("-", "_").lower(), sorted(known), n=1, cutoff=0.6)
    if not nearest:
        return written
    suggestion = nearest[0] if "_" in key and "-" not in key else nearest[0].replace("_", "-")
    return f"{written} (did you mean {suggestion}?)"
