"""robojam on the web: one aiohttp application on its own asyncio thread, beside the server's loop.

It serves the browser touch instrument (``clients/web``) and its WebSocket at ``/ws`` (the OSC
protocol's messages as JSON text frames, both ways; each connection is one performer, host ``web:ID``),
RoboJam's HTTP API ``POST /api/predict`` (:mod:`robojam.live.api`) and ``GET /status`` (the server's
figures as JSON). A :class:`Site` without the page serves the API and status alone (``--api``).
aiohttp guards the HTTP itself (malformed requests, silent clients, body sizes, frame sizes); the
middlewares add open CORS, a cap on API requests at once and from any one address, and a deadline.
Nothing is printed per request: the counts are in :attr:`WebApp.counts` and the final line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import ssl
import threading
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from robojam import SOURCE_ROOT, RobojamError
from robojam.live.api import BadRequest, Predictor
from robojam.live.knobs import DEFAULTS, LIVE, RANGES
from robojam.live.model_switch import model_names
from robojam.live.transport import lan_address

SOCKET_PATH, API_PATH, STATUS_PATH = "/ws", "/api/predict", "/status"
SETTINGS_ADDRESS = "/robojam/web/settings"  # web only: the server's settings, sent on connect
MAX_FRAME = 4096          # bytes: a touch is ~60; anything much bigger is not robojam's
OUTBOX_SIZE = 256         # messages queued per connection (~4 s of touches) before the oldest go
CLOSE_FLUSH_S = 0.5       # at shutdown, time given to send what is queued (the final response/end)
MAX_BODY = 256 * 1024     # bytes: a MicroJam performance is ~10 kB; this is ~20,000 touches
MAX_PREDICTIONS = DEFAULTS["api_max_predictions"]  # predictions at once (CPU-bound); the rest wait
QUEUE_WAIT_S = 5.0        # how long a request waits for a prediction slot before its 503
MAX_REQUESTS = 64         # API requests in flight at once; more get a 503
PER_CLIENT = 16           # of those, from any one address: one host cannot hold the API's capacity
IDLE_S = 10.0             # a connection silent (or still sending its headers) this long is closed
DEADLINE_S = 30.0         # an API request's whole life, however slowly its client trickles
LINGER_S = 1.0            # a refused body is read this long so that its client sees the answer
CORS_MAX_AGE = "600"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
# Why API requests went unanswered, as counted.
UNANSWERED = ("bad_request", "too_large", "busy", "refused", "timed_out", "errors")


@dataclass(frozen=True)
class Site:
    """One listening address; ``page`` serves the page and WebSocket too, else only the API and status."""

    host: str
    port: int
    page: bool = True
    tls: ssl.SSLContext | None = None


@dataclass
class _Client:
    """One browser connection and the messages waiting to go to it."""

    websocket: web.WebSocketResponse | None
    conn_id: str
    outbox: deque = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    spoke: bool = False  # it sent the server something, so the server may hold a session for it


class WebApp:
    """The page, WebSocket, HTTP API and status on one or two ports: the ``web`` bridge."""

    scheme = "web"

    def __init__(self, server, sites: list[Site], *, max_predictions: int = MAX_PREDICTIONS,
                 queue_wait: float = QUEUE_WAIT_S, max_body: int = MAX_BODY, max_requests: int = MAX_REQUESTS,
                 per_client: int = PER_CLIENT, idle: float = IDLE_S, deadline: float = DEADLINE_S):
        self.server, self.sites = server, sites
        self.folder = web_client_folder().resolve()
        self.predictor = Predictor(server, max_predictions, queue_wait)
        self.max_body, self.max_requests, self.per_client = max_body, max_requests, per_client
        self.idle, self.deadline = idle, deadline
        self.counts = Counter()  # connections, bad_frames, dropped_sends; API: requests, responses, UNANSWERED
        self.addresses: list[tuple[str, int]] = []  # each site's, once listening
        self._clients: dict[str, _Client] = {}
        self._ids = itertools.count(1)
        self._in_flight: Counter = Counter()  # API requests by client address
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()


    def start(self) -> None:
        """Listen on every site; returns once listening. RobojamError if a port cannot be had."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=_run, args=(self._loop,), name="robojam-web", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)
        except OSError as e:
            self.stop()
            raise RobojamError(f"cannot serve on {self._failed} ({e.strerror or e}); is another robojam "
                               "running? choose another --web or --api port") from None

    async def _open(self) -> None:
        app = web.Application(client_max_size=self.max_body, middlewares=[
            self._cors, self._errors, self._guard, self._deadline])
        app.router.add_get(SOCKET_PATH, self._socket)
        app.router.add_get(STATUS_PATH, self._status)
        app.router.add_route("*", API_PATH, self._api, expect_handler=self._expect)
        app.router.add_get("/{name:.*}", self._file)
        app.on_shutdown.append(self._close_sockets)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0,
                                     keepalive_timeout=self.idle, lingering_time=LINGER_S, logger=self._quiet())
        await self._runner.setup()
        for site in self.sites:
            self._failed = f"{site.host}:{site.port}"
            tcp = web.TCPSite(self._runner, site.host, site.port, ssl_context=site.tls)
            await tcp.start()
        self.addresses = [address[:2] for address in self._runner.addresses]

    def _quiet(self) -> logging.Logger:
        """aiohttp's own log of requests it refused (not HTTP at all): counted, never printed."""
        logger = logging.Logger("robojam.web.http")
        logger.addHandler(_Counting(self.counts))
        return logger

    def stop(self) -> None:
        """Close every connection and end the loop thread; safe to call twice."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._runner is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=5)
            except Exception:  # noqa: BLE001 - shutting down whatever state it is in
                pass
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        self.predictor.close()

    async def _close(self) -> None:
        deadline = asyncio.get_running_loop().time() + CLOSE_FLUSH_S
        while any(c.outbox for c in self._clients.values()) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        await self._runner.cleanup()

    async def _close_sockets(self, app) -> None:
        for client in list(self._clients.values()):
            await client.websocket.close()

    def url(self, page: bool = True) -> str:
        """The page's address (or the API's), as a phone would open it: a wildcard host becomes the LAN's."""
        index = next((i for i, site in enumerate(self.sites) if site.page == page), 0)
        host, port = self.addresses[index]
        host = lan_address() if host in ("0.0.0.0", "::", "") else host
        scheme = "https" if self.sites[index].tls else "http"
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}{'/' if page else API_PATH}"

    def summary(self) -> str:
        """The final line: API responses, and requests not answered by reason."""
        others = ", ".join(f"{k.replace('_', ' ')} {self.counts[k]}" for k in UNANSWERED if self.counts[k])
        return f"HTTP API: {self.counts['responses']} response(s)" + (f"; not answered: {others}" if others else "")


    def send(self, peer: str, address: str, args: list) -> bool:
        """Queue a message for one connection; from any thread, never blocks, dropped if it is gone.
        True: a browser's replies go back over its connection, never to OSC's --send destinations."""
        loop = self._loop
        if loop is not None:
            text = json.dumps({"address": address, "args": list(args)}, default=float)
            try:
                loop.call_soon_threadsafe(self._enqueue, peer, text)
            except RuntimeError:
                pass  # the loop closed meanwhile
        return True

    def _enqueue(self, conn_id: str, text: str) -> None:
        client = self._clients.get(conn_id)
        if client is None:
            return
        if len(client.outbox) >= OUTBOX_SIZE:  # a slow client: it hears the latest, not the oldest
            client.outbox.popleft()
            self.counts["dropped_sends"] += 1
        client.outbox.append(text)
        client.ready.set()

    async def _write(self, client: _Client) -> None:
        """Send a connection's queued messages as they come (one writer per connection)."""
        while not client.websocket.closed:
            await client.ready.wait()
            client.ready.clear()
            while client.outbox and not client.websocket.closed:
                await client.websocket.send_str(client.outbox.popleft())

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self._site(request).page:
            raise web.HTTPNotFound(text="Not found\n")
        if not same_origin(request):
            return web.Response(status=403, text="Only robojam's own page may connect\n")
        websocket = web.WebSocketResponse(max_msg_size=MAX_FRAME, compress=False)
        await websocket.prepare(request)
        client = _Client(websocket, str(next(self._ids)))
        self._clients[client.conn_id] = client
        self.counts["connections"] += 1
        writer = asyncio.create_task(self._write(client))
        self._enqueue(client.conn_id, json.dumps({"address": SETTINGS_ADDRESS, "args": self._settings()}))
        try:
            async for message in websocket:
                self._receive(client, message)
        finally:
            writer.cancel()
            del self._clients[client.conn_id]
            if client.spoke:  # end a response still playing to nobody
                self.server.post("/robojam/stop", [], host=f"web:{client.conn_id}")
        return websocket

    def _receive(self, client: _Client, message) -> None:
        parsed = parse_message(message.data) if message.type == WSMsgType.TEXT else None
        if parsed is None:
            self.counts["bad_frames"] += 1  # not robojam's, binary, or over MAX_FRAME (aiohttp closed it)
            return
        client.spoke = True
        self.server.post(*parsed, host=f"web:{client.conn_id}")

    def _settings(self) -> list:
        """The server's settings as name-value pairs, so the page's controls start where the server does;
        first the ranges its sliders must keep to (robojam.live.knobs), as {name: [low, high]}."""
        settings = self.server.settings
        limits = {name: [RANGES[name].low, RANGES[name].high] for name in LIVE}
        pairs: list = ["limits", limits, "models", model_names(self.server.options.models_dir),
                       "model", self.server.model_path.name]
        for f in fields(settings):
            pairs += [f.name, getattr(settings, f.name)]
        return pairs


    async def _file(self, request: web.Request) -> web.StreamResponse:
        file = self._client_file(request.match_info["name"]) if self._site(request).page else None
        if file is None:
            raise web.HTTPNotFound(text="Not found\n")
        return web.Response(body=file.read_bytes(), headers={
            "Content-Type": CONTENT_TYPES[file.suffix], "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff"})

    def _client_file(self, name: str) -> Path | None:
        """The file a URL path names, only if it is one of the page's own files."""
        name = name.lstrip("/") or "index.html"
        if "\\" in name or "\0" in name:
            return None
        file = (self.folder / name).resolve()
        if not file.is_relative_to(self.folder) or file.suffix not in CONTENT_TYPES or not file.is_file():
            return None
        return file

    async def _status(self, request: web.Request) -> web.Response:
        """The server's figures, read on its own thread (where they change)."""
        done = concurrent.futures.Future()
        self.server.inbox.run_soon(lambda: done.set_result({"model": self.server.model_path.name,
                                                            **self.server.status()}))
        try:
            figures = await asyncio.wait_for(asyncio.wrap_future(done), 2.0)
        except TimeoutError:
            raise BadRequest("busy: the server did not answer in time", 503) from None
        return web.json_response(figures, headers={"Cache-Control": "no-store"})

    def _site(self, request: web.Request) -> Site:
        port = request.transport.get_extra_info("sockname")[1] if request.transport else None
        return next((s for s, (_, p) in zip(self.sites, self.addresses) if p == port), self.sites[0])


    async def _api(self, request: web.Request) -> web.Response:
        if request.method == "OPTIONS":
            return await self._preflight(request)
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["POST", "OPTIONS"])
        return await self._predict(request)

    async def _predict(self, request: web.Request) -> web.Response:
        self.counts["requests"] += 1
        if (request.content_length or 0) > self.max_body:
            raise BadRequest(f"the body is {request.content_length} bytes; at most {self.max_body}", 413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:  # a chunked body that grew too big
            raise BadRequest(f"the body is over {self.max_body} bytes; at most {self.max_body}", 413) from None
        response = await self.predictor.respond(body)
        self.counts["responses"] += 1
        return web.json_response({"response": response}, headers={"Cache-Control": "no-store"})

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        """``Expect: 100-continue`` (curl's large bodies): refuse an oversized one before it is sent."""
        if (request.content_length or 0) > self.max_body:
            self.counts["too_large"] += 1
            return _error(413, f"the body is {request.content_length} bytes; at most {self.max_body}")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return None

    async def _preflight(self, request: web.Request) -> web.Response:
        """The CORS preflight: any origin may POST JSON."""
        headers = {"Access-Control-Allow-Methods": "POST, OPTIONS",
                   "Access-Control-Allow-Headers": _safe(request.headers.get("Access-Control-Request-Headers"))
                   or "Content-Type", "Access-Control-Max-Age": CORS_MAX_AGE}
        if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        return web.Response(status=204, headers=headers)


    @web.middleware
    async def _errors(self, request: web.Request, handler) -> web.StreamResponse:
        """Refusals as JSON, counted by reason; a bug as a 500, never a traceback."""
        try:
            return await handler(request)
        except BadRequest as e:
            self.counts[{413: "too_large", 503: "busy", 408: "timed_out"}.get(e.status, "bad_request")] += 1
            return _error(e.status, str(e))
        except web.HTTPException as e:
            if not request.path.startswith("/api/"):
                raise
            if request.path != API_PATH:
                return _error(404, f"no such endpoint; POST performances to {API_PATH}")
            return _error(e.status, f"{e.reason}: POST performances to {API_PATH}", {"Allow": "POST, OPTIONS"})
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception:  # noqa: BLE001 - a bug: the client gets a 500, never a traceback
            self.counts["errors"] += 1
            return _error(500, "internal error")

    @web.middleware
    async def _cors(self, request: web.Request, handler) -> web.StreamResponse:
        """Open CORS on the API: the Origin echoed on every answer, errors too."""
        response = await handler(request)
        origin = _safe(request.headers.get("Origin"))
        if origin and request.path.startswith("/api/"):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    @web.middleware
    async def _guard(self, request: web.Request, handler) -> web.StreamResponse:
        """At most ``max_requests`` API requests at once, and ``per_client`` from any one address."""
        if request.path != API_PATH or request.method != "POST":
            return await handler(request)
        peer = request.remote or "?"
        if sum(self._in_flight.values()) >= self.max_requests or self._in_flight[peer] >= self.per_client:
            self.counts["refused"] += 1
            return _error(503, "busy: too many requests at once; try again")
        self._in_flight[peer] += 1
        try:
            return await handler(request)
        finally:
            self._in_flight[peer] -= 1
            if not self._in_flight[peer]:
                del self._in_flight[peer]

    @web.middleware
    async def _deadline(self, request: web.Request, handler) -> web.StreamResponse:
        """An API request ends within ``deadline`` seconds, however slowly its body trickles in."""
        if not request.path.startswith("/api/"):
            return await handler(request)
        try:
            async with asyncio.timeout(self.deadline):
                return await handler(request)
        except TimeoutError:
            raise BadRequest(f"the request took over {self.deadline:g} s", 408) from None


def _run(loop: asyncio.AbstractEventLoop) -> None:
    """The app's thread: its loop until stopped, then what is left of its tasks cancelled, and closed."""
    asyncio.set_event_loop(loop)
    loop.run_forever()
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    loop.close()


class _Counting(logging.Handler):
    def __init__(self, counts: Counter):
        super().__init__()
        self.counts = counts

    def emit(self, record: logging.LogRecord) -> None:
        self.counts["bad_request"] += 1


def _error(status: int, message: str, headers: dict | None = None) -> web.Response:
    response = web.json_response({"error": message}, status=status, headers={
        "Cache-Control": "no-store", **({"Retry-After": "1"} if status == 503 else {}), **(headers or {})})
    if status in (408, 413):
        response.force_close()
    return response


def _safe(value: str | None) -> str | None:
    """A header value fit to echo back: printable ASCII, not too long."""
    if not value or len(value) > 512 or not all(" " <= ch <= "~" for ch in value):
        return None
    return value


def parse_message(message) -> tuple[str, list] | None:
    """(address, args) from a JSON text frame, or None unless it is a /robojam/ message.

    The server checks the arguments themselves, counting bad ones by reason.
    """
    if not isinstance(message, str):
        return None
    try:
        data = json.loads(message)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    address, args = data.get("address"), data.get("args", [])
    if not isinstance(address, str) or not address.startswith("/robojam/") or not isinstance(args, list):
        return None
    return address, args


def same_origin(request: web.Request) -> bool:
    """Whether a WebSocket comes from robojam's own page (or from no page at all: a script); without
    this, any web site open in a browser on the network could play robojam through that browser."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc.lower() == request.headers.get("Host", "").lower()


def web_client_folder() -> Path:
    """The page's files: package data when installed, ``clients/web`` in a source checkout."""
    try:
        installed = Path(str(resources.files("robojam.webclient")))
    except ModuleNotFoundError:
        installed = None
    if installed is not None and (installed / "index.html").is_file():
        return installed
    return SOURCE_ROOT / "clients" / "web"
