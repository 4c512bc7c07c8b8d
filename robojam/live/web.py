"""The browser touch instrument: the web page and a WebSocket bridge to the server.

``robojam serve --web PORT`` serves, on one port, the page in ``clients/web``
(package data ``robojam.webclient`` when installed) over plain HTTP and a
WebSocket at ``/ws`` carrying the OSC protocol's messages as JSON text
frames, ``{"address": "/robojam/touch", "args": [x, y, z]}``, both ways.

Each WebSocket connection is one performer: its messages are posted to the
server as if from the host ``web:ID``, and the server's replies to that host
come back over the same connection. The bridge runs websockets' asyncio
server on its own thread and event loop; the server thread hands it
outgoing messages with :meth:`WebBridge.send`, which never blocks.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import itertools
import json
import logging
import socket
import threading
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from robojam import SOURCE_ROOT, RobojamError
from robojam.live.limits import LIMITS, LIVE_SETTINGS
from robojam.live.models import model_names

SOCKET_PATH = "/ws"
MAX_FRAME = 4096          # bytes: a touch is ~60; anything much bigger is not robojam's
OUTBOX_SIZE = 256         # messages queued per connection (~4 s of touches) before the oldest go
CLOSE_FLUSH_S = 0.5       # at shutdown, time given to send what is queued (the final response/end)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
SETTINGS_ADDRESS = "/robojam/web/settings"  # web only: the server's settings, sent on connect
LOGGER = logging.getLogger("robojam.live.web")


def web_client_folder() -> Path:
    """The page's files: package data when installed, ``clients/web`` in a source checkout."""
    try:
        installed = Path(str(resources.files("robojam.webclient")))
    except ModuleNotFoundError:
        installed = None
    if installed is not None and (installed / "index.html").is_file():
        return installed
    return SOURCE_ROOT / "clients" / "web"


@dataclass
class _Client:
    """One browser connection and the messages waiting to go to it."""

    websocket: ServerConnection
    conn_id: str
    outbox: deque = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    spoke: bool = False  # it sent the server something, so the server may hold a session for it


class WebBridge:
    """HTTP page + WebSocket on one port, on its own thread with its own event loop."""

    def __init__(self, server, host: str, port: int):
        self.server = server
        self.host = host
        self.port = port
        self.folder = web_client_folder().resolve()
        self.counts = Counter()  # connections, bad_frames, dropped_sends
        self._clients: dict[str, _Client] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ws_server = None
        self._stopped = False
        self._lock = threading.Lock()

    # --- life cycle -------------------------------------------------------------

    def start(self) -> None:
        """Listen; returns once listening. RobojamError if the port cannot be had."""
        if self._thread is not None:
            raise RobojamError("the web bridge is already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="robojam-web", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)
        except OSError as e:
            self.stop()
            raise RobojamError(f"cannot serve the web page on {self.host}:{self.port} ({e.strerror or e}); "
                               "is another robojam running? choose another --web port") from None

    async def _open(self) -> None:
        self._ws_server = await serve(self._serve_connection, self.host, self.port,
                                      process_request=self._process_request, max_size=MAX_FRAME,
                                      compression=None, logger=LOGGER)

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        loop.run_forever()
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.close()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._ws_server.sockets[0].getsockname()[:2]
        return host, port

    def url(self) -> str:
        """The page's address to open on a phone: a wildcard host becomes this machine's LAN address."""
        host, port = self.address
        if host in ("0.0.0.0", "::", ""):
            host = _lan_address()
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def stop(self) -> None:
        """Close every connection and end the loop thread; safe to call twice."""
        with self._lock:
            if self._stopped or self._loop is None:
                self._stopped = True
                return
            self._stopped = True
        if self._ws_server is not None and self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=5)
            except Exception:  # noqa: BLE001 - shutting down whatever state it is in
                LOGGER.debug("closing the web bridge failed", exc_info=True)
        try:
            self._loop.call_soon_threadsafe(self._loop.stop)
        except RuntimeError:
            pass  # the loop is closed already
        self._thread.join(5)

    async def _close(self) -> None:
        deadline = self._loop.time() + CLOSE_FLUSH_S
        while any(c.outbox for c in self._clients.values()) and self._loop.time() < deadline:
            await asyncio.sleep(0.01)
        self._ws_server.close(close_connections=True)
        await self._ws_server.wait_closed()

    # --- outgoing ---------------------------------------------------------------

    def send(self, conn_id: str, address: str, args: list) -> None:
        """Queue a message for one connection; from any thread, never blocks, dropped if it is gone."""
        if self._stopped or self._loop is None:
            return
        text = json.dumps({"address": address, "args": list(args)}, default=float)
        try:
            self._loop.call_soon_threadsafe(self._enqueue, conn_id, text)
        except RuntimeError:
            pass  # the loop closed meanwhile

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
        try:
            while True:
                await client.ready.wait()
                client.ready.clear()
                while client.outbox:
                    await client.websocket.send(client.outbox.popleft())
        except ConnectionClosed:
            pass  # the reader sees it too and cleans up

    # --- incoming ---------------------------------------------------------------

    async def _serve_connection(self, websocket: ServerConnection) -> None:
        client = _Client(websocket, str(next(self._ids)))
        self._clients[client.conn_id] = client
        self.counts["connections"] += 1
        writer = asyncio.create_task(self._write(client))
        self._enqueue(client.conn_id, json.dumps({"address": SETTINGS_ADDRESS, "args": self._settings()}))
        try:
            async for message in websocket:
                self._receive(client, message)
        except ConnectionClosed as closed:
            if _closed_for_size(closed):
                self.counts["bad_frames"] += 1
        finally:
            writer.cancel()
            del self._clients[client.conn_id]
            if client.spoke:  # end a response still playing to nobody
                self.server.post("/robojam/stop", [], host=f"web:{client.conn_id}")

    def _receive(self, client: _Client, message: str | bytes) -> None:
        parsed = parse_message(message)
        if parsed is None:
            self.counts["bad_frames"] += 1
            return
        client.spoke = True
        self.server.post(*parsed, host=f"web:{client.conn_id}")

    def _settings(self) -> list:
        """The server's settings as name-value pairs, so the page's controls start where the server does;
        first the ranges its sliders must keep to (robojam.live.limits), as {name: [low, high]}."""
        settings = self.server.settings
        limits = {name: [LIMITS[name].low, LIMITS[name].high] for name in LIVE_SETTINGS}
        pairs: list = ["limits", limits, "models", model_names(self.server.options.models_dir),
                       "model", self.server.model_path.name]
        for f in fields(settings):
            pairs += [f.name, getattr(settings, f.name)]
        return pairs

    # --- the page ---------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Serve the page's files for plain GETs; let the WebSocket handshake through at /ws."""
        path = unquote(urlsplit(request.path).path)
        if path == SOCKET_PATH:
            if not _same_origin(request):
                return connection.respond(http.HTTPStatus.FORBIDDEN, "Only robojam's own page may connect\n")
            return None
        file = self._client_file(path)
        if file is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found\n")
        return _file_response(file.read_bytes(), CONTENT_TYPES[file.suffix])

    def _client_file(self, path: str) -> Path | None:
        """The file a URL path names, only if it is one of the page's own files."""
        name = path.lstrip("/") or "index.html"
        if "\\" in name or "\0" in name:
            return None
        file = (self.folder / name).resolve()
        if not file.is_relative_to(self.folder) or file.suffix not in CONTENT_TYPES or not file.is_file():
            return None
        return file


def parse_message(message: str | bytes) -> tuple[str, list] | None:
    """(address, args) from a JSON text frame, or None unless it is a /robojam/ message.

    The server checks the arguments themselves, counting bad ones by reason.
    """
    if not isinstance(message, str):
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    address, args = data.get("address"), data.get("args", [])
    if not isinstance(address, str) or not address.startswith("/robojam/") or not isinstance(args, list):
        return None
    return address, args


def _same_origin(request: Request) -> bool:
    """Whether a WebSocket comes from robojam's own page (or from no page at all: a script).

    Without this, any web site open in a browser on the network could play and
    control robojam through that browser.
    """
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc.lower() == request.headers.get("Host", "").lower()


def _closed_for_size(closed: ConnectionClosed) -> bool:
    """Whether websockets closed the connection for a frame over MAX_FRAME (close code 1009)."""
    return any(frame is not None and frame.code == 1009 for frame in (closed.rcvd, closed.sent))


def _file_response(body: bytes, content_type: str) -> Response:
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
        ("Connection", "close"),
    ])
    return Response(http.HTTPStatus.OK.value, http.HTTPStatus.OK.phrase, headers, body)


def _lan_address() -> str:
    """This machine's address on its local network, best guess; 127.0.0.1 when there is none."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing: it only picks a route
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def start_web(server, host: str, port: int) -> WebBridge:
    """Serve the page and WebSocket for ``server`` (``robojam.live.server.Server``); it stops the bridge at shutdown."""
    bridge = WebBridge(server, host, port)
    bridge.start()
    server.web = bridge
    return bridge
