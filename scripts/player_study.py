"""Fine-tuned against base against from-scratch, on one "player" of the shared corpus.

The corpus names no performers, so a player is made: the corpus's
performances are grouped by style (k-means on their rhythm and stroke
features, robojam.train.realism.describe, standardised, in 6 clusters). The
player is the style whose test-split performances (which the shipped model
never saw: a new player, to it) the shipped model scores worst, among styles
with at least 24 of them. Two in three of those are the player's rehearsal,
the others are held out.

Then, on the same rehearsal:
  - the shipped default model, untouched (base);
  - `robojam train REHEARSAL --from default` with its defaults (fine-tuned);
  - `robojam train REHEARSAL` from scratch with the default's architecture, for as
    many epochs as fine-tuning ran (the same time: same architecture, same data);
and each is scored on the held-out performances.

    .venv/bin/python scripts/player_study.py ../shared/data/tiny-performances.npz runs/player

Needs the train and eval extras.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from robojam.core.corpus import load_performances, select_split, usable
from robojam.core.modelfile import load_model
from robojam.core.performance import Performance, write_csv
from robojam.train.evaluate import score_model
from robojam.train.realism import FEATURES, describe

STYLE = ("touch_rate", "pause_share", "strokes_per_s", "tap_share", "stroke_length", "step_length", "speed",
         "turning", "straight_share", "spread_x", "spread_y")
CLUSTERS = 6
MIN_PERFORMANCES = 24


def player(performances: list[np.ndarray]) -> list[np.ndarray]:
    from sklearn.cluster import KMeans

    clean = [c for c, _ in usable(performances)]
    columns = [FEATURES.index(name) for name in STYLE]
    features = np.array([[describe(p)[FEATURES[i]] for i in columns] for p in clean])
    features = (features - features.mean(0)) / np.maximum(features.std(0), 1e-9)
    labels = KMeans(CLUSTERS, n_init=10, random_state=0).fit_predict(features)
    unseen = [select_split([p for p, label in zip(clean, labels) if label == k], "test") for k in range(CLUSTERS)]
    base = load_model()
    candidates = [c for c in unseen if len(c) >= MIN_PERFORMANCES]
    return max(candidates, key=lambda c: score_model(base, c).nll_per_event)


def write_folder(performances: list[np.ndarray], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(performances):
        write_csv(Performance.from_xy_dt(p), folder / f"p{i:04d}.csv")


def train(args: list[str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "robojam", "train", *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main(corpus: str, out: str) -> None:
    out_dir = Path(out)
    mine = player(load_performances([corpus]))
    held_out = mine[::3]
    rehearsal = [p for i, p in enumerate(mine) if i % 3]
    write_folder(rehearsal, out_dir / "rehearsal")
    touches = sum(len(p) for p in rehearsal)
    seconds_tuned = train([str(out_dir / "rehearsal"), "-o", str(out_dir / "tuned"), "--from", "default"])
    epochs = json.loads((out_dir / "tuned" / "model.json").read_text())["training"]["epochs_run"]
    seconds_scratch = train([str(out_dir / "rehearsal"), "-o", str(out_dir / "scratch"), "--epochs", str(epochs),
                             "--patience", str(epochs)])
    scores = {name: score_model(model, held_out).nll_per_event for name, model in
              (("base", load_model()), ("fine-tuned", load_model(out_dir / "tuned")),
               ("from scratch", load_model(out_dir / "scratch")))}
    report = {"player_performances": len(mine), "epochs": epochs, "player_style_medians": {
                  name: round(float(np.median([describe(p)[name] for p in mine])), 3) for name in STYLE},
              "rehearsal_performances": len(rehearsal),
              "rehearsal_touches": touches, "held_out_performances": len(held_out),
              "seconds": {"fine-tuned": round(seconds_tuned, 1), "from scratch": round(seconds_scratch, 1)},
              "held_out_nll": {k: round(v, 3) for k, v in scores.items()}}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:3])
