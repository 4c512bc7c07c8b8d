"""The HTTP API's rules, as aiohttp middlewares (:mod:`robojam.live.webapp` installs them on every site).

Open CORS, refusals as JSON errors counted by reason, and admission: at most so many requests at
once and from any one address, each ended by a deadline however slowly its client sends. They act
on ``/api/`` alone; the page, the WebSocket and ``/status`` pass through untouched.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web

from robojam.live.api import API_PATH, BadRequest

API_PREFIX = "/api/"
CORS_MAX_AGE = "600"
NO_STORE = {"Cache-Control": "no-store"}
COUNTED_AS = {408: "timed_out", 413: "too_large", 503: "busy"}  # a BadRequest's count by status; else bad_request


def error(status: int, message: str, headers: dict | None = None) -> web.Response:
    """A refusal as JSON ``{"error": message}``; a 503 says when to try again, a 408 or 413 hangs up."""
    extra = {"Retry-After": "1"} if status == 503 else {}
    response = web.json_response({"error": message}, status=status, headers={**NO_STORE, **extra, **(headers or {})})
    if status in (408, 413):
        response.force_close()
    return response


@web.middleware
async def cors(request: web.Request, handler) -> web.StreamResponse:
    """Any web page may call the API (MicroJam's among them): the Origin echoed on every answer, errors too."""
    response = await handler(request)
    origin = _echoable(request.headers.get("Origin"))
    if origin and request.path.startswith(API_PREFIX):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


async def preflight(request: web.Request) -> web.Response:
    """The CORS preflight (``OPTIONS``): any origin may POST JSON, from a public page to a private network too."""
    headers = {"Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Max-Age": CORS_MAX_AGE,
               "Access-Control-Allow-Headers": _echoable(request.headers.get("Access-Control-Request-Headers"))
               or "Content-Type"}
    if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
        headers["Access-Control-Allow-Private-Network"] = "true"
    return web.Response(status=204, headers=headers)


def refusals_as_json(counts: Counter):
    """A middleware: the API's refusals as JSON, counted by reason (a client hanging up as hung_up); a bug
    anywhere is a 500, counted as errors, never a traceback."""

    @web.middleware
    async def refusals(request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadRequest as e:
            counts[COUNTED_AS.get(e.status, "bad_request")] += 1
            return error(e.status, str(e))
        except web.HTTPException as e:  # aiohttp's own: no such path, a wrong method
            if not request.path.startswith(API_PREFIX):
                raise
            if request.path != API_PATH:
                return error(404, f"no such endpoint; POST performances to {API_PATH}")
            return error(e.status, f"{e.reason}: POST performances to {API_PATH}", {"Allow": "POST, OPTIONS"})
        except ConnectionError:  # the client hung up before its answer: neither its error nor robojam's
            counts["hung_up"] += 1
            return error(400, "the client hung up")  # heard by no one; aiohttp logs nothing for it
        except Exception:  # noqa: BLE001 - a bug: the client gets a 500, the console nothing
            counts["errors"] += 1
            return error(500, "internal error")

    return refusals


class Admission:
    """At most ``most`` API requests at once and ``per_address`` from any one address (so one host cannot
    hold the API's capacity); each ends within ``deadline`` seconds, however slowly its body trickles in."""

    def __init__(self, counts: Counter, most: int, per_address: int, deadline: float):
        self.counts, self.most, self.per_address, self.deadline = counts, most, per_address, deadline
        self.in_flight: Counter = Counter()  # API requests being answered, by client address

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
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
            self.in_flight[address] -= 1
            if not self.in_flight[address]:
                del self.in_flight[address]


def _echoable(value: str | None) -> str | None:
    """A header value fit to send back: printable ASCII, not too long."""
    if not value or len(value) > 512 or not all(" " <= ch <= "~" for ch in value):
        return None
    return value
