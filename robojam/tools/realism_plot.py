"""The picture for ``robojam eval --realism --plot``: how robojam's responses differ from people's.

Top, small multiples: each feature's distribution over the human
continuations and over robojam's responses (histograms on shared bins), titled
with its two-sample KS distance. Below, a few calls with their human
continuation and robojam's response side by side, as touch trails
(:mod:`robojam.tools.plot`'s panels). Drawn like :mod:`robojam.tools.plot`: a
bare ``Figure`` on an Agg canvas, matplotlib imported when drawing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.performance import Performance
from robojam.train.realism import FEATURES, Study
from robojam.tools.plot import COLORMAPS, _draw_panel

COLUMNS = 6
HUMAN_COLOUR, ROBOJAM_COLOUR = "#4c72b0", "#dd8452"
BINS = 20
EXAMPLE_PARTS = (("call", "call"), ("human continuation", "human"), ("robojam's response", "robojam"))


def check_plot_path(path: str | Path) -> Path:
    """The path, if matplotlib can save to its format; RobojamError naming the formats if not."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise RobojamError(f"{path}: cannot save a plot as {path.suffix or 'a file without extension'!r}; "
                           f"use one of {', '.join('.' + f for f in sorted(formats))} (e.g. .png)")
    return path


def plot_realism(study: Study, path: str | Path, examples: int = 3, dpi: int = 80) -> int:
    """Draw the feature distributions and ``examples`` pairs of the study, save to path (PNG); pairs drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = check_plot_path(path)
    shown = _example_indices(len(study.pairs), examples)
    rows = math.ceil(len(FEATURES) / COLUMNS)
    fig = Figure(figsize=(3.0 * COLUMNS, 2.2 * rows + 4.4 * len(shown)), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.2 * rows, max(4.4 * len(shown), 0.01)])
    _draw_histograms(top, study, rows)
    _draw_examples(bottom, study, shown)
    try:
        fig.savefig(path, dpi=dpi, format=path.suffix.lower().lstrip("."))
    except OSError as e:
        raise RobojamError(f"{path}: cannot write plot ({e.strerror or e})") from None
    return len(shown)


def _example_indices(count: int, examples: int) -> list[int]:
    """Up to ``examples`` pairs spread evenly over the study."""
    return sorted(set(np.linspace(0, count - 1, min(examples, count)).round().astype(int).tolist())) if count else []


def _draw_histograms(subfig, study: Study, rows: int) -> None:
    report = study.report
    subfig.suptitle(f"{report['pairs']} human continuations and robojam's responses: realism AUC "
                    f"{report['realism_auc']:.2f} (control {report['control_auc']:.2f})", fontsize=13)
    axes = subfig.subplots(rows, COLUMNS, squeeze=False).ravel()
    for j, ax in enumerate(axes):
        if j >= len(FEATURES):
            ax.set_visible(False)
            continue
        name, human, robojam = FEATURES[j], study.humans[:, j], study.responses[:, j]
        bins = _shared_bins(human, robojam)
        ax.hist(human, bins=bins, color=HUMAN_COLOUR, alpha=0.55, label="human")
        ax.hist(robojam, bins=bins, color=ROBOJAM_COLOUR, alpha=0.55, label="robojam")
        ax.set_title(f"{name} (KS {report['ks'][name]:.2f})", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
        if j == 0:
            ax.legend(fontsize=7, frameon=False)


def _shared_bins(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """BINS bins over both samples' 1st to 99th percentile (outliers fall outside)."""
    both = np.concatenate([a, b])
    low, high = np.percentile(both, [1, 99]) if len(both) else (0.0, 1.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, BINS + 1)


def _draw_examples(subfig, study: Study, shown: list[int]) -> None:
    if not shown:
        return
    rows = subfig.subfigures(len(shown), 1, squeeze=False).ravel()
    for row, index in zip(rows, shown):
        pair = study.pairs[index]
        axes = row.subplots(1, len(EXAMPLE_PARTS), squeeze=False)[0]
        for k, (ax, (title, part)) in enumerate(zip(axes, EXAMPLE_PARTS)):
            performance = Performance.from_xy_dt(getattr(pair, part))
            _draw_panel(row, ax, f"pair {index + 1}: {title}", performance, COLORMAPS[k % len(COLORMAPS)])
