"""The drafts' selector: a learned judge of runs of touches, run in numpy.

robojam can answer a call with several **drafts** and play the one a person
would most likely have played (:mod:`robojam.core.drafts`). The selector says
which: a gradient-boosted tree ensemble that learned to tell the training
split's human continuations from the model's own answers to the same calls,
reading the raw runs of touches of :mod:`robojam.core.touch_runs` (the realism
report's featureless view), with both sides snapped to the report's grid.
``robojam selector`` trains it (scikit-learn, in :mod:`robojam.train.selector`)
and writes its trees here, so that choosing needs numpy alone.

**The file**, ``selector.npz`` in the model's folder, holds the trees as flat
node arrays: ``feature`` (the row column a node splits on), ``threshold``
(a value at or under it goes left), ``missing_left`` (where a NaN goes),
``left`` and ``right`` (node indices), ``leaf`` and ``value`` (a leaf's
contribution to the log-odds); ``roots`` (each tree's first node),
``baseline`` (the log-odds before any tree) and ``points`` (the grid); and in
a selector that reads the call (``robojam selector --reads-call``), ``context``:
how many columns follow each run's, the call's :data:`~robojam.core.features.FEATURES`
(:func:`call_context`), so that it judges an answer as an answer to its call.
It is read as a hostile file: every index is checked, and a tree that does not
reach its leaves within ``MAX_DEPTH`` splits is refused, so a score always ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.features import FEATURES, feature_matrix
from robojam.core.safe_npz import load_npz_arrays
from robojam.core.touch_runs import ROW_WIDTH, run_rows, snap

SELECTOR_FILE = "selector.npz"
NODE_ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "leaf", "value")
MAX_NODES = 1 << 20
MAX_DEPTH = 64
MIN_POINTS, MAX_POINTS = 2, 1 << 16


@dataclass(frozen=True)
class Selector:
    """A tree ensemble over run rows; ``chances`` of a run being robojam's, ``scores`` of answers."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    baseline: float
    points: int
    depth: int
    context: int = 0  # the call's columns after each run's: len(FEATURES) when it reads the call, else 0

    @property
    def width(self) -> int:
        return ROW_WIDTH + self.context

    def call_columns(self, call: np.ndarray) -> np.ndarray:
        """What this selector reads of the call beside every run: its features, or nothing."""
        return call_context(call) if self.context else np.zeros(0)

    def chances(self, rows: np.ndarray) -> np.ndarray:
        """Each row (a run's, then the call's columns) its chance of coming from robojam rather than a person."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self.width)
        nodes = np.repeat(self.roots[:, None], len(rows), axis=1)
        columns = np.arange(len(rows))
        for _ in range(self.depth):  # every tree walks all rows at once, a level a turn
            values = rows[columns, self.feature[nodes]]
            with np.errstate(invalid="ignore"):  # NaN compares False; missing_left decides it
                go_left = np.where(np.isnan(values), self.missing_left[nodes], values <= self.threshold[nodes])
            nodes = np.where(self.leaf[nodes], nodes, np.where(go_left, self.left[nodes], self.right[nodes]))
        log_odds = self.baseline + self.value[nodes].sum(axis=0)
        return 1.0 / (1.0 + np.exp(-log_odds))

    def scores(self, answers: list[np.ndarray], calls: list[np.ndarray] | None = None) -> np.ndarray:
        """Each answer's mean chance, over its runs, of being robojam's: the lowest sounds most like a person.
        A selector that reads the call needs each answer's ``calls``."""
        if self.context and calls is None:
            raise RobojamError("this selector judges answers to their calls: give the calls")
        contexts = [self.call_columns(call) for call in calls] if calls is not None else [np.zeros(0)] * len(answers)
        blocks = [beside(run_rows(snap(answer, self.points)), context) for answer, context in zip(answers, contexts)]
        chances = self.chances(np.vstack(blocks))
        owners = np.repeat(np.arange(len(blocks)), [len(b) for b in blocks])
        return np.bincount(owners, weights=chances, minlength=len(blocks)) / np.bincount(owners)


def call_context(call: np.ndarray) -> np.ndarray:
    """The call's columns a selector that reads it puts beside every run: its FEATURES (finite numbers)."""
    touches = clean(np.asarray(call, dtype=np.float64).reshape(-1, 3))  # pragma: no mutate (reshape-neg)
    if len(touches) < 2:
        return np.full(len(FEATURES), np.nan)  # missing values to the trees: too short to have features
    return feature_matrix([touches])[0]


def beside(rows: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Run rows with the same call columns on the end of each."""
    return np.hstack([rows, np.broadcast_to(context, (len(rows), len(context)))])


def averaged(selectors: list[Selector]) -> Selector:
    """One selector whose log-odds are the mean of ``selectors``' (all on one grid): their trees side
    by side, each leaf's value and the baselines divided by how many there are."""
    if len({selector.points for selector in selectors}) != 1:
        raise RobojamError("selectors on different grids cannot be averaged")
    if len({selector.context for selector in selectors}) != 1:
        raise RobojamError("a selector that reads the call cannot be averaged with one that does not")
    share = 1.0 / len(selectors)
    offsets = np.cumsum([0] + [len(selector.leaf) for selector in selectors[:-1]])

    def joined(name: str, shift: bool = False) -> np.ndarray:
        return np.concatenate([getattr(selector, name) + offset if shift else getattr(selector, name)
                               for selector, offset in zip(selectors, offsets)])

    return selector_from_arrays({
        "feature": joined("feature"), "threshold": joined("threshold"), "missing_left": joined("missing_left"),
        "left": joined("left", shift=True), "right": joined("right", shift=True), "leaf": joined("leaf"),
        "value": joined("value") * share, "roots": joined("roots", shift=True),
        "baseline": np.float64(np.mean([selector.baseline for selector in selectors])),
        "points": np.int64(selectors[0].points), "context": np.int64(selectors[0].context),
    })


def save_selector(selector: Selector, folder: str | Path) -> Path:
    """Write the selector into a model folder; returns the file's path."""
    path = Path(folder) / SELECTOR_FILE
    arrays = {name: getattr(selector, name) for name in NODE_ARRAYS}
    context = {"context": np.int64(selector.context)} if selector.context else {}
    np.savez_compressed(path, roots=selector.roots, baseline=np.float64(selector.baseline),
                        points=np.int64(selector.points), **context, **arrays)
    return path


def load_selector(folder: str | Path) -> Selector | None:
    """The selector in a model folder, None when it has none; a damaged or hostile file raises RobojamError."""
    path = Path(folder) / SELECTOR_FILE
    if not path.exists():
        return None
    arrays = load_npz_arrays(path, NODE_ARRAYS + ("roots", "baseline", "points"), optional=("context",))
    try:
        return selector_from_arrays(arrays)
    except RobojamError as e:
        raise RobojamError(f"{path}: {e}") from None


def selector_from_arrays(arrays: dict[str, np.ndarray]) -> Selector:
    """A checked Selector from its arrays (the file's members, or a fitted ensemble's export)."""
    context = _number(arrays.get("context", np.int64(0)), "context")
    if context not in (0, len(FEATURES)):
        raise RobojamError(f"context must be 0 or {len(FEATURES)} (the call's features), not {context}")
    nodes = _node_arrays(arrays, ROW_WIDTH + int(context))
    count = len(nodes["leaf"])
    roots = _indices(arrays["roots"], "roots", count)
    baseline, points = _number(arrays["baseline"], "baseline"), _number(arrays["points"], "points")
    if not MIN_POINTS <= points <= MAX_POINTS or points != int(points):
        raise RobojamError(f"points must be a whole number from {MIN_POINTS} to {MAX_POINTS}, not {points}")
    depth = _depth(roots, nodes["leaf"], nodes["left"], nodes["right"])
    return Selector(roots=roots, baseline=baseline, points=int(points), depth=depth, context=int(context), **nodes)


def _node_arrays(arrays: dict[str, np.ndarray], width: int) -> dict[str, np.ndarray]:
    count = np.asarray(arrays["leaf"]).size
    if not 1 <= count <= MAX_NODES:
        raise RobojamError(f"{count} nodes; a selector has 1 to {MAX_NODES}")
    for name in NODE_ARRAYS:
        if np.asarray(arrays[name]).shape != (count,):
            raise RobojamError(f"{name} must hold one value a node ({count}), not shape {np.shape(arrays[name])}")
    nodes = {"leaf": _flags(arrays["leaf"], "leaf"), "missing_left": _flags(arrays["missing_left"], "missing_left"),
             "left": _indices(arrays["left"], "left", count), "right": _indices(arrays["right"], "right", count),
             "feature": _indices(arrays["feature"], "feature", width)}
    for name in ("threshold", "value"):
        numbers = np.asarray(arrays[name])
        if numbers.dtype.kind != "f" or np.isnan(numbers).any():
            raise RobojamError(f"{name} must be real numbers, none NaN")
        nodes[name] = numbers.astype(np.float64)
    if not np.isfinite(nodes["value"]).all():
        raise RobojamError("value must be finite")
    return nodes


def _flags(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != np.bool_:
        raise RobojamError(f"{name} must be true/false flags, not {array.dtype}")
    return array


def _indices(array: np.ndarray, name: str, bound: int) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind not in "iu" or array.ndim != 1 or not len(array):
        raise RobojamError(f"{name} must be a list of whole numbers")
    if array.min() < 0 or array.max() >= bound:
        raise RobojamError(f"{name} must lie from 0 to {bound - 1}")
    return array.astype(np.int64)


def _number(array: np.ndarray, name: str) -> float:
    array = np.asarray(array)
    if array.shape != () or array.dtype.kind not in "iuf" or not np.isfinite(array):
        raise RobojamError(f"{name} must be one finite number")
    return float(array)


def _depth(roots: np.ndarray, leaf: np.ndarray, left: np.ndarray, right: np.ndarray) -> int:
    """How many splits the deepest walk takes; a tree still splitting after MAX_DEPTH is refused."""
    frontier = roots[~leaf[roots]]
    for depth in range(MAX_DEPTH + 1):
        if not len(frontier):
            return depth
        children = np.concatenate([left[frontier], right[frontier]])
        frontier = np.unique(children[~leaf[children]])
    raise RobojamError(f"a tree does not reach its leaves within {MAX_DEPTH} splits")
