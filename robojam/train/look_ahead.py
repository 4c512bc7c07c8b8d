"""A second head for training only: the touch K on, beside the next (#22; docs/model.md, "Looking
further ahead").

Trained one touch at a time, a network keeps in its state what helps it guess the next touch. A head
on the top layer that also predicts the touch ``k`` on (its move from the touch in hand and the time
until it) asks the state to hold where the stroke is going. Its loss is added with a weight; the
model file keeps the next touch's head alone, so the engine plays such a model as any other.
"""

from __future__ import annotations

import numpy as np

# The touch k on: its move in x and y (times MOVE_SCALE, as the delta encoding's) and its log time.
AHEAD_DIM = 3
AHEAD_COLUMNS = AHEAD_DIM + 1  # and a weight: 1 when every event up to it is scored
AHEAD_MIXTURES = 4
MOVE_SCALE = 10.0
GAP_FLOOR = 0.01  # seconds added before the log, so that k touches at once have a finite time
WARMUP_EPOCHS = 3  # epochs fitting a fresh look-ahead head alone, before a run from a model trains on
WARMUP_LEARNING_RATE = 1e-3


def ahead_targets(clean: np.ndarray, scored: np.ndarray, k: int) -> np.ndarray:
    """Per event t of a cleaned performance (rows x, y, dt): the move to event t + k times MOVE_SCALE,
    log(the time until it + GAP_FLOOR), and a weight, 1 only when events t + 1 to t + k are all
    ``scored``; the last k events have none (weight 0)."""
    n = len(clean)
    targets = np.zeros((n, AHEAD_COLUMNS))
    if n <= k:
        return targets
    targets[:n - k, :2] = (clean[k:, :2] - clean[:-k, :2]) * MOVE_SCALE
    elapsed = np.concatenate([[0.0], np.cumsum(clean[:, 2])])  # elapsed[i]: the dts of events 0 to i - 1, summed
    targets[:n - k, 2] = np.log(elapsed[k + 1:] - elapsed[1:n - k + 1] + GAP_FLOOR)
    unscored = np.concatenate([[0], np.cumsum(~np.asarray(scored, dtype=bool))])
    targets[:n - k, 3] = unscored[k + 1:] == unscored[1:n - k + 1]
    return targets


def standardise_gaps(train_targets: np.ndarray, *others: np.ndarray) -> None:
    """Standardise the log time column of windows' look-ahead targets (their last AHEAD_COLUMNS), in
    place, by its mean and spread over the weighted training targets."""
    gap, weight = -2, -1
    logs = train_targets[..., gap][train_targets[..., weight] > 0]
    mean, spread = (float(logs.mean()), float(logs.std()) or 1.0) if logs.size else (0.0, 1.0)
    for targets in (train_targets, *others):
        targets[..., gap] = np.where(targets[..., weight] > 0, (targets[..., gap] - mean) / spread, 0.0)


def with_look_ahead(next_loss, head_size: int, output_dim: int, weight: float):
    """(loss, next_touch): the training loss, ``next_loss`` on the next touch plus ``weight`` times the
    look-ahead head's, and the next touch's alone (the metric the run is judged and stopped by).
    Targets are ``[next touch, its weight, look-ahead targets]``, outputs ``[head, look-ahead head]``."""
    from robojam.train.network import masked_mdn_loss

    ahead_loss, split = masked_mdn_loss(AHEAD_DIM, AHEAD_MIXTURES), output_dim + 1

    def next_touch(y_true, y_pred):
        return next_loss(y_true[..., :split], y_pred[..., :head_size])

    def loss(y_true, y_pred):
        return next_touch(y_true, y_pred) + weight * ahead_loss(y_true[..., split:], y_pred[..., head_size:])

    return loss, next_touch


def fit_ahead_head_alone(network, loss, train_x: np.ndarray, train_y: np.ndarray, batch_size: int,
                         epochs: int = WARMUP_EPOCHS, verbose: int = 2) -> None:
    """Fit the look-ahead head of a network loaded from a model (which has none: it starts at random)
    with every other layer held, so that its first, random guesses do not pull on the layers the
    model learned. The layers are trainable again afterwards; the network must be compiled anew."""
    import keras

    for layer in network.layers:
        layer.trainable = layer.name == "ahead"
    network.compile(optimizer=keras.optimizers.Adam(WARMUP_LEARNING_RATE, clipnorm=1.0), loss=loss)
    network.fit(train_x, train_y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose)
    for layer in network.layers:
        layer.trainable = True
