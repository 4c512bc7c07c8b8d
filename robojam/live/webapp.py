"""robojam on the web: aiohttp applications on their own asyncio thread, beside the server's loop.

Each :class:`Site` (a listening address) serves RoboJam's HTTP API ``POST /api/predict``
(:mod:`robojam.live.api`, with the rules of :mod:`robojam.live.api_rules`) and ``GET /status`` (the
server's figures as JSON); a site with the page (``--web``) also serves the browser touch instrument
(``clients/web``) and its WebSocket at ``/ws``: the OSC protocol's messages as JSON text frames, both
ways, each connection one performer, host ``web:ID``. aiohttp guards the HTTP itself (malformed
requests, silent clients, body and frame sizes). Nothing is printed per request: the counts are in
:attr:`WebApp.counts` and the final line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import ssl
import threading
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aiohttp import web

from robojam import SOURCE_ROOT, RobojamError
from robojam.live.api import API_PATH, BadRequest, Predictor
from robojam.live.api_rules import NO_STORE, Admission, cors, error, preflight, refusals_as_json
from robojam.live.knobs import DEFAULTS
from robojam.live.page_socket import PageSocket
from robojam.live.transport import lan_address

SOCKET_PATH, STATUS_PATH = "/ws", "/status"
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
              ".css": "text/css; charset=utf-8"}
# Why API requests went unanswered, as counted.
UNANSWERED = ("bad_request", "too_large", "busy", "refused", "timed_out", "hung_up", "errors")


@dataclass(frozen=True)
class Site:
    """One listening address; ``page`` serves the page and WebSocket too, else only the API and status."""

    host: str
    port: int
    page: bool = True
    tls: ssl.SSLContext | None = None


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
        self._lock = threading.Lock()

    # --- life cycle: one asyncio loop on a thread of its own --------------------------------

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
        except OSError as e:
            listening.set_exception(RobojamError(
                f"cannot serve on {site.host}:{site.port} ({e.strerror or e}); is another robojam running? "
                "choose another --web or --api port"))
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
        await web.TCPSite(runner, site.host, site.port, ssl_context=site.tls).start()
        self.addresses.append(runner.addresses[0][:2])

    def _app(self, page: bool) -> web.Application:
        app = web.Application(client_max_size=self.max_body,
                              middlewares=[cors, refusals_as_json(self.counts), self.admission.middleware])
        app.router.add_post(API_PATH, self._predict, expect_handler=self._expect)
        app.router.add_route("OPTIONS", API_PATH, preflight)
        app.router.add_get(STATUS_PATH, self._status)
        if page:
            app.router.add_get(SOCKET_PATH, self.sockets.handle)
            for name, file in page_files(self.folder).items():
                app.router.add_get(name, page_file_handler(file))
        return app

    def _counting_logger(self) -> logging.Logger:
        """aiohttp's log of what it refused itself (requests that are not HTTP): counted, never printed."""
        logger = logging.Logger("robojam.web.http")
        logger.addFilter(lambda record: self.counts.update(["bad_request"]))  # a filter saying None: dropped
        return logger

    def stop(self) -> None:
        """Close every connection and end the loop thread; safe to call twice."""
        with self._lock:
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
        """Queue a message for one browser connection; from any thread, never blocks, dropped if it is gone.
        True: a browser's replies go back over its connection, never to OSC's --send destinations."""
        loop = self._loop
        if loop is not None:
            text = json.dumps({"address": address, "args": list(args)}, default=float)
            try:
                loop.call_soon_threadsafe(self.sockets.enqueue, peer, text)
            except RuntimeError:
                pass  # the loop closed meanwhile
        return True

    # --- HTTP -------------------------------------------------------------------------------------

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
        response = await self.predictor.respond(body)
        self.counts["responses"] += 1
        return web.json_response({"response": response}, headers=NO_STORE)

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        """``Expect: 100-continue`` (curl's large bodies): refuse an oversized one before it is sent."""
        if (request.content_length or 0) > self.max_body:
            self.counts["too_large"] += 1
            return error(413, f"the body is {request.content_length} bytes; at most {self.max_body}")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return None


def page_files(folder: Path) -> dict[str, Path]:
    """The page's files by URL path (``/`` is ``index.html``): only these are served, nothing else of the disk."""
    files = {f"/{file.name}": file for file in sorted(folder.iterdir()) if file.suffix in PAGE_TYPES}
    return {"/": folder / "index.html", **files}


def page_file_handler(file: Path):
    """A handler serving one of the page's files, read afresh each time (aiohttp answers If-Modified-Since)."""
    headers = {"Content-Type": PAGE_TYPES[file.suffix], "Cache-Control": "no-cache",
               "X-Content-Type-Options": "nosniff"}

    async def page_file(request: web.Request) -> web.FileResponse:
        return web.FileResponse(file, headers=headers)

    return page_file


def web_client_folder() -> Path:
    """The page's files: package data when installed, ``clients/web`` in a source checkout."""
    try:
        installed = Path(str(resources.files("robojam.webclient")))
    except ModuleNotFoundError:
        installed = None
    if installed is not None and (installed / "index.html").is_file():
        return installed
    return SOURCE_ROOT / "clients" / "web"
