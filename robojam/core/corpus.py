"""Loading and cleaning touch performance data for training and scoring.

Sources are the published corpus format (an ``.npz`` whose ``arr_0`` is an
object array of (n, 3) ``x, y, dt`` arrays), single CSV performances, the
server's touch logs (:mod:`robojam.core.touchlog`) and folders of either.
Everything comes out as *raw* (n, 3) float64 ``x, y, dt`` arrays;
:func:`clean` is the one place where data is cleaned.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.performance import read_csv
from robojam.core.safe_npz import load_npz_arrays
from robojam.core.touchlog import PERFORMER, is_log_file, read_log

MAX_DT = 5.0
SPLITS = ("train", "val", "test")
# Share of performances in each held-out split, by a hash of their content so
# that every command agrees on the split without storing it.
VAL_PERCENT = 10
TEST_PERCENT = 10


def load_performances(sources: list[str | Path], log_sources=(PERFORMER,)) -> list[np.ndarray]:
    """Raw ``x, y, dt`` arrays from every ``.npz`` corpus, CSV file, touch log or folder named.

    ``log_sources`` picks whose touches touch logs contribute: the
    performers' alone by default, ``("performer", "robojam")`` to add
    robojam's own responses.
    """
    performances = []
    for source in sources:
        performances.extend(load_source(Path(source), log_sources))
    return performances


def load_source(path: Path, log_sources=(PERFORMER,)) -> list[np.ndarray]:
    if path.is_dir():
        return load_csv_folder(path, log_sources)
    if not path.exists():
        raise RobojamError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".npz":
        return load_corpus_npz(path)
    if path.suffix.lower() == ".csv":
        return load_csv(path, log_sources)
    raise RobojamError(f"{path}: expected a .npz corpus, a .csv performance or a folder of .csv files")


def load_csv_folder(folder: Path, log_sources=(PERFORMER,)) -> list[np.ndarray]:
    files = sorted(folder.rglob("*.csv"))
    if not files:
        raise RobojamError(f"{folder}: no .csv performances in this folder")
    return [performance for f in files for performance in load_csv(f, log_sources)]


def load_csv(path: Path, log_sources=(PERFORMER,)) -> list[np.ndarray]:
    """A touch log's performances (touches from ``log_sources``), or a CSV performance."""
    if is_log_file(path):
        return read_log(path, sources=log_sources)
    return [read_csv(path).xy_dt()]


def load_corpus_npz(path: Path) -> list[np.ndarray]:
    """Performances from the published corpus layout (key ``arr_0``, object array of (n, 3)).

    The published layout is an object array, which numpy stores as a pickle,
    and a pickle can name any function to call: it is read by
    :func:`robojam.core.safe_npz.load_npz_arrays`, which rebuilds numpy arrays
    of numbers and refuses anything else before it runs.
    """
    if not zipfile.is_zipfile(path):
        raise RobojamError(f"{path}: not a readable .npz corpus (not a zip archive)")
    try:
        items = load_npz_arrays(path, ["arr_0"])["arr_0"]
    except RobojamError as e:
        if "no 'arr_0' array" in str(e):
            raise RobojamError(f"{e}; expected the published corpus layout") from None
        raise
    if items.ndim == 0:
        raise RobojamError(f"{path}: 'arr_0' is a single value; expected the published corpus layout")
    return [_corpus_item(item, path, i) for i, item in enumerate(items)]


def save_corpus_npz(performances: list[np.ndarray], path: str | Path) -> Path:
    """Write performances in the published corpus layout (``arr_0``: an object array of float32 (n, 3))."""
    path = Path(path)
    items = np.empty(len(performances), dtype=object)
    for i, performance in enumerate(performances):
        items[i] = np.asarray(performance, dtype=np.float32).reshape(-1, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:  # a file, not a name: numpy would append .npz to a name without it
        np.savez(file, items)
    return path


def _corpus_item(item, path: Path, index: int) -> np.ndarray:
    try:
        array = np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError):
        raise RobojamError(f"{path}: performance {index} is not numeric") from None
    if array.ndim != 2 or array.shape[1] != 3:
        raise RobojamError(f"{path}: performance {index} has shape {array.shape}, expected (n, 3) x, y, dt")
    return array


def clean(raw: np.ndarray) -> np.ndarray:
    """The cleaning every model sees: NaN dropped, x, y clipped to [0, 1], dt to [0, MAX_DT]."""
    array = np.asarray(raw, dtype=np.float64)
    array = array[np.isfinite(array).all(axis=1)]
    return np.column_stack([
        np.clip(array[:, 0], 0.0, 1.0),
        np.clip(array[:, 1], 0.0, 1.0),
        np.clip(array[:, 2], 0.0, MAX_DT),
    ])


def scored(raw: np.ndarray) -> np.ndarray:
    """Which events count in the held-out score: raw x, y in [0, 1] and dt in (0, MAX_DT].

    The first event is never scored (nothing comes before it).
    """
    array = np.asarray(raw, dtype=np.float64)
    in_range = (
        (array[:, 0] >= 0) & (array[:, 0] <= 1)
        & (array[:, 1] >= 0) & (array[:, 1] <= 1)
        & (array[:, 2] > 0) & (array[:, 2] <= MAX_DT)
    )
    in_range[:1] = False
    return in_range


def usable(performances: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(cleaned, scored-mask) pairs for performances with at least two finite events."""
    pairs = []
    for raw in performances:
        finite = np.asarray(raw, dtype=np.float64)
        finite = finite[np.isfinite(finite).all(axis=1)]
        if len(finite) >= 2:
            pairs.append((clean(finite), scored(finite)))
    return pairs


def split_of(raw: np.ndarray) -> str:
    """The split ('train', 'val' or 'test') a performance belongs to, from a hash of its content."""
    digest = hashlib.sha256(np.ascontiguousarray(raw, dtype=np.float32).tobytes()).digest()
    bucket = int.from_bytes(digest[:4], "little") % 100
    if bucket < TEST_PERCENT:
        return "test"
    if bucket < TEST_PERCENT + VAL_PERCENT:
        return "val"
    return "train"


def select_split(performances: list[np.ndarray], split: str) -> list[np.ndarray]:
    """The performances of one split, or all of them for ``split='all'``."""
    if split == "all":
        return list(performances)
    if split not in SPLITS:
        raise RobojamError(f"unknown split {split!r}; choose from all, {', '.join(SPLITS)}")
    return [p for p in performances if split_of(p) == split]


def summary(performances: list[np.ndarray]) -> dict:
    """Counts that describe a data set, for model metadata and messages."""
    return {"performances": len(performances), "events": int(sum(len(p) for p in performances))}
