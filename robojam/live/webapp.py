"""robojam on the web: aiohttp applications on their own asyncio thread, beside the server's loop.

Each :class:`Site` serves the HTTP API (:mod:`robojam.live.api`) and ``GET /status``; a site with the
page serves ``clients/web`` and its WebSocket too (the README's "In a browser"). Nothing is printed per
request: the counts are in :attr:`WebApp.counts` and the final line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import logging
import ssl
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from robojam import SOURCE_ROOT, RobojamError
from robojam.core.drafts import parse_drafts
from robojam.core.steering import parse_steer
from robojam.live.api import API_PATH, NO_STORE, Admission, BadRequest, Predictor, error, preflight
from robojam.live.knobs import DEFAULTS, LIVE, RANGES
from robojam.live.model_switch import model_names
from robojam.live.transport import lan_address

SOCKET_PATH, STATUS_PATH = "/ws", "/status"
SETTINGS_ADDRESS = "/robojam/web/settings"  # web only: the server's settings, sent on connect
MAX_FRAME = 4096          # bytes: a touch is ~60; anything much bigger is not robojam's
OUTBOX_SIZE = 256         # messages queued per connection (~4 s of touches) before the oldest go
CLOSE_FLUSH_S = 0.5       # at shutdown, time given to send what is queued (the final response/end)
STATUS_WAIT_S = 2.0       # how long GET /status waits for the server's thread before its 503
MAX_BODY = 256 * 1024     # bytes: a MicroJam performance is ~10 kB; this is ~20,000 touches
MAX_PREDICTIONS = DEFAULTS["api_max_predictions"]  # predictions at once (CPU-bound); the rest wait
QUEUE_WAIT_S = 5.0        # how long a request waits for a prediction slot before its 503
MAX_REQUESTS = 64         # API requests in flight at once; more get a 503
PER_CLIENT = 16           # of those, from any one address: one host cannot hold the API's capacity
IDLE_S = 10.0             # a connection silent (or still sending its headers) this long is closed
DEADLINE_S = 30.0         # an API request's whole life, however slowly its client trickles
LINGER_S = 1.0            # a refused body is read this long so that its client sees the answer
PAGE_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
              ".css": "text/css; charset=utf-8"}  # the page's files are those of these kinds, nothing else
UNANSWERED = ("bad_request", "too_large", "busy", "refused", "timed_out", "hung_up", "errors")  # counted reasons


@dataclass(frozen=True)
class Site:
    """One listening address; ``page`` serves the page and WebSocket too, else only the API and status."""

    host: str
    port: int
    page: bool = True
    tls: ssl.SSLContext | None = None


@dataclass
class _Client:
    """One browser connection and the latest messages waiting to go to it."""

    websocket: web.WebSocketResponse | None
    conn_id: str
    outbox: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(OUTBOX_SIZE))
    spoke: bool = False  # it sent the server something, so the server may hold a session for it


class PageSocket:
    """Every browser connection, on the web app's loop; ``counts`` gets connections, bad_frames, dropped_sends."""

    def __init__(self, server, counts: Counter):
        self.server, self.counts = server, counts
        self.clients: dict[str, _Client] = {}
        self._ids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """A connection's life: its settings first, then its frames posted to the server as they come."""
        # Only robojam's own page (or a script: no Origin), or any site open in a browser could play robojam.
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.headers.get("Host", "").lower():
            return web.Response(status=403, text="Only robojam's own page may connect\n")
        websocket = web.WebSocketResponse(max_msg_size=MAX_FRAME, compress=False)
        await websocket.prepare(request)
        client = _Client(websocket, str(next(self._ids)))
        self.clients[client.conn_id] = client
        self.counts["connections"] += 1
        writer = asyncio.create_task(self._write(client))
        self.enqueue(client.conn_id, json.dumps({"address": SETTINGS_ADDRESS, "args": self._settings()}))
        try:
            async for message in websocket:
                self._receive(client, message)
        finally:
            writer.cancel()
            del self.clients[client.conn_id]
            if client.spoke:  # end a response still playing to nobody
                self.server.post("/robojam/stop", [], host=f"web:{client.conn_id}")
        return websocket

    def enqueue(self, conn_id: str, text: str) -> None:
        """Queue a frame for one connection (on the loop), dropping its oldest if it lags; none if it is gone."""
        client = self.clients.get(conn_id)
        if client is None:
            return
        if client.outbox.full():  # a lagging client hears the latest, not the oldest
            client.outbox.get_nowait()
            self.counts["dropped_sends"] += 1
        client.outbox.put_nowait(text)

    async def close(self, flush_s: float) -> None:
        """Give what is queued (the final response/end) up to ``flush_s`` to go, then close every connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + flush_s
        while any(client.outbox.qsize() for client in self.clients.values()) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for client in list(self.clients.values()):
            await client.websocket.close()

    async def _write(self, client: _Client) -> None:
        while not client.websocket.closed:
            text = await client.outbox.get()
            if not client.websocket.closed:  # it may have closed while this waited
                await client.websocket.send_str(text)

    def _receive(self, client: _Client, message) -> None:
        parsed = parse_message(message.data) if message.type == WSMsgType.TEXT else None
        if parsed is None:
            self.counts["bad_frames"] += 1  # not robojam's, binary, or over MAX_FRAME (aiohttp closed it)
            return
        client.spoke = True
        self.server.post(*parsed, host=f"web:{client.conn_id}")

    def _settings(self) -> list:
        """The server's settings as name-value pairs, after its sliders' ranges and the models to choose from."""
        limits = {name: [RANGES[name].low, RANGES[name].high] for name in LIVE}
        pairs = ["limits", limits, "models", model_names(self.server.options.models_dir),
                 "model", self.server.model_path.name]
        return pairs + [item for pair in asdict(self.server.settings).items() for item in pair]


class WebApp:
    """The page, WebSocket, HTTP API and status on one or two ports: the ``web`` bridge."""

    scheme = "web"

    def __init__(self, server, sites: list[Site], *, max_predictions: int = MAX_PREDICTIONS,
                 queue_wait: float = QUEUE_WAIT_S, max_body: int = MAX_BODY, max_requests: int = MAX_REQUESTS,
                 per_client: int = PER_CLIENT, idle: float = IDLE_S, deadline: float = DEADLINE_S):
        self.server, self.sites = server, sites
        self.folder = web_client_folder().resolve()
        self.predictor = Predictor(server, max_predictions, queue_wait)
        self.max_body, self.idle = max_body, idle
        self.counts = Counter()  # connections, bad_frames, dropped_sends; API: responses, UNANSWERED
        self.admission = Admission(self.counts, max_requests, per_client, deadline)
        self.addresses: list[tuple[str, int]] = []  # each site's, once listening
        self.sockets = PageSocket(server, self.counts)
        self._runners: list[web.AppRunner] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on every site; returns once listening. RobojamError if a port cannot be had."""
        listening = concurrent.futures.Future()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(listening),), name="robojam-web",
                                        daemon=True)
        self._thread.start()
        try:
            self._loop = listening.result(timeout=10)
        except Exception:
            self._thread.join(5)
            raise

    async def _serve(self, listening: concurrent.futures.Future) -> None:
        """The thread's life: listen, say so (or why not), serve until stopped, flush and close."""
        self._stopping = asyncio.Event()
        try:
            for site in self.sites:
                await self._listen(site)
        except Exception as e:  # noqa: BLE001 - handed to start(), which raises it on its own thread
            listening.set_exception(e)
        else:
            listening.set_result(asyncio.get_running_loop())
            await self._stopping.wait()
            await self.sockets.close(CLOSE_FLUSH_S)
        finally:
            for runner in self._runners:
                await runner.cleanup()

    async def _listen(self, site: Site) -> None:
        runner = web.AppRunner(self._app(site.page), access_log=None, handle_signals=False, shutdown_timeout=1.0,
                               keepalive_timeout=self.idle, lingering_time=LINGER_S, logger=self._counting_logger())
        await runner.setup()
        self._runners.append(runner)
        try:
            await web.TCPSite(runner, site.host, site.port, ssl_context=site.tls).start()
        except OSError as e:
            raise RobojamError(f"cannot serve on {site.host}:{site.port} ({e.strerror or e}); is another robojam "
                               "running? choose another --web or --api port") from None
        self.addresses.append(runner.addresses[0][:2])

    def _app(self, page: bool) -> web.Application:
        app = web.Application(client_max_size=self.max_body,
                              middlewares=[self.admission.answers, self.admission.admit])
        app.router.add_post(API_PATH, self._predict, expect_handler=self._expect)
        app.router.add_route("OPTIONS", API_PATH, preflight)
        app.router.add_get(STATUS_PATH, self._status)
        if page:
            app.router.add_get(SOCKET_PATH, self.sockets.handle)
            for name in ["", *(file.name for file in self.folder.iterdir() if file.suffix in PAGE_TYPES)]:
                app.router.add_get(f"/{name}", self._page_file)
        return app

    def _counting_logger(self) -> logging.Logger:
        """aiohttp's log of what it refused itself (requests that are not HTTP): counted, never printed."""
        logger = logging.Logger("robojam.web.http")
        logger.addFilter(lambda record: self.counts.update(["bad_request"]))  # a filter saying None: dropped
        return logger

    def stop(self) -> None:
        """Close every connection and end the loop thread; safe to call twice."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(5)
        self.predictor.close()

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
        """Queue a message for one browser connection, from any thread, never blocking; dropped if it is gone.
        True: a browser's replies go back over its connection, never to OSC's --send destinations."""
        loop = self._loop
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            if loop is not None:
                text = json.dumps({"address": address, "args": list(args)}, default=float)
                loop.call_soon_threadsafe(self.sockets.enqueue, peer, text)
        return True

    async def _status(self, request: web.Request) -> web.Response:
        """The server's figures, read on its own thread (where they change)."""
        done = concurrent.futures.Future()
        self.server.inbox.run_soon(lambda: done.set_result({"model": self.server.model_path.name,
                                                            **self.server.status()}))
        try:
            figures = await asyncio.wait_for(asyncio.wrap_future(done), STATUS_WAIT_S)
        except TimeoutError:
            return error(503, "busy: the server did not answer in time")
        return web.json_response(figures, headers=NO_STORE)

    async def _predict(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:  # aiohttp stops reading at client_max_size, declared or chunked
            raise BadRequest(f"the body is over {self.max_body} bytes; at most {self.max_body}", 413) from None
        knobs = parse_steer(f"{k}={v}" for k, v in request.query.items() if k != "drafts")
        response = await self.predictor.respond(body, knobs, parse_drafts(request.query.getall("drafts", [])))
        self.counts["responses"] += 1
        return web.json_response({"response": response}, headers=NO_STORE)

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        """``Expect: 100-continue`` (curl's large bodies): refuse an oversized one before it is sent."""
        if (request.content_length or 0) > self.max_body:
            self.counts["too_large"] += 1
            return error(413, f"the body is {request.content_length} bytes; at most {self.max_body}")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return None

    async def _page_file(self, request: web.Request) -> web.FileResponse:
        """One of the page's files, read afresh each time (aiohttp answers If-Modified-Since)."""
        file = self.folder / (request.path[1:] or "index.html")
        return web.FileResponse(file, headers={"Content-Type": PAGE_TYPES[file.suffix], "Cache-Control": "no-cache",
                                               "X-Content-Type-Options": "nosniff"})


def web_client_folder() -> Path:
    """The page's files: package data when installed, ``clients/web`` in a source checkout."""
    installed = Path(__file__).parents[1] / "webclient"
    return installed if (installed / "index.html").is_file() else SOURCE_ROOT / "clients" / "web"


def parse_message(text: str) -> tuple[str, list] | None:
    """(address, args) from a JSON text frame, or None unless it is a /robojam/ message (args: the server's)."""
    try:
        data = json.loads(text)
        address, args = data["address"], data.get("args", [])
    except Exception:  # noqa: BLE001 - whatever a hostile frame makes the decoder raise (RecursionError
        return None    # at 1,000 nested brackets) is a bad frame, never a closed connection
    robojams = isinstance(address, str) and address.startswith("/robojam/") and isinstance(args, list)
    return (address, args) if robojams else None
