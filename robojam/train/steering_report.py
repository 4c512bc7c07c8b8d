"""``robojam eval DATA --steer``: what each knob (:mod:`robojam.core.steering`) does to the responses.

Each call (the first half by time of a performance of the split, as in the realism report) is
answered with each knob at ``-level``, 0 and ``+level`` (contrast at 0 and 1), the same randomness
for every setting of one call. A knob's effect is the median over calls of the ratio (or, for
position, the difference) of the feature it should move between ``+level`` and ``-level``; it moves
the right way in a call when that feature is larger at ``+level``.
"""

from __future__ import annotations

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import clean, select_split
from robojam.core.engine import Engine
from robojam.core.features import describe
from robojam.core.modelfile import Model
from robojam.core.steering import CONTRAST, KNOBS, MOVERS
from robojam.train.realism import make_pairs

LEVEL = 1.5
CALLS = 60


def steer_report(model: Model, performances: list[np.ndarray], *, split: str = "all", seed: int = 0,
                 temp: float = 1.0, sigma_temp: float = 1.0, calls: int = CALLS, level: float = LEVEL) -> dict:
    """Each knob's effect, as a dict (see the module's docstring)."""
    if model.style is None:
        raise RobojamError("this model has no style input for the knobs to steer: train it with --style")
    pairs = make_pairs(select_split(performances, split))
    if not pairs:
        raise RobojamError(f"no performance of the {split} split is long enough to give a call")
    chosen = np.random.default_rng(seed).permutation(len(pairs))[:calls]
    answer = _answerer(Engine(model), [pairs[i].call for i in sorted(chosen)], seed, temp, sigma_temp)
    knobs = {name: _knob_effect(answer, name, level) for name in MOVERS}
    return {"split": split, "calls": len(chosen), "level": level, "seed": seed, "knobs": knobs,
            CONTRAST: _contrast_effect(answer, model)}


def _answerer(engine: Engine, calls: list[np.ndarray], seed: int, temp: float, sigma_temp: float):
    """answer(steer) -> [(call, response)]: every call answered for 5 s, call i's randomness the same
    whatever the steer."""
    def answer(steer: dict[str, float]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(call, engine.respond(call, 5.0, np.random.default_rng([seed, i]), temp, sigma_temp, steer))
                for i, call in enumerate(calls)]
    return answer


def _measured(response: np.ndarray, names: tuple[str, ...]) -> float:
    features = describe(response)
    return float(np.mean([features[name] for name in names]))


def _knob_effect(answer, name: str, level: float) -> dict:
    knob = KNOBS[name]
    low, mid, high = ([_measured(r, knob.measured_by) for _, r in answer({name: v})] for v in (-level, 0.0, level))
    low, mid, high = np.array(low), np.array(mid), np.array(high)
    if knob.as_ratio:
        usable = low > 0
        effect = float(np.median(high[usable] / low[usable])) if usable.any() else None
    else:
        effect = float(np.median(high - low))
    return {"feature": "+".join(knob.measured_by), "as": "ratio" if knob.as_ratio else "difference",
            "effect": effect, "right_way": float(np.mean(high > low)),
            "median_low": float(np.median(low)), "median_unsteered": float(np.median(mid)),
            "median_high": float(np.median(high))}


def _contrast_effect(answer, model: Model) -> dict:
    """How far each response's style lies from its call's (standardised, Euclidean) at contrast 0 and 1."""
    style = model.style

    def distances(value: float) -> np.ndarray:
        return np.array([np.linalg.norm(np.subtract(style.vector(clean(r)), style.vector(clean(c))))
                         for c, r in answer({CONTRAST: value})])
    plain, turned = distances(0.0), distances(1.0)
    return {"median_distance_unsteered": float(np.median(plain)), "median_distance_at_1": float(np.median(turned)),
            "farther": float(np.mean(turned > plain))}


def format_steer_report(report: dict) -> str:
    """The report as a table a person reads."""
    lines = [f"knobs at -{report['level']:g}, 0 and +{report['level']:g} on {report['calls']} calls of the "
             f"{report['split']} split (seed {report['seed']})",
             f"{'knob':<10}{'feature':<20}{'-':>8}{'0':>8}{'+':>8}{'effect':>10}{'right way':>11}"]
    for name, k in report["knobs"].items():
        effect = "n/a" if k["effect"] is None else (f"{k['effect']:.2f}x" if k["as"] == "ratio"
                                                      else f"{k['effect']:+.3f}")
        lines.append(f"{name:<10}{k['feature']:<20}{k['median_low']:>8.3f}{k['median_unsteered']:>8.3f}"
                     f"{k['median_high']:>8.3f}{effect:>10}{k['right_way']:>10.0%}")
    c = report[CONTRAST]
    lines.append(f"contrast: the response's style {c['median_distance_unsteered']:.2f} spreads from the call's "
                 f"unsteered, {c['median_distance_at_1']:.2f} at 1; farther in {c['farther']:.0%} of calls")
    return "\n".join(lines)
