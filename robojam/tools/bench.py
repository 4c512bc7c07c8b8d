"""``robojam bench``: speed of the engine against its peers' ways of stepping, in one run.

Figures are medians and 99th percentiles of many timed repetitions, in
milliseconds, with the ratio of each reference step to the engine step. The
references: Keras ``model(x)`` with explicit state, and IMPSY's fast path,
the LiteRT interpreter with explicit state and keras-mdn-layer's sampling.
"""

from __future__ import annotations

import time

import numpy as np

from robojam.tools.demo import demo_call
from robojam.core.drafts import DEFAULT_DRAFTS, respond_with_drafts
from robojam.core.engine import Engine
from robojam.core.modelfile import Model


def _ms(samples_ns: list[int]) -> np.ndarray:
    return np.array(samples_ns, dtype=np.float64) / 1e6


def engine_step_times(model: Model, steps: int = 5000, seed: int = 0) -> np.ndarray:
    """Milliseconds for each feed-one-touch + draw-one-touch step of the engine."""
    engine = Engine(model)
    rng = np.random.default_rng(seed)
    engine.condition(demo_call().xy_dt())
    touch = engine.draw(rng)
    times = []
    for _ in range(steps):
        start = time.perf_counter_ns()
        engine.feed(*touch)
        touch = engine.draw(rng)
        times.append(time.perf_counter_ns() - start)
    return _ms(times)


def _demo_style(model: Model) -> list[float]:
    """What a model with a style input reads beside each touch (the demo call's style); else nothing."""
    return model.style.vector(demo_call(5.0).xy_dt()) if model.style is not None else []


def keras_step_times(model: Model, steps: int = 200) -> np.ndarray:
    """Milliseconds for the same step through Keras: ``model(x)`` with explicit state."""
    from robojam.core.mixture import sample
    from robojam.train.network import keras_step_model

    network = keras_step_model(model)
    encoding, rng, style = model.encoding, np.random.default_rng(0), _demo_style(model)
    states = [np.zeros((1, model.units), np.float32) for _ in range(2 * model.layers)]
    x, y, dt, prev = 0.5, 0.5, 0.0, None
    times = []
    for i in range(steps + 5):
        start = time.perf_counter_ns()
        signal = np.array(encoding.step_input(prev, x, y, dt) + style, np.float32).reshape(1, 1, -1)
        outputs = network([signal] + states, training=False)
        params, states = np.asarray(outputs[0])[0, 0].astype(np.float64), [np.asarray(s) for s in outputs[1:]]
        prev = encoding.context(prev, x, y)
        x, y, dt = encoding.decode(prev, sample(params, model.output_dim, model.mixtures, rng,
                                                correlated=model.correlated))
        if i >= 5:  # the first calls trace the graph
            times.append(time.perf_counter_ns() - start)
    return _ms(times)


def litert_step_times(model: Model, steps: int = 2000) -> np.ndarray:
    """Milliseconds for the same step as IMPSY takes it: LiteRT ``invoke`` with explicit state,
    then keras-mdn-layer's ``sample_from_output`` (which reads a diagonal head: a correlated one's
    correlations are left out first)."""
    from robojam.train.litert import LiteRTStep
    from robojam.train.quiet import native_stderr_silenced

    with native_stderr_silenced():
        import keras_mdn_layer as mdn

    step = LiteRTStep(model)
    encoding, style, rhos = model.encoding, _demo_style(model), np.arange(model.head.rhos.start, model.head.rhos.stop)
    np.random.seed(0)  # keras-mdn-layer samples from numpy's global generator
    x, y, dt, prev = 0.5, 0.5, 0.0, None
    times = []
    for _ in range(steps):
        start = time.perf_counter_ns()
        params = step.step(encoding.step_input(prev, x, y, dt) + style)
        if model.correlated:
            params = np.delete(params, rhos)
        prev = encoding.context(prev, x, y)
        x, y, dt = encoding.decode(prev, mdn.sample_from_output(params, model.output_dim, model.mixtures))
        times.append(time.perf_counter_ns() - start)
    return _ms(times)


def respond_times(model: Model, repeats: int = 30, drafts: int = 1) -> np.ndarray:
    """Milliseconds to condition on a 5 s call and generate a 5 s response (drafted, ``drafts`` candidates a phrase)."""
    engine = Engine(model)
    call = demo_call(5.0).xy_dt()
    times = []
    for seed in range(repeats):
        start = time.perf_counter_ns()
        respond_with_drafts(engine, model.selector, call, 5.0, np.random.default_rng(seed), drafts)
        times.append(time.perf_counter_ns() - start)
    return _ms(times)


def run_bench(model: Model, with_keras: bool = True, with_litert: bool = True, steps: int = 5000) -> dict:
    step = engine_step_times(model, steps)
    respond = respond_times(model)
    result = {
        "model": model.describe(),
        "layers": model.layers, "units": model.units, "mixtures": model.mixtures,
        "parameters": model.param_count,
        "step_ms_median": float(np.median(step)),
        "step_ms_p99": float(np.percentile(step, 99)),
        "respond_5s_ms_median": float(np.median(respond)),
        "respond_5s_ms_p99": float(np.percentile(respond, 99)),
    }
    if model.selector is not None:  # what respond and the HTTP API play by default
        drafted = respond_times(model, repeats=10, drafts=DEFAULT_DRAFTS)
        result["respond_drafts"] = DEFAULT_DRAFTS
        result["respond_drafts_ms_median"] = float(np.median(drafted))
        result["respond_drafts_ms_p99"] = float(np.percentile(drafted, 99))
        result["drafts_over_one_ratio"] = result["respond_drafts_ms_median"] / result["respond_5s_ms_median"]
    if with_keras:
        keras_step = keras_step_times(model)
        result["keras_step_ms_median"] = float(np.median(keras_step))
        result["keras_step_ms_p99"] = float(np.percentile(keras_step, 99))
        result["keras_over_engine_ratio"] = result["keras_step_ms_median"] / result["step_ms_median"]
    if with_litert:
        litert_step = litert_step_times(model)
        result["litert_step_ms_median"] = float(np.median(litert_step))
        result["litert_step_ms_p99"] = float(np.percentile(litert_step, 99))
        result["litert_over_engine_ratio"] = result["litert_step_ms_median"] / result["step_ms_median"]
    return result
