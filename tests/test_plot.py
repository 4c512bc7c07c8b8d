import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.performance import Performance
from robojam.tools.plot import plot_performances

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def circle(n=40, start=0.0):
    angle = np.linspace(0, 2 * np.pi, n)
    time = start + np.linspace(0, 2.0, n)
    moving = np.ones(n)
    moving[0] = 0
    return Performance(np.column_stack([time, 0.5 + 0.3 * np.cos(angle), 0.5 + 0.3 * np.sin(angle),
                                        np.full(n, 0.5), moving]))


def line_and_taps():
    """A diagonal drag from the top left, then two taps (one-event strokes)."""
    n = 20
    time = np.linspace(0, 1.0, n)
    drag = np.column_stack([time, np.linspace(0.1, 0.9, n), np.linspace(0.1, 0.6, n), np.full(n, 0.5), np.ones(n)])
    drag[0, 4] = 0
    taps = np.array([[1.5, 0.2, 0.9, 0.5, 0], [2.0, 0.8, 0.9, 0.5, 0]])
    return Performance(np.vstack([drag, taps]))


def read_png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_MAGIC
    return imread(path)[..., :3]


def test_one_and_two_panels(tmp_path):
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    plot_performances([("call", circle())], one)
    plot_performances([("call", circle()), ("response", line_and_taps())], two)
    img1, img2 = read_png(one), read_png(two)
    assert img2.shape[1] > img1.shape[1]
    for img in (img1, img2):
        assert (img < 0.95).any(), "nothing was drawn"
        spread = img.max(axis=2) - img.min(axis=2)
        assert (spread > 0.2).any(), "no coloured pixels"


def test_dpi_scales_image(tmp_path):
    small, big = tmp_path / "small.png", tmp_path / "big.png"
    plot_performances([("call", circle())], small, dpi=50)
    plot_performances([("call", circle())], big, dpi=100)
    assert read_png(big).shape[0] > read_png(small).shape[0]


def test_empty_and_single_touch_panels(tmp_path):
    path = tmp_path / "empty.png"
    plot_performances([("call", Performance(np.zeros((0, 5)))),
                       ("tap", Performance([[0.0, 0.5, 0.5, 0.5, 0]]))], path)
    assert read_png(path).shape[1] > 0


def test_missing_directory_raises(tmp_path):
    with pytest.raises(RobojamError, match="cannot write plot"):
        plot_performances([("call", circle())], tmp_path / "missing" / "plot.png")


def test_unknown_extension_raises(tmp_path):
    with pytest.raises(RobojamError, match=r"\.xyz"):
        plot_performances([("call", circle())], tmp_path / "plot.xyz")
    with pytest.raises(RobojamError):
        plot_performances([("call", circle())], tmp_path / "plot")


def test_no_panels_raises(tmp_path):
    with pytest.raises(RobojamError):
        plot_performances([], tmp_path / "plot.png")
