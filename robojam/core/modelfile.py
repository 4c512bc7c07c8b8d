"""The robojam model format: a folder holding ``model.json`` and ``weights.npz``.

``model.json`` is the metadata: ``format`` ("robojam-model"), ``format_version``,
``architecture`` (``layers``, ``units``, ``mixtures``, ``input_dim``,
``output_dim``), ``encoding`` (see :mod:`robojam.core.encoding`), ``style``
(only in a model with a style input, see :mod:`robojam.core.style`),
``temperatures`` (its own sampling temperatures for shape and rhythm and its
gap tilt, see :mod:`robojam.core.temperatures`; 1, 1 and 0 when absent),
``training`` (data
summary, options, seed, epochs) and ``score`` (held-out negative
log-likelihood). ``weights.npz`` holds plain float32 arrays, no pickles:
``lstm{i}_kernel`` (in, 4u), ``lstm{i}_recurrent_kernel`` (u, 4u),
``lstm{i}_bias`` (4u) with Keras' gate order i, f, c, o, and for the MDN head
``mdn_{part}_kernel`` / ``mdn_{part}_bias`` for ``part`` in mus, sigmas, pi
(and rhos, between sigmas and pi, in a head with ``architecture.correlated``
true: a correlation per component, :class:`robojam.core.mixture.Head`).
A folder may also hold ``selector.npz``, the drafts' selector
(:mod:`robojam.core.selector`), learned on this network's answers.
Reading it needs numpy alone.

A model folder may come from anyone (a shared model, a name sent over the
network), so :func:`load_model` checks before it allocates: ``model.json``
is at most ``MAX_METADATA_BYTES``; ``layers``, ``units`` and ``mixtures``
lie within ``ARCHITECTURE_LIMITS`` and ``input_dim``/``output_dim`` agree
with the encoding; every encoding number is finite and within
``ENCODING_LIMITS``; ``weights.npz`` is no bigger than the architecture's
weights in float64, and each array's size and shape in its zip and ``.npy``
headers are checked against the architecture before its data is read
(other members are never read). A bad folder is refused at once with a
message naming the field.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from robojam import SOURCE_ROOT, RobojamError
from robojam.core.encoding import Encoding, from_dict as encoding_from_dict
from robojam.core.mixture import Head
from robojam.core.selector import SELECTOR_FILE, Selector, load_selector, save_selector
from robojam.core.style import Style, style_from_dict
from robojam.core.temperatures import Temperatures, temperatures_from_dict
from robojam.core.shown import cut

FORMAT = "robojam-model"
FORMAT_VERSION = 1
METADATA_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
# The documented bounds of a model's architecture (whole numbers, inclusive), as `robojam train` makes them.
ARCHITECTURE_LIMITS = {"layers": (1, 8), "units": (4, 1024), "mixtures": (1, 64)}
# The range of each encoding number (inclusive); every encoding number must be finite.
ENCODING_LIMITS = {
    "delta_scale": (0.01, 10_000.0),  # movement units per screen width (10 as trained)
    "logdt_mean": (-20.0, 5.0),       # mean log dt in seconds (dt lies in [1e-4, 5]: -9.2 to 1.6)
    "logdt_std": (1e-3, 10.0),        # its spread (fitted no lower than 1e-3)
}
MAX_METADATA_BYTES = 1 << 20
NPY_HEADER_ROOM = 4096  # bytes of .npy header allowed per array beyond its data


@dataclass
class Model:
    """A trained network: its sizes, encoding, weights and metadata."""

    layers: int
    units: int
    mixtures: int
    encoding: Encoding
    weights: dict[str, np.ndarray]
    metadata: dict = field(default_factory=dict)
    style: Style | None = None  # a style input read from the call, after the encoding's inputs
    temperatures: Temperatures = Temperatures()
    selector: Selector | None = None  # the drafts' selector (selector.npz), when the folder has one
    correlated: bool = False  # a correlation per component between the movement's two numbers (Head)

    @property
    def input_dim(self) -> int:
        return self.encoding.input_dim + (self.style.dim if self.style is not None else 0)

    @property
    def output_dim(self) -> int:
        return self.encoding.output_dim

    @property
    def head(self) -> Head:
        return Head(self.output_dim, self.mixtures, self.correlated)

    @property
    def param_count(self) -> int:
        return int(sum(w.size for w in self.weights.values()))

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {}
        width = self.input_dim
        for i in range(self.layers):
            shapes[f"lstm{i}_kernel"] = (width, 4 * self.units)
            shapes[f"lstm{i}_recurrent_kernel"] = (self.units, 4 * self.units)
            shapes[f"lstm{i}_bias"] = (4 * self.units,)
            width = self.units
        for part, size in self.head.part_sizes.items():
            shapes[f"mdn_{part}_kernel"] = (self.units, size)
            shapes[f"mdn_{part}_bias"] = (size,)
        return shapes

    def describe(self) -> str:
        style = ", style input" if self.style is not None else ""
        head = " (correlated)" if self.correlated else ""
        temperatures = "" if self.temperatures.neutral else f", {self.temperatures.describe()}"
        return (f"{self.layers}x{self.units} LSTM, {self.mixtures} mixtures{head}, "
                f"{self.encoding.name} encoding{style}, {self.param_count:,} parameters{temperatures}")


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
                         "input_dim": model.input_dim, "output_dim": model.output_dim,
                         **({"correlated": True} if model.correlated else {})},
        "encoding": model.encoding.to_dict(),
    })
    metadata.pop("style", None)
    if model.style is not None:
        metadata["style"] = model.style.to_dict()
    _set_temperatures(metadata, model.temperatures)
    np.savez(folder / WEIGHTS_FILE, **{k: np.asarray(v, dtype=np.float32) for k, v in model.weights.items()})
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    if model.selector is not None:
        save_selector(model.selector, folder)
    else:  # a selector learned another network's answers: it goes with the weights it judged
        (folder / SELECTOR_FILE).unlink(missing_ok=True)
    return folder


def write_temperatures(path: str | Path, temperatures: Temperatures) -> Path:
    """Set a model folder's own sampling temperatures in its ``model.json``; nothing else changes."""
    folder = _folder(Path(path))
    metadata = _read_metadata(folder)
    _set_temperatures(metadata, temperatures)
    written = folder / (METADATA_FILE + ".new")
    try:
        written.write_text(json.dumps(metadata, indent=2) + "\n")
        written.replace(folder / METADATA_FILE)  # whole or not at all, should the write be cut short
    except OSError as e:
        raise RobojamError(f"model {folder}: cannot write {METADATA_FILE} ({e.strerror or e})") from None
    return folder


def _set_temperatures(metadata: dict, temperatures: Temperatures) -> None:
    """A model's own temperatures in its metadata; none written when they are as trained."""
    metadata.pop("temperatures", None)
    if not temperatures.neutral:
        metadata["temperatures"] = temperatures.to_dict()


def _folder(path: Path) -> Path:
    return path.parent if path.name == METADATA_FILE else path


def load_model(path: str | Path | None = None) -> Model:
    """Load a model folder (or its ``model.json``); the shipped default when ``path`` is None."""
    folder = _folder(Path(path)) if path is not None else default_model_path()
    if not folder.is_dir():
        raise RobojamError(f"model {folder}: no such model folder (expected {METADATA_FILE} and {WEIGHTS_FILE})")
    metadata = _read_metadata(folder)
    arch = metadata["architecture"]
    try:
        sizes = [_architecture_number(arch, name) for name in ARCHITECTURE_LIMITS]
        correlated = arch.get("correlated", False)
        if not isinstance(correlated, bool):
            raise RobojamError(f"{METADATA_FILE}: architecture.correlated is {_shown(correlated)}; "
                               "expected true or false")
        _check_encoding_numbers(metadata["encoding"])
        encoding = encoding_from_dict(metadata["encoding"])
        style = style_from_dict(metadata["style"]) if "style" in metadata else None
        temperatures = (temperatures_from_dict(metadata["temperatures"]) if "temperatures" in metadata
                        else Temperatures())
        _check_dims(arch, encoding, style)
    except RobojamError as e:
        raise RobojamError(f"model {folder}: {e}") from None
    model = Model(*sizes, encoding, {}, metadata, style, temperatures, correlated=correlated)
    model.weights = _read_weights(folder, model.expected_shapes())
    model.selector = load_selector(folder)
    return model


def _architecture_number(arch: dict, name: str) -> int:
    low, high = ARCHITECTURE_LIMITS[name]
    value = arch.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RobojamError(f"{METADATA_FILE}: architecture.{name} is {_shown(value)}; "
                           f"expected a whole number from {low} to {high}")
    return value


def _check_encoding_numbers(spec) -> None:
    """Every number of an encoding finite, and those robojam knows within ENCODING_LIMITS."""
    if not isinstance(spec, dict):
        return  # encoding_from_dict says what is wrong
    if not isinstance(spec.get("name"), str):
        raise RobojamError(f"{METADATA_FILE}: encoding.name is {_shown(spec.get('name'))}; expected the name of "
                           "an encoding")
    for name, value in spec.items():
        if name == "name":
            continue
        low, high = ENCODING_LIMITS.get(name, (-math.inf, math.inf))
        try:
            fits = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
                    and low <= value <= high)
        except OverflowError:
            fits = False
        if not fits:
            wanted = f"a finite number from {low:g} to {high:g}" if name in ENCODING_LIMITS else "a finite number"
            raise RobojamError(f"{METADATA_FILE}: encoding.{name} is {_shown(value)}; expected {wanted}")


def _check_dims(arch: dict, encoding: Encoding, style: Style | None) -> None:
    inputs = encoding.input_dim + (style.dim if style is not None else 0)
    for name, wanted in (("input_dim", inputs), ("output_dim", encoding.output_dim)):
        if name in arch and (isinstance(arch[name], bool) or arch[name] != wanted):
            with_style = " with its style input" if style is not None and name == "input_dim" else ""
            raise RobojamError(f"{METADATA_FILE}: architecture.{name} is {_shown(arch[name])}, but the "
                               f"{encoding.name} encoding{with_style} has {wanted}")


def _shown(value) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return cut(text)


def _read_metadata(folder: Path) -> dict:
    path = folder / METADATA_FILE
    try:
        size = path.stat().st_size
        if size > MAX_METADATA_BYTES:
            raise RobojamError(f"model {folder}: {METADATA_FILE} is {size:,} bytes, more than any model's "
                               f"({MAX_METADATA_BYTES:,} at most)")
        metadata = json.loads(path.read_bytes()[:MAX_METADATA_BYTES + 1])
    except FileNotFoundError:
        raise RobojamError(f"model {folder}: missing {METADATA_FILE}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise RobojamError(f"model {folder}: {METADATA_FILE} is not valid JSON ({str(e)[:120]})") from None
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
    """The arrays the architecture needs, each checked from its headers before its data is read."""
    path = folder / WEIGHTS_FILE
    most = sum(8 * math.prod(shape) + NPY_HEADER_ROOM for shape in shapes.values()) + 65536
    try:
        size = path.stat().st_size
        if size > most:
            raise RobojamError(f"model {folder}: {WEIGHTS_FILE} is {size:,} bytes, more than this architecture's "
                               f"weights need ({most:,} at most)")
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            weights = {}
            for name, shape in shapes.items():
                info = members.get(f"{name}.npy")
                if info is None:
                    raise RobojamError(f"model {folder}: {WEIGHTS_FILE} lacks {name}")
                weights[name] = _read_array(archive, info, name, shape, folder)
    except FileNotFoundError:
        raise RobojamError(f"model {folder}: missing {WEIGHTS_FILE}") from None
    except RobojamError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError,
            KeyError, TypeError, SyntaxError, OverflowError, struct.error) as e:
        raise RobojamError(f"model {folder}: {WEIGHTS_FILE} is corrupt ({str(e)[:120]})") from None
    return weights


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, shape: tuple[int, ...],
                folder: Path) -> np.ndarray:
    fmt = np.lib.format
    most = 8 * math.prod(shape) + NPY_HEADER_ROOM
    if info.file_size > most:
        raise RobojamError(f"model {folder}: {name} is {info.file_size:,} bytes in {WEIGHTS_FILE}, "
                           f"more than shape {shape} needs")
    with archive.open(info) as f:
        version = fmt.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise RobojamError(f"model {folder}: {name} is in .npy format {version}, expected 1.0 or 2.0")
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        found, _, dtype = read_header(f)
        if found != shape:
            raise RobojamError(f"model {folder}: {name} has shape {found}, expected {shape}")
        if dtype.kind != "f" or dtype.itemsize > 8:
            raise RobojamError(f"model {folder}: {name} holds {dtype}, expected float32")
        if info.file_size != f.tell() + dtype.itemsize * math.prod(shape):
            raise RobojamError(f"model {folder}: {name} is {info.file_size:,} bytes in {WEIGHTS_FILE}, "
                               f"not what shape {shape} of {dtype} takes")
    with archive.open(info) as f:
        array = np.asarray(fmt.read_array(f, allow_pickle=False), dtype=np.float32)
    if not np.isfinite(array).all():
        raise RobojamError(f"model {folder}: {name} holds NaN or infinite values")
    return array
