"""RoboJam's HTTP API, ``POST /api/predict``: the request's and response's formats, and the predictions
(:mod:`robojam.live.webapp` serves it, by the rules of :mod:`robojam.live.api_rules`). MicroJam and
RoboJam's scripts work with it unchanged.

A request is JSON ``{"perf": "<CSV>"}`` whatever its Content-Type, or a form field ``perf`` holding a
JSON string; the CSV (``time,x,y,z,moving``, rows after newlines, ``", "`` or ``","``) is cleaned as in
training. The answer is ``{"response": "<CSV>"}``: about 5 s, at most :data:`MAX_ROWS` rows of five
numbers, z in MicroJam's points. Each request plays a fresh engine of the current model; with
``--seed`` the answer depends only on the seed and the call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.engine import Engine
from robojam.core.performance import COLUMNS, parse_csv, stroke_continues, touch_dynamics, unfold_rows

API_PATH = "/api/predict"
RESPONSE_SECONDS = 5.0   # a response's length, as RoboJam's
MAX_ROWS = 1000          # rows in a response, at most
MICROJAM_Z = 38.0        # points: the touch radius RoboJam sent for every touch
DYNAMICS_AT_38 = 0.55    # touch_dynamics of a touch moving a screen's width a second: 38 points
SHORTEST_DT = 1e-6       # seconds: closer touches are simultaneous (no subnormal gaps reach the maths)


class BadRequest(ValueError):
    """A request robojam cannot answer: a 400 (or ``status``) with this message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def perf_from_body(body: bytes) -> str:
    """The CSV a request carries: JSON ``{"perf": CSV}``, or a form field ``perf`` holding a JSON string."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise BadRequest("the body is not a JSON object with a perf string") from None
    except ValueError:
        return _perf_from_form(body)
    if not isinstance(data, dict) or "perf" not in data:
        raise BadRequest('the body must be a JSON object {"perf": "<CSV>"}')
    if not isinstance(data["perf"], str):
        raise BadRequest("perf must be a string of CSV, not " + type(data["perf"]).__name__)
    return data["perf"]


def _perf_from_form(body: bytes) -> str:
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=64)
    except ValueError:  # not UTF-8 (UnicodeDecodeError is one), or not a form
        form = {}
    if "perf" not in form:
        raise BadRequest('the body must be JSON {"perf": "<CSV>"} or a form with a perf field')
    try:
        decoded = json.loads(form["perf"][0])
    except (ValueError, RecursionError):
        decoded = form["perf"][0]  # not JSON-encoded after all: the CSV itself
    if not isinstance(decoded, str):
        raise BadRequest("the form's perf field must hold a JSON-encoded string of CSV")
    return decoded


def parse_call(text: str) -> np.ndarray:
    """A request's CSV as cleaned ``x, y, dt`` rows (robojam.core.performance reads it)."""
    try:
        performance = parse_csv(unfold_rows(text, "perf"), "perf", ordered=False)
    except RobojamError as e:
        raise BadRequest(str(e)) from None
    xy_dt = clean(performance.xy_dt())
    xy_dt[xy_dt[:, 2] < SHORTEST_DT, 2] = 0.0
    return xy_dt


def response_csv(xy_dt: np.ndarray) -> str:
    """A response's ``x, y, dt`` rows (first dt 0) as MicroJam reads them; strokes follow the times
    as written, so a client subtracting them finds moving 0 wherever dt > 0.1."""
    xy_dt = np.asarray(xy_dt, dtype=np.float64).reshape(-1, 3)[:MAX_ROWS]
    times = [f"{t:.6f}" for t in np.cumsum(xy_dt[:, 2]) - xy_dt[0, 2]] if len(xy_dt) else []
    written = np.array([float(t) for t in times])
    as_written = np.column_stack([xy_dt[:, :2], np.diff(written, prepend=written[:1])])
    lines = [",".join(COLUMNS)]
    previous = as_written[0, :2] if len(as_written) else None
    for t, (x, y, dt), m in zip(times, as_written, stroke_continues(as_written)):
        z = MICROJAM_Z * touch_dynamics(previous[0], previous[1], x, y, dt, not m) / DYNAMICS_AT_38
        lines.append(f"{t},{x:.6f},{y:.6f},{z:.6f},{int(m)}")
        previous = (x, y)
    return "\n".join(lines) + "\n"


def request_rng(seed: int | None, call: np.ndarray) -> np.random.Generator:
    """Fresh randomness for one request; with a seed, the same for the same call whatever the order."""
    if seed is None:
        return np.random.default_rng()
    digest = hashlib.sha256(np.ascontiguousarray(call, dtype=np.float64).tobytes()).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest, "big")])


class Predictor:
    """At most ``slots`` predictions at once on threads of their own; the rest wait up to ``queue_wait``."""

    def __init__(self, server, slots: int, queue_wait: float):
        self.server, self.slots, self.queue_wait = server, slots, queue_wait
        self._pool = ThreadPoolExecutor(slots, thread_name_prefix="robojam-predict")
        self.free = asyncio.Semaphore(slots)  # bound to the app's loop when first awaited
        self._lock = threading.Lock()
        self._template: Engine | None = None

    async def respond(self, body: bytes) -> str:
        """The response CSV for a request's body; BadRequest (400, or 503 when busy) otherwise."""
        call = parse_call(perf_from_body(body))
        try:
            await asyncio.wait_for(self.free.acquire(), self.queue_wait)
        except TimeoutError:
            raise BadRequest(f"busy: {self.slots} predictions running; try again", 503) from None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._predict, call)
        finally:
            self.free.release()

    def _predict(self, call: np.ndarray) -> str:
        settings = self.server.settings
        rng = request_rng(self.server.options.seed, call)
        return response_csv(self.engine().respond(call, RESPONSE_SECONDS, rng, settings.temp, settings.sigma_temp))

    def engine(self) -> Engine:
        """A fresh engine of the server's current model, sharing its (read-only) weights with the others."""
        model = self.server.model
        with self._lock:
            if self._template is None or self._template.model is not model:
                self._template = Engine(model)
            return self._template.spawn()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
