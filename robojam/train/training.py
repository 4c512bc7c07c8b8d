"""Training an MDN-RNN on touch performances with Keras and keras-mdn-layer.

Performances are split by content hash (:func:`robojam.core.corpus.split_of`):
the network is fitted on 'train', early stopping watches 'val', and 'test'
is never seen, so it can be held out for ``robojam eval --split test``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import select_split, summary, usable
from robojam.core.encoding import DeltaEncoding, Encoding, HeadingEncoding, RawEncoding
from robojam.core.features import STYLE_FEATURES
from robojam.core.mixture import Head
from robojam.core.modelfile import Model, save_model
from robojam.core.style import Style, call_part
from robojam.train.evaluate import score_model
from robojam.train.look_ahead import (WARMUP_EPOCHS, ahead_targets, fit_ahead_head_alone, standardise_gaps,
                                      with_look_ahead)


# Training adds Gaussian noise of this spread to the (standardised) style input, so that a style
# cannot serve as a performance's name: without it the network learns the training performances
# by their style and does worse on new ones.
STYLE_NOISE = 0.7


@dataclass
class TrainOptions:
    """How to train; the defaults are robojam train's (one source for both)."""

    layers: int = 2
    units: int = 64
    mixtures: int = 8
    seq_len: int = 64
    encoding: str = "heading"
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 8
    seed: int = 0
    style: bool = False  # a style input: the network also reads the call's style (robojam.core.style)
    style_noise: float = STYLE_NOISE
    style_features: tuple[str, ...] | None = None  # what a style input reads; None: STYLE_FEATURES
    base: str | None = None  # fine-tune this model (its folder) instead of starting from scratch
    correlated: bool = False  # a correlation per component in the head (robojam.core.mixture.Head)
    look_ahead: int = 0  # also train a head on the touch this many on (robojam.train.look_ahead); 0: none
    look_ahead_weight: float = 0.3  # its loss's weight beside the next touch's

    ARCHITECTURE = ("layers", "units", "mixtures", "encoding")


# Fine-tuning on a few minutes of one player's playing: fewer, gentler steps, stopping sooner.
FINE_TUNING = {"epochs": 30, "learning_rate": 3e-5, "patience": 4}


def train_options(base: str | None = None, **given) -> TrainOptions:
    """Options for training from scratch, or for fine-tuning ``base``; values given (not None) win.

    Fine-tuning keeps the base model's architecture and encoding, so giving
    those is an error (``style`` may add a style input to a base without one).
    """
    given = {name: value for name, value in given.items() if value is not None}
    if base is not None:
        clash = sorted(set(given) & set(TrainOptions.ARCHITECTURE))
        if clash:
            raise RobojamError(f"--{clash[0]} does not apply when fine-tuning: the base model's "
                               f"architecture and encoding are kept")
        given = {**FINE_TUNING, **given}
    return TrainOptions(**given, base=base)


def make_encoding(name: str, train: list[np.ndarray]) -> Encoding:
    if name == "robojam":
        return RawEncoding()
    if name == "delta":
        return DeltaEncoding.fitted(train)
    if name == "heading":
        return HeadingEncoding.fitted(train)
    raise RobojamError(f"unknown encoding {name!r}; choose robojam, delta or heading")


def make_windows(performances: list[np.ndarray], encoding: Encoding, seq_len: int, style: Style | None = None,
                 look_ahead: int = 0):
    """Training windows: inputs (N, L, F) and targets with a weight column (N, L, D + 1).

    Window step t reads event t and predicts event t + 1; windows start every
    ``seq_len // 2`` events, always at a performance's start, and padding and
    unscored targets get weight 0. With a ``style``, every event's inputs end
    with its ``style_columns``. With ``look_ahead`` k, step t's targets end
    with event t's ``ahead_targets`` (the touch k on, and its own weight).
    """
    stride = max(1, seq_len // 2)
    inputs, targets = [], []
    for clean, mask in usable(performances):
        x, y = encoding.inputs(clean), encoding.targets(clean)
        if style is not None:
            x = np.hstack([x, style_columns(clean, style)])
        weights = mask.astype(np.float64)
        ahead = ahead_targets(clean, mask, look_ahead) if look_ahead else np.zeros((len(clean), 0))
        width = y.shape[1]
        for start in range(0, len(clean) - 1, stride):
            stop = min(start + seq_len, len(clean) - 1)
            window_x = np.zeros((seq_len, x.shape[1]))
            window_y = np.zeros((seq_len, width + 1 + ahead.shape[1]))
            window_x[:stop - start] = x[start:stop]
            window_y[:stop - start, :width] = y[start + 1:stop + 1]
            window_y[:stop - start, width] = weights[start + 1:stop + 1]
            window_y[:stop - start, width + 1:] = ahead[start:stop]
            inputs.append(window_x)
            targets.append(window_y)
    if not inputs:
        raise RobojamError("no performance with at least two touches to train on")
    return np.array(inputs, dtype=np.float32), np.array(targets, dtype=np.float32)


def style_columns(clean: np.ndarray, style: Style) -> np.ndarray:
    """Each event's style input: none (zeros) through the call (the first half by time), then the
    call's style, as robojam hears a call and then plays."""
    heard = len(call_part(clean))
    columns = np.zeros((len(clean), style.dim))
    columns[heard:] = style.vector(clean[:heard])
    return columns


def split_for_training(performances: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(train, val) performances; a tiny data set with no 'val' member validates on 'train'."""
    train = select_split(performances, "train")
    val = select_split(performances, "val")
    if not train:
        train = val or select_split(performances, "test")
    return train, (val or train)


def train(performances: list[np.ndarray], options: TrainOptions, out: str | Path,
          sources: list[str] = (), base: Model | None = None, drafted: list[np.ndarray] = ()) -> Model:
    """Fit a network (from scratch, or from ``base``: fine-tuning), save the best one to ``out``
    (with checkpoints on the way) and return it.

    ``drafted`` answers (:mod:`robojam.train.distill`) join the train split alone. With them the run
    trains ``options.epochs`` epochs and keeps the last: the validation loss measures the fit to
    people's touches, which teaching on drafted answers trades for answers like people's, so it
    cannot choose the epoch (the realism report on the val split does, docs/model.md).
    """
    from robojam.train.network import build_sequence_network, load_into_keras, masked_mdn_loss, weights_from_keras

    import keras

    keras.utils.set_random_seed(options.seed)
    train_set, val_set = split_for_training(performances)
    calls = [c for c, _ in usable(train_set)]
    if base is not None:
        base = _with_style_asked_for(base, options, calls)
        if options.correlated and not base.correlated:
            base = with_correlations(base)
        options = _with_architecture_of(base, options)
    encoding = base.encoding if base is not None else make_encoding(options.encoding, train_set)
    style = base.style if base is not None else (Style.fitted(calls, _style_features(options))
                                                  if _wants_style(options) else None)
    drafted = list(drafted)
    train_x, train_y = make_windows(train_set + drafted, encoding, options.seq_len, style, options.look_ahead)
    val_x, val_y = make_windows(val_set, encoding, options.seq_len, style, options.look_ahead)
    if options.look_ahead:
        standardise_gaps(train_y, val_y)
    print(f"training on {len(train_set)} performances" + (f" and {len(drafted)} drafted answers" if drafted else "")
          + f" ({len(train_x)} windows of {options.seq_len}), validating on {len(val_set)}"
          + (f"; a second head looks {options.look_ahead} touches ahead" if options.look_ahead else ""), flush=True)

    network = build_sequence_network(encoding.input_dim, options.layers, options.units, options.mixtures,
                                     style_dim=style.dim if style is not None else 0,
                                     style_noise=options.style_noise, correlated=options.correlated,
                                     look_ahead=bool(options.look_ahead))
    if base is not None:
        load_into_keras(network, base)
    head = Head(encoding.output_dim, options.mixtures, options.correlated)
    loss, metrics, judged_by = masked_mdn_loss(encoding.output_dim, options.mixtures, options.correlated), [], "loss"
    if options.look_ahead:  # the run is judged and stopped by the next touch's loss alone
        loss, next_touch = with_look_ahead(loss, head.size, encoding.output_dim, options.look_ahead_weight)
        metrics, judged_by = [next_touch], "next_touch"
        if base is not None:
            print(f"fitting the look-ahead head alone first ({WARMUP_EPOCHS} epochs)", flush=True)
            fit_ahead_head_alone(network, loss, train_x, train_y, options.batch_size,
                                 verbose=1 if sys.stdout.isatty() else 2)
    network.compile(optimizer=keras.optimizers.Adam(options.learning_rate, clipnorm=1.0), loss=loss, metrics=metrics)

    def snapshot(extra: dict) -> Model:
        metadata = {"training": {**asdict(options), **extra, "data": list(map(str, sources)),
                                 "train": summary(train_set), "val": summary(val_set),
                                 **({"drafted_answers": summary(drafted)} if drafted else {})}}
        return Model(options.layers, options.units, options.mixtures, encoding,
                     weights_from_keras(network, options.layers, head), metadata, style,
                     correlated=options.correlated)

    checkpoint_dir = Path(out) / "checkpoints"
    started = time.monotonic()
    base_loss = float(network.evaluate(val_x, val_y, batch_size=options.batch_size, verbose=0,
                                       return_dict=True)[judged_by]) if base is not None else np.inf
    monitor = f"val_{judged_by}"
    history = network.fit(
        train_x, train_y, validation_data=(val_x, val_y), epochs=options.epochs,
        batch_size=options.batch_size, shuffle=True, verbose=1 if sys.stdout.isatty() else 2,
        callbacks=[checkpoint_best(lambda: snapshot({}), checkpoint_dir, every_epoch=True)] if drafted else [
            keras.callbacks.EarlyStopping(monitor, patience=options.patience, mode="min", restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor, factor=0.5, patience=max(1, options.patience // 2), mode="min"),
            checkpoint_best(lambda: snapshot({}), checkpoint_dir, monitor=monitor),
        ],
    )
    val_losses = np.array(history.history[monitor], dtype=np.float64)
    kept_loss, kept_base = _kept_epoch(val_losses, base_loss, last=bool(drafted))
    if kept_base:  # no epoch beat the model it started from: that one is the best there is
        load_into_keras(network, base)
    model = snapshot({"epochs_run": len(val_losses), "best_val_loss": kept_loss, "kept_base": kept_base,
                      "kept_epoch": "last" if drafted else "best",
                      "seconds": round(time.monotonic() - started, 1)})
    model.metadata["score"] = {"split": "val", **score_model(model, val_set).to_dict()}
    if base is not None:
        model.metadata["base_score"] = {"split": "val", **score_model(base, val_set).to_dict()}
    save_model(model, out)
    return model


def _kept_epoch(val_losses: np.ndarray, base_loss: float, last: bool) -> tuple[float, bool]:
    """The validation loss of the weights kept, and whether they are the base's (no epoch beat it);
    with ``last``, the last epoch's weights are kept whatever their loss."""
    if last:
        return float(val_losses[-1]), False
    best = float(np.min(val_losses[np.isfinite(val_losses)], initial=np.inf))
    return min(best, base_loss), best >= base_loss


def _wants_style(options: TrainOptions) -> bool:
    return options.style or options.style_features is not None


def _style_features(options: TrainOptions) -> tuple[str, ...]:
    return options.style_features if options.style_features is not None else STYLE_FEATURES


def _with_style_asked_for(base: Model, options: TrainOptions, calls: list[np.ndarray]) -> Model:
    """The base to fine-tune, with a style input added (--style) or the --style-features its own lacks."""
    if base.style is None and _wants_style(options):
        return with_style_input(base, Style.fitted(calls, _style_features(options)))
    if base.style is not None and options.style_features is not None:
        return with_style_input(base, base.style.extended(calls, options.style_features))
    return base


def with_style_input(model: Model, style: Style) -> Model:
    """The model reading ``style``: a style input added, or the features its own lacks appended
    (``Style.extended``), each weighted 0 at first: it plays as before until trained."""
    weights = dict(model.weights)
    kernel = weights["lstm0_kernel"]
    added = style.dim - (model.style.dim if model.style is not None else 0)
    weights["lstm0_kernel"] = np.vstack([kernel, np.zeros((added, kernel.shape[1]), kernel.dtype)])
    return replace(model, weights=weights, style=style)


def with_correlations(model: Model) -> Model:
    """The model with a correlated head, every correlation 0 (its weights zeros): it plays as before
    until trained."""
    weights = dict(model.weights)
    weights["mdn_rhos_kernel"] = np.zeros((model.units, model.mixtures), np.float32)
    weights["mdn_rhos_bias"] = np.zeros(model.mixtures, np.float32)
    return replace(model, weights=weights, correlated=True)


def _with_architecture_of(base: Model, options: TrainOptions) -> TrainOptions:
    return replace(options, layers=base.layers, units=base.units, mixtures=base.mixtures,
                   encoding=base.encoding.name, style=base.style is not None, correlated=base.correlated)


def checkpoint_best(make_model, folder: Path, every_epoch: bool = False, monitor: str = "val_loss"):
    """A Keras callback saving a loadable robojam model whenever ``monitor`` improves (``every_epoch``:
    after every epoch, the run keeping its last)."""
    import keras

    class CheckpointBest(keras.callbacks.Callback):
        best = np.inf

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get(monitor, np.inf)
            if loss < self.best or every_epoch:
                self.best = loss
                save_model(make_model(), folder)

    return CheckpointBest()
