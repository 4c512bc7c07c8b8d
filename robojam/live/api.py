"""RoboJam's HTTP API, ``POST /api/predict`` (its formats: the README's "RoboJam's HTTP API"): the
predictions, and the rules :mod:`robojam.live.webapp` serves it by, aiohttp middlewares acting on
``/api/`` alone: open CORS, refusals as JSON counted by reason, admission with a deadline.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from aiohttp import web

from robojam import RobojamError
from robojam.core.drafts import DEFAULT_DRAFTS, respond_with_drafts
from robojam.core.microjam import call_rng, parse_call, perf_from_body, response_csv

API_PATH, API_PREFIX = "/api/predict", "/api/"
RESPONSE_SECONDS = 5.0   # a response's length, as RoboJam's
NO_STORE = {"Cache-Control": "no-store"}
COUNTED_AS = {408: "timed_out", 413: "too_large", 503: "busy"}  # a BadRequest's count by status; else bad_request


class BadRequest(ValueError):
    """A request robojam cannot answer: a 400 (or ``status``) with this message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Predictor:
    """At most ``slots`` predictions at once on threads of their own; the rest wait up to ``queue_wait``."""

    def __init__(self, server, slots: int, queue_wait: float):
        self.server, self.slots, self.queue_wait = server, slots, queue_wait
        self._pool = ThreadPoolExecutor(slots, thread_name_prefix="robojam-predict")
        self.free = asyncio.Semaphore(slots)  # bound to the app's loop when first awaited

    async def respond(self, body: bytes, steer: dict[str, float] | None = None, drafts: int = DEFAULT_DRAFTS) -> str:
        """The response CSV for a request's body, with knobs set (robojam.core.steering), drafted
        with ``drafts`` candidates a phrase (robojam.core.drafts); RobojamError (a 400) for a body
        robojam cannot read, BadRequest 503 when busy."""
        call = parse_call(perf_from_body(body))
        try:
            await asyncio.wait_for(self.free.acquire(), self.queue_wait)
        except TimeoutError:
            raise BadRequest(f"busy: {self.slots} predictions running; try again", 503) from None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._predict, call, steer, drafts)
        finally:
            self.free.release()

    def _predict(self, call: np.ndarray, steer: dict[str, float] | None, drafts: int) -> str:
        settings = self.server.settings
        rng = call_rng(self.server.options.seed, call)
        engine = self.server.registry.spawn_engine()
        response = respond_with_drafts(engine, engine.model.selector, call, RESPONSE_SECONDS, rng, drafts,
                                       settings.temp, settings.sigma_temp, steer)
        return response_csv(response, (steer or {}).get("energy", 0.0))

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
        except (BadRequest, RobojamError) as e:  # RobojamError: a call robojam cannot read
            status = getattr(e, "status", 400)
            self.counts[COUNTED_AS.get(status, "bad_request")] += 1
            response = error(status, str(e))
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
