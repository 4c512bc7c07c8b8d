"""RoboJam's HTTP API, ``POST /api/predict`` (its formats: the README's "RoboJam's HTTP API"): the
predictions, and the rules :mod:`robojam.live.webapp` serves it by, aiohttp middlewares acting on
``/api/`` alone: open CORS, refusals as JSON counted by reason, admission with a deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import numpy as np
from aiohttp import web

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.engine import Engine
from robojam.core.performance import Performance, parse_csv, to_csv_text, unfold_rows

API_PATH, API_PREFIX = "/api/predict", "/api/"
RESPONSE_SECONDS = 5.0   # a response's length, as RoboJam's
MAX_ROWS = 1000          # rows in a response, at most
MICROJAM_Z = 38.0        # points: the touch radius RoboJam sent for every touch
DYNAMICS_AT_38 = 0.55    # touch_dynamics of a touch moving a screen's width a second: 38 points
SHORTEST_DT = 1e-6       # seconds: closer touches are simultaneous (no subnormal gaps reach the maths)
NO_STORE = {"Cache-Control": "no-store"}
COUNTED_AS = {408: "timed_out", 413: "too_large", 503: "busy"}  # a BadRequest's count by status; else bad_request


class BadRequest(ValueError):
    """A request robojam cannot answer: a 400 (or ``status``) with this message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def perf_from_body(body: bytes) -> str:
    """The CSV a request carries: JSON ``{"perf": CSV}``, or a form field ``perf`` holding a JSON string."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = {"perf": _form_field(body)}
    perf = data.get("perf") if isinstance(data, dict) else None
    if not isinstance(perf, str):
        raise BadRequest('the body must be JSON {"perf": "<CSV>"}, or a form whose perf field holds a JSON string')
    return perf


def _form_field(body: bytes) -> object:
    """A form's perf field, JSON-decoded if it is JSON (else the CSV itself); None without one."""
    try:
        perf = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=64)["perf"][0]
    except (ValueError, KeyError):  # not UTF-8 (UnicodeDecodeError is one), not a form, or no perf field
        return None
    try:
        return json.loads(perf)
    except (ValueError, RecursionError):
        return perf  # not JSON-encoded after all: the CSV itself


def parse_call(text: str) -> np.ndarray:
    """A request's CSV as cleaned ``x, y, dt`` rows."""
    try:
        performance = parse_csv(unfold_rows(text, "perf"), "perf", ordered=False)
    except RobojamError as e:
        raise BadRequest(str(e)) from None
    xy_dt = clean(performance.xy_dt())
    xy_dt[xy_dt[:, 2] < SHORTEST_DT, 2] = 0.0
    return xy_dt


def response_csv(xy_dt: np.ndarray) -> str:
    """A response's ``x, y, dt`` rows as MicroJam reads them, z in its points; strokes follow the times
    as written, so a client subtracting them finds moving 0 wherever dt > 0.1."""
    xy_dt = np.asarray(xy_dt, dtype=np.float64).reshape(-1, 3)[:MAX_ROWS]
    written = np.array([float(f"{t:.6f}") for t in np.cumsum(xy_dt[:, 2]) - xy_dt[:1, 2]])
    as_written = np.column_stack([xy_dt[:, :2], np.diff(written, prepend=written[:1])])
    performance = Performance.from_xy_dt(as_written, z=None)
    performance.events[:, 3] = MICROJAM_Z * performance.events[:, 3] / DYNAMICS_AT_38
    return to_csv_text(performance)


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


def error(status: int, message: str, headers: dict | None = None) -> web.Response:
    """A refusal as JSON ``{"error": message}``; a 503 says when to try again, a 408 or 413 hangs up."""
    extra = {"Retry-After": "1"} if status == 503 else {}
    response = web.json_response({"error": message}, status=status, headers={**NO_STORE, **extra, **(headers or {})})
    if status in (408, 413):
        response.force_close()
    return response


async def preflight(request: web.Request) -> web.Response:
    """The CORS preflight: any origin may POST JSON, from a public page to a private network too."""
    headers = {"Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Max-Age": "600",
               "Access-Control-Allow-Headers": _echoable(request.headers.get("Access-Control-Request-Headers"))
               or "Content-Type"}
    if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
        headers["Access-Control-Allow-Private-Network"] = "true"
    return web.Response(status=204, headers=headers)


class Admission:
    """The API's rules: at most ``most`` requests at once and ``per_address`` from any one address, each
    ended within ``deadline`` seconds; its answers and refusals (as JSON, counted by reason) open to any page."""

    def __init__(self, counts: Counter, most: int, per_address: int, deadline: float):
        self.counts, self.most, self.per_address, self.deadline = counts, most, per_address, deadline
        self.in_flight: Counter = Counter()  # API requests being answered, by client address

    @web.middleware
    async def answers(self, request: web.Request, handler) -> web.StreamResponse:
        """The answer, or the refusal, with the Origin echoed: any page (MicroJam's) may read it, errors too."""
        try:
            response = await handler(request)
        except BadRequest as e:
            self.counts[COUNTED_AS.get(e.status, "bad_request")] += 1
            response = error(e.status, str(e))
        except web.HTTPException as e:  # aiohttp's own: no such path, a wrong method
            if not request.path.startswith(API_PREFIX):
                raise
            allow = {"Allow": "POST, OPTIONS"} if request.path == API_PATH else {}
            response = error(e.status, f"{e.reason}: POST performances to {API_PATH}", allow)
        except ConnectionError:  # the client hung up before its answer: neither its error nor robojam's
            self.counts["hung_up"] += 1
            response = error(400, "the client hung up")  # heard by no one; aiohttp logs nothing for it
        except Exception:  # noqa: BLE001 - a bug: the client gets a 500, the console nothing
            self.counts["errors"] += 1
            response = error(500, "internal error")
        origin = _echoable(request.headers.get("Origin"))
        if origin and request.path.startswith(API_PREFIX):
            response.headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
        return response

    @web.middleware
    async def admit(self, request: web.Request, handler) -> web.StreamResponse:
        if request.method != "POST" or not request.path.startswith(API_PREFIX):
            return await handler(request)
        address = request.remote or "?"
        if sum(self.in_flight.values()) >= self.most or self.in_flight[address] >= self.per_address:
            self.counts["refused"] += 1
            return error(503, "busy: too many requests at once; try again")
        self.in_flight[address] += 1
        try:
            async with asyncio.timeout(self.deadline):
                return await handler(request)
        except TimeoutError:
            raise BadRequest(f"the request took over {self.deadline:g} s", 408) from None
        finally:
            self.in_flight -= Counter([address])  # -= keeps positive counts: an address at none is gone


def _echoable(value: str | None) -> str | None:
    """A header value fit to send back: printable ASCII, not too long."""
    return value if value and len(value) <= 512 and value.isascii() and value.isprintable() else None
