"""The robojam model format: a folder holding ``model.json`` and ``weights.npz``.

``model.json`` is the metadata: ``format`` ("robojam-model"), ``format_version``,
``architecture`` (``layers``, ``units``, ``mixtures``, ``input_dim``,
``output_dim``), ``encoding`` (see :mod:`robojam.core.encoding`), ``training`` (data
summary, options, seed, epochs) and ``score`` (held-out negative
log-likelihood). ``weights.npz`` holds plain float32 arrays, no pickles:
``lstm{i}_kernel`` (in, 4u), ``lstm{i}_recurrent_kernel`` (u, 4u),
``lstm{i}_bias`` (4u) with Keras' gate order i, f, c, o, and for the MDN head
``mdn_{part}_kernel`` / ``mdn_{part}_bias`` for ``part`` in mus, sigmas, pi.
Reading it needs numpy alone.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from robojam import SOURCE_ROOT, RobojamError
from robojam.core.encoding import Encoding, from_dict as encoding_from_dict

FORMAT = "robojam-model"
FORMAT_VERSION = 1
METADATA_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
MDN_PARTS = ("mus", "sigmas", "pi")


@dataclass
class Model:
    """A trained network: its sizes, encoding, weights and metadata."""

    layers: int
    units: int
    mixtures: int
    encoding: Encoding
    weights: dict[str, np.ndarray]
    metadata: dict = field(default_factory=dict)

    @property
    def output_dim(self) -> int:
        return self.encoding.output_dim

    @property
    def param_count(self) -> int:
        return int(sum(w.size for w in self.weights.values()))

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {}
        width = self.encoding.input_dim
        for i in range(self.layers):
            shapes[f"lstm{i}_kernel"] = (width, 4 * self.units)
            shapes[f"lstm{i}_recurrent_kernel"] = (self.units, 4 * self.units)
            shapes[f"lstm{i}_bias"] = (4 * self.units,)
            width = self.units
        sizes = {"mus": self.mixtures * self.output_dim, "sigmas": self.mixtures * self.output_dim,
                 "pi": self.mixtures}
        for part, size in sizes.items():
            shapes[f"mdn_{part}_kernel"] = (self.units, size)
            shapes[f"mdn_{part}_bias"] = (size,)
        return shapes

    def describe(self) -> str:
        return (f"{self.layers}x{self.units} LSTM, {self.mixtures} mixtures, "
                f"{self.encoding.name} encoding, {self.param_count:,} parameters")


def default_model_path() -> Path:
    """The shipped default model: package data when installed, ``models/`` in a source checkout."""
    try:
        installed = Path(str(resources.files("robojam.models") / "default"))
    except ModuleNotFoundError:
        installed = None
    if installed is not None and installed.is_dir():
        return installed
    return SOURCE_ROOT / "models" / "default"


def save_model(model: Model, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metadata = dict(model.metadata)
    metadata.update({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": {"layers": model.layers, "units": model.units, "mixtures": model.mixtures,
                         "input_dim": model.encoding.input_dim, "output_dim": model.output_dim},
        "encoding": model.encoding.to_dict(),
    })
    np.savez(folder / WEIGHTS_FILE, **{k: np.asarray(v, dtype=np.float32) for k, v in model.weights.items()})
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return folder


def load_model(path: str | Path | None = None) -> Model:
    """Load a model folder (or its ``model.json``); the shipped default when ``path`` is None."""
    folder = Path(path) if path is not None else default_model_path()
    if folder.name == METADATA_FILE:
        folder = folder.parent
    if not folder.is_dir():
        raise RobojamError(f"model {folder}: no such model folder (expected {METADATA_FILE} and {WEIGHTS_FILE})")
    metadata = _read_metadata(folder)
    arch = metadata["architecture"]
    try:
        model = Model(int(arch["layers"]), int(arch["units"]), int(arch["mixtures"]),
                      encoding_from_dict(metadata["encoding"]), {}, metadata)
    except (KeyError, TypeError, ValueError) as e:
        raise RobojamError(f"model {folder}: bad architecture in {METADATA_FILE} ({e})") from None
    except RobojamError as e:
        raise RobojamError(f"model {folder}: {e}") from None
    model.weights = _read_weights(folder, model.expected_shapes())
    return model


def _read_metadata(folder: Path) -> dict:
    path = folder / METADATA_FILE
    try:
        metadata = json.loads(path.read_text())
    except FileNotFoundError:
        raise RobojamError(f"model {folder}: missing {METADATA_FILE}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RobojamError(f"model {folder}: {METADATA_FILE} is not valid JSON ({e})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise RobojamError(f"model {folder}: {METADATA_FILE} is not a robojam model (format != {FORMAT!r})")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise RobojamError(f"model {folder}: format version {metadata.get('format_version')!r} "
                           f"is not supported (this robojam reads version {FORMAT_VERSION})")
    for key in ("architecture", "encoding"):
        if not isinstance(metadata.get(key), dict):
            raise RobojamError(f"model {folder}: {METADATA_FILE} lacks {key!r}")
    return metadata


def _read_weights(folder: Path, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    path = folder / WEIGHTS_FILE
    try:
        with np.load(path, allow_pickle=False) as archive:
            weights = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise RobojamError(f"model {folder}: missing {WEIGHTS_FILE}") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise RobojamError(f"model {folder}: {WEIGHTS_FILE} is corrupt ({e})") from None
    for name, shape in shapes.items():
        if name not in weights:
            raise RobojamError(f"model {folder}: {WEIGHTS_FILE} lacks {name}")
        if weights[name].shape != shape:
            raise RobojamError(f"model {folder}: {name} has shape {weights[name].shape}, expected {shape}")
        if not np.isfinite(weights[name]).all():
            raise RobojamError(f"model {folder}: {name} holds NaN or infinite values")
    return {name: weights[name] for name in shapes}
