"""Pictures of touch performances: strokes on a square screen, coloured by time.

matplotlib is imported inside :func:`plot_performances` only, and drawn with
a bare ``Figure`` on an Agg canvas: no pyplot, no display, no global state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.performance import Performance

# One colormap per panel in turn: the call, then the response(s).
COLORMAPS = ("viridis", "plasma", "cividis", "magma")
PANEL_INCHES = 4.0


def plot_performances(panels: list[tuple[str, Performance]], path: str | Path, dpi: int = 100) -> None:
    """Draw each (title, performance) side by side as touch trails coloured by time, save PNG to path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if not panels:
        raise RobojamError("nothing to plot: no performances given")
    fig = Figure(figsize=(PANEL_INCHES * len(panels), PANEL_INCHES + 0.6), layout="compressed")
    canvas = FigureCanvasAgg(fig)
    formats = canvas.get_supported_filetypes()
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise RobojamError(f"{path}: cannot save a plot as {path.suffix or 'a file without extension'!r}; "
                           f"use one of {', '.join('.' + f for f in sorted(formats))} (e.g. .png)")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for i, (ax, (title, performance)) in enumerate(zip(axes, panels)):
        _draw_panel(fig, ax, title, performance, COLORMAPS[i % len(COLORMAPS)])
    try:
        fig.savefig(path, dpi=dpi, format=suffix)
    except OSError as e:
        raise RobojamError(f"{path}: cannot write plot ({e.strerror or e})") from None


def _draw_panel(fig, ax, title: str, performance: Performance, cmap_name: str) -> None:
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(0, 1)
    ax.set_ylim(1, 0)  # screen coordinates: y grows downwards
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.add_patch(Rectangle((0, 0), 1, 1, facecolor="#f7f7f7", edgecolor="#bbbbbb", linewidth=1.5, zorder=0))
    n = len(performance)
    span = float(performance.time[-1] - performance.time[0]) if n else 0.0
    ax.set_title(f"{title}\n{n} touches, {span:.1f} s", fontsize=11)
    if n == 0:
        ax.text(0.5, 0.5, "(no touches)", ha="center", va="center", color="#888888", fontsize=12)
        return

    t, x, y, moving = performance.time, performance.events[:, 1], performance.events[:, 2], performance.events[:, 4]
    cmap = colormaps[cmap_name]
    norm = Normalize(t[0], max(t[-1], t[0] + 1e-9))
    # A segment joins each dragging event to the one before it; touch-downs start afresh.
    drag = np.nonzero(moving[1:] != 0)[0] + 1
    points = np.column_stack([x, y])
    segments = np.stack([points[drag - 1], points[drag]], axis=1)
    lines = LineCollection(segments, cmap=cmap, norm=norm, linewidths=2.0, capstyle="round")
    lines.set_array((t[drag - 1] + t[drag]) / 2)
    ax.add_collection(lines)
    down = moving == 0
    ax.scatter(x[down], y[down], c=t[down], cmap=cmap, norm=norm, s=18,
               edgecolors="black", linewidths=0.4, zorder=3)
    bar = fig.colorbar(lines, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02)
    bar.set_label("time (s)", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    bar.locator = MaxNLocator(5)
    bar.update_ticks()
