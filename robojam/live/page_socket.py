"""The browser page's WebSocket (``/ws``, served by :mod:`robojam.live.webapp`): each connection one performer.

Frames are the OSC protocol's messages as JSON text, ``{"address": "/robojam/touch", "args": [x, y]}``,
both ways. A connection's performer is the host ``web:ID``; its replies queue per connection and go
out as fast as it reads them, the oldest dropped if it lags. On connecting it first hears the
server's settings, so the page's controls start where the server does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from robojam.live.knobs import LIVE, RANGES
from robojam.live.model_switch import model_names

SETTINGS_ADDRESS = "/robojam/web/settings"  # web only: the server's settings, sent on connect
MAX_FRAME = 4096          # bytes: a touch is ~60; anything much bigger is not robojam's
OUTBOX_SIZE = 256         # messages queued per connection (~4 s of touches) before the oldest go


@dataclass
class _Client:
    """One browser connection and the messages waiting to go to it."""

    websocket: web.WebSocketResponse | None
    conn_id: str
    outbox: deque = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    spoke: bool = False  # it sent the server something, so the server may hold a session for it


class PageSocket:
    """Every browser connection, on the web app's loop; ``counts`` gets connections, bad_frames, dropped_sends."""

    def __init__(self, server, counts: Counter):
        self.server, self.counts = server, counts
        self.clients: dict[str, _Client] = {}
        self._ids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """A connection's life: its settings first, then its frames posted to the server as they come."""
        if not same_origin(request):
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
        """Queue a frame for one connection (on the loop); dropped if it is gone."""
        client = self.clients.get(conn_id)
        if client is None:
            return
        if len(client.outbox) >= OUTBOX_SIZE:  # a slow client: it hears the latest, not the oldest
            client.outbox.popleft()
            self.counts["dropped_sends"] += 1
        client.outbox.append(text)
        client.ready.set()

    async def close(self, flush_s: float) -> None:
        """Give what is queued (the final response/end) up to ``flush_s`` to go, then close every connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + flush_s
        while any(client.outbox for client in self.clients.values()) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for client in list(self.clients.values()):
            await client.websocket.close()

    async def _write(self, client: _Client) -> None:
        """Send a connection's queued messages as they come (one writer per connection)."""
        while not client.websocket.closed:
            await client.ready.wait()
            client.ready.clear()
            while client.outbox and not client.websocket.closed:
                await client.websocket.send_str(client.outbox.popleft())

    def _receive(self, client: _Client, message) -> None:
        parsed = parse_message(message.data) if message.type == WSMsgType.TEXT else None
        if parsed is None:
            self.counts["bad_frames"] += 1  # not robojam's, binary, or over MAX_FRAME (aiohttp closed it)
            return
        client.spoke = True
        self.server.post(*parsed, host=f"web:{client.conn_id}")

    def _settings(self) -> list:
        """The server's settings as name-value pairs; first the ranges the page's sliders must keep to
        (robojam.live.knobs) as {name: [low, high]}, then the models it may choose from."""
        settings = self.server.settings
        limits = {name: [RANGES[name].low, RANGES[name].high] for name in LIVE}
        pairs: list = ["limits", limits, "models", model_names(self.server.options.models_dir),
                       "model", self.server.model_path.name]
        for f in fields(settings):
            pairs += [f.name, getattr(settings, f.name)]
        return pairs


def parse_message(message) -> tuple[str, list] | None:
    """(address, args) from a JSON text frame, or None unless it is a /robojam/ message.

    The server checks the arguments themselves, counting bad ones by reason.
    """
    if not isinstance(message, str):
        return None
    try:
        data = json.loads(message)
    except Exception:  # noqa: BLE001 - whatever a hostile frame makes the decoder raise (RecursionError
        return None    # at 1,000 nested brackets) is a bad frame, never a closed connection
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
