"""The held-out score: per-event negative log-likelihood in nats, raw units.

Protocol, for each performance with at least 2 events: clean it (see
:func:`robojam.core.corpus.clean`), reset the state, feed events 1..n-1 and score
events 2..n given what came before, counting only events whose *raw* x, y
lie in [0, 1] and dt in (0, 5] (:func:`robojam.core.corpus.scored`). The score is
the mean over all counted events; lower is better. Densities are of
``(x, y, dt)`` with x, y as in the file and dt in seconds, whatever encoding
a model uses inside (its log-Jacobian is added).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from robojam.core.corpus import usable
from robojam.core.engine import Engine
from robojam.core.modelfile import Model
from robojam.core.style import call_part


@dataclass
class Score:
    nll_per_event: float
    events: int
    performances: int

    def to_dict(self) -> dict:
        return asdict(self)


def model_event_log_probs(engine: Engine, clean: np.ndarray) -> np.ndarray:
    """log p of events 2..n of a cleaned performance given the ones before, raw units (a model
    with a style input reads the first half's style from the second half on, as in training)."""
    style = engine.model.style
    heard = len(call_part(clean)) if style is not None else len(clean)
    engine.set_style(None)
    engine.reset()
    params = []
    for t, (x, y, dt) in enumerate(clean[:-1]):
        if t == heard:
            engine.set_style(style.vector(clean[:heard]))
        engine.feed(float(x), float(y), float(dt))
        params.append(engine.mixture_params())
    encoding = engine.encoding
    targets = encoding.targets(clean)[1:]
    return engine.model.head.log_prob(targets, np.array(params)) + encoding.log_jacobian(clean)[1:]


def score(event_log_probs, performances: list[np.ndarray]) -> Score:
    """Mean NLL over scored events, with ``event_log_probs(clean)`` giving log p of events 2..n."""
    total, events, counted = 0.0, 0, 0
    for clean, mask in usable(performances):
        keep = mask[1:]
        if not keep.any():
            continue
        total -= float(np.sum(event_log_probs(clean)[keep]))
        events += int(keep.sum())
        counted += 1
    nll = total / events if events else float("nan")
    return Score(nll, events, counted)


def score_model(model: Model, performances: list[np.ndarray]) -> Score:
    engine = Engine(model)
    return score(lambda clean: model_event_log_probs(engine, clean), performances)
