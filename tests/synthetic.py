"""Small synthetic performances and tiny random models, made here (tests never need the shared corpus)."""

from __future__ import annotations

import numpy as np

from robojam.core.encoding import DeltaEncoding, HeadingEncoding, RawEncoding
from robojam.core.modelfile import Model
from robojam.core.style import Style


def synthetic_performance(rng: np.random.Generator, strokes: int = 3) -> np.ndarray:
    """Raw x, y, dt rows: a few straight-ish strokes sampled at 60 Hz with pauses between."""
    rows = []
    for _ in range(strokes):
        start = rng.uniform(0.1, 0.9, 2)
        velocity = rng.normal(0, 0.01, 2)
        for i in range(int(rng.integers(5, 25))):
            x, y = start + velocity * i + rng.normal(0, 0.002, 2)
            dt = 0.0 if not rows else (rng.uniform(0.2, 0.6) if i == 0 else rng.normal(1 / 60, 0.001))
            rows.append((x, y, abs(dt)))
    return np.array(rows)


def synthetic_corpus(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [synthetic_performance(rng) for _ in range(count)]


def long_corpus(count: int, seed: int = 0) -> list[np.ndarray]:
    """Performances long enough to make realism pairs (10 strokes: ~150 touches over ~5 s)."""
    rng = np.random.default_rng(seed)
    return [synthetic_performance(rng, strokes=10) for _ in range(count)]


def corpus_file(path, performances: list[np.ndarray]):
    """The performances written in the published corpus layout (arr_0, an object array of (n, 3) x, y, dt)."""
    items = np.empty(len(performances), dtype=object)
    items[:] = [np.asarray(p, dtype=np.float32) for p in performances]
    np.savez(path, items)
    return path


def random_model(layers: int = 2, units: int = 16, mixtures: int = 3, encoding: str = "delta",
                 seed: int = 0, style: bool = False, correlated: bool = False) -> Model:
    """A model with random weights, built without TensorFlow; ``style``: with a style input fitted
    on a small synthetic corpus; ``correlated``: with a correlated head."""
    enc = {"delta": DeltaEncoding, "heading": HeadingEncoding}[encoding](10.0, -3.5, 1.2) \
        if encoding != "robojam" else RawEncoding()
    model = Model(layers, units, mixtures, enc, {}, style=Style.fitted(synthetic_corpus(20)) if style else None,
                  correlated=correlated)
    rng = np.random.default_rng(seed)
    model.weights = {name: rng.normal(0, 0.3, shape).astype(np.float32)
                     for name, shape in model.expected_shapes().items()}
    return model
