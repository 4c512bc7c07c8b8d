"""Settings for ``robojam serve`` from presets and TOML config files.

A config file holds the same settings as the command line's long options,
with dashes or underscores (``reply-port = 5001``, ``send = ["10.0.0.5:5001"]``).
A preset is a config file shipped in ``server/presets/`` and picked by name.
Command-line options win over the config file, which wins over the preset.
"""

from __future__ import annotations

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
    settings = {key.replace("-", "_"): value for key, value in raw.items()}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise RobojamError(f"{path}: unknown setting(s) {', '.join(unknown)}; "
                           f"known: {', '.join(sorted(k.replace('_', '-') for k in known))}")
    return settings
