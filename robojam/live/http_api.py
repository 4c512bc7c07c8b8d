"""RoboJam's HTTP API: ``POST /api/predict`` answers a whole performance with a response.

Clients written for RoboJam (the MicroJam app, scripts built on it) call one
endpoint; ``robojam serve --api PORT`` serves the same one, so they work
unchanged apart from the address.

Request: ``POST /api/predict`` with the JSON body ``{"perf": "<CSV>"}``,
whatever the Content-Type, or a form field ``perf`` holding a JSON-encoded
string. The CSV's header is ``time,x,y,z,moving``; rows are separated by
newlines, ``", "`` or ``","``, with or without a trailing newline; ``time`` is
seconds from the first touch. Only time, x and y are read: x and y are
clamped to [0, 1] and the time between touches to [0, 5] s.

Response: ``{"response": "<CSV>"}``, header ``time,x,y,z,moving`` and ``\\n``
line ends, every row five numbers: ``time`` from the response's first touch,
``z`` in points as MicroJam measures a touch's radius (robojam's dynamics,
:func:`robojam.core.performance.touch_dynamics`, scaled so that a touch
moving at a screen's width a second is RoboJam's 38.0: 17 to 59 points),
``moving`` 0 on the first row and on every row more than 0.1 s after the one
before (or jumping across the screen). About 5 s long, at most 1000 rows.

Each request gets an engine of its own from the server's current model (it
may change while playing), so requests share no state. With ``--seed`` a
response depends only on the seed and the call. Open CORS (the ``Origin`` is
echoed, the preflight answered). Bad bodies are a 400 with a JSON error,
bodies over :data:`MAX_BODY` a 413, more than ``max_predictions`` running at
once make the rest wait up to :data:`QUEUE_WAIT_S` and then get a 503, and
every connection has socket timeouts and a deadline. Nothing is printed per
request: the counts are in :attr:`HttpApi.counts` and the final line.

The standard library's ``http.server`` serves it, on its own port and
threads (one per connection, at most :data:`MAX_CONNECTIONS`): websockets,
which serves the page, takes no POST bodies, and this adds no dependency.
HTTPS with ``--tls-cert`` and ``--tls-key`` (PEM files).
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
import socketserver
import ssl
import threading
import time
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import MAX_DT
from robojam.core.engine import Engine
from robojam.core.performance import COLUMNS, stroke_continues, touch_dynamics
from robojam.live.limits import Limit, shown

API_PATH = "/api/predict"
MAX_BODY = 256 * 1024        # bytes: a MicroJam performance is ~10 kB; this is ~20,000 touches
DRAIN_LIMIT = 1024 * 1024    # bytes of a refused body read (and thrown away) so the client sees the 413
RESPONSE_SECONDS = 5.0       # a response's length, as RoboJam's
MAX_ROWS = 1000              # rows in a response, at most
MICROJAM_Z = 38.0            # points: the touch radius RoboJam sent for every touch
DYNAMICS_AT_38 = 0.55        # touch_dynamics of a touch moving a screen's width a second: 38 points
MAX_PREDICTIONS = 4          # predictions running at once (they are CPU-bound); the rest wait
QUEUE_WAIT_S = 5.0           # how long a request waits for a prediction slot before its 503
MAX_CONNECTIONS = 64         # connections at once (a thread each); more are refused with a 503
SOCKET_TIMEOUT_S = 10.0      # each read and write on a connection
CONNECTION_DEADLINE_S = 30.0  # a connection's whole life, however slowly its client trickles
REFUSED_LINGER_S = 0.5       # a refused connection stays half-open this long for its request to arrive
PORT = Limit(0, 65535, integer=True)
PREDICTIONS = Limit(1, 64, integer=True)
CORS_MAX_AGE = "600"
# Why requests went unanswered, as counted: a bad body or request line, over MAX_BODY, no prediction slot
# in time, too many connections, a failed TLS handshake, a client past its timeout or deadline, a bug.
UNANSWERED = ("bad_request", "too_large", "busy", "refused", "tls_failed", "timed_out", "errors")


class BadRequest(ValueError):
    """A request robojam cannot answer: a 400 (or ``status``) with this message."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


# --- the request's performance ----------------------------------------------------------


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
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is neither JSON nor a form (not UTF-8)") from None
    try:
        form = parse_qs(text, keep_blank_values=True, strict_parsing=True, max_num_fields=64)
    except ValueError:
        form = {}
    if "perf" not in form:
        raise BadRequest('the body must be JSON {"perf": "<CSV>"} or a form with a perf field')
    value = form["perf"][0]
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        decoded = value  # not JSON-encoded after all: the CSV itself
    if not isinstance(decoded, str):
        raise BadRequest("the form's perf field must hold a JSON-encoded string of CSV")
    return decoded


def parse_perf(text: str) -> np.ndarray:
    """A RoboJam CSV performance as ``x, y, dt`` rows, cleaned: x, y in [0, 1], dt in [0, 5].

    Rows may be separated by newlines, ``", "`` or ``","`` (a row is as many
    fields as the header names); only ``time``, ``x`` and ``y`` are read.
    """
    lines = [line for line in text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
             if line.strip()]
    if not lines:
        raise BadRequest("perf is empty; expected CSV with the header time,x,y,z,moving")
    first = _fields(lines[0])
    names = []
    while len(names) < len(first) and not _is_number(first[len(names)]):
        names.append(first[len(names)].lower())
    missing = [c for c in ("time", "x", "y") if c not in names]
    if missing or len(set(names)) != len(names):
        raise BadRequest(f"perf's header {shown(','.join(names), 60)} must name time, x and y once each "
                         "(time,x,y,z,moving)")
    width, columns = len(names), [names.index(c) for c in ("time", "x", "y")]
    rows = []
    for number, fields in enumerate([first[width:]] + [_fields(line) for line in lines[1:]], 1):
        if not fields:
            continue
        if len(fields) % width == 0:
            rows += [fields[i:i + width] for i in range(0, len(fields), width)]
        elif max(columns) < len(fields) < width:
            rows.append(fields)  # a short row: time, x and y are there
        else:
            raise BadRequest(f"perf line {number}: {len(fields)} fields, not rows of {width} ({','.join(names)})")
    if not rows:
        raise BadRequest("perf has no touches after its header")
    values = np.array([[_number(row[i], number) for i in columns] for number, row in enumerate(rows, 1)])
    dt = np.clip(np.diff(values[:, 0], prepend=values[:1, 0]), 0.0, MAX_DT)
    return np.column_stack([np.clip(values[:, 1], 0.0, 1.0), np.clip(values[:, 2], 0.0, 1.0), dt])


def _fields(line: str) -> list[str]:
    fields = [f.strip() for f in line.split(",")]
    while fields and not fields[-1]:
        fields.pop()  # a trailing "," or ", "
    return fields


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, row: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"perf row {row}: {shown(text, 30)} is not a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"perf row {row}: {shown(text, 30)} is not a finite number")
    return value


# --- the response -------------------------------------------------------------------------


def response_csv(xy_dt: np.ndarray) -> str:
    """A response's ``x, y, dt`` rows (first dt 0) as MicroJam reads them: five numbers a row, ``\\n`` ends.

    Times are written first and the strokes (``moving``) inferred from the
    times as written, so a client that subtracts them finds moving 0 wherever
    dt > 0.1.
    """
    xy_dt = np.asarray(xy_dt, dtype=np.float64).reshape(-1, 3)[:MAX_ROWS]
    times = [f"{t:.6f}" for t in np.cumsum(xy_dt[:, 2]) - xy_dt[0, 2]] if len(xy_dt) else []
    written = np.array([float(t) for t in times])
    as_written = np.column_stack([xy_dt[:, :2], np.diff(written, prepend=written[:1])])
    moving = stroke_continues(as_written)
    lines = [",".join(COLUMNS)]
    previous = as_written[0, :2] if len(as_written) else None
    for t, (x, y, dt), m in zip(times, as_written, moving):
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


# --- the server -----------------------------------------------------------------------------


class HttpApi:
    """``POST /api/predict`` on its own port and threads, for a ``robojam.live.server.Server``."""

    def __init__(self, server, host: str, port: int, *, tls_cert: Path | None = None, tls_key: Path | None = None,
                 max_predictions: int = MAX_PREDICTIONS, queue_wait: float = QUEUE_WAIT_S,
                 max_body: int = MAX_BODY, max_connections: int = MAX_CONNECTIONS,
                 socket_timeout: float = SOCKET_TIMEOUT_S, deadline: float = CONNECTION_DEADLINE_S):
        self.server = server
        self.host, self.port = host, port
        self.tls = _tls_context(tls_cert, tls_key) if tls_cert is not None or tls_key is not None else None
        self.max_predictions, self.queue_wait, self.max_body = max_predictions, queue_wait, max_body
        self.socket_timeout, self.deadline = socket_timeout, deadline
        self.slots = threading.BoundedSemaphore(max_predictions)
        self.counts = Counter()  # requests, responses, bad_request, too_large, busy, refused, tls_failed, ...
        self._counts_lock = threading.Lock()
        self._engine_lock = threading.Lock()
        self._template: Engine | None = None
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._max_connections = max_connections

    # --- life cycle ---

    def start(self) -> None:
        """Listen and serve on a thread of its own; RobojamError if the port cannot be had."""
        try:
            self._httpd = _HttpServer(self, (self.host, self.port), self._max_connections)
        except (OSError, OverflowError) as e:
            raise RobojamError(f"cannot serve the HTTP API on {self.host}:{self.port} "
                               f"({getattr(e, 'strerror', None) or e}); choose another --api port") from None
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="robojam-http-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and end open connections; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.end_connections()
        self._thread.join(5)

    @property
    def address(self) -> tuple[str, int]:
        httpd = self._httpd
        if httpd is None:
            return self.host, self.port
        return httpd.socket.getsockname()[:2]

    def url(self) -> str:
        host, port = self.address
        if host in ("0.0.0.0", "::", ""):
            from robojam.live.web import _lan_address
            host = _lan_address()
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{port}{API_PATH}"

    def count(self, what: str) -> None:
        with self._counts_lock:
            self.counts[what] += 1

    def summary(self) -> str:
        """The final line: responses, and requests not answered by reason."""
        c = self.counts
        others = ", ".join(f"{k.replace('_', ' ')} {c[k]}" for k in UNANSWERED if c[k])
        return f"HTTP API: {c['responses']} response(s)" + (f"; not answered: {others}" if others else "")

    # --- predicting ---

    def predict(self, body: bytes) -> str:
        """The response CSV for a request's body; BadRequest for a body that is not a performance."""
        call = parse_perf(perf_from_body(body))
        if not self.slots.acquire(timeout=self.queue_wait):
            raise BadRequest(f"busy: {self.max_predictions} predictions running; try again",
                             HTTPStatus.SERVICE_UNAVAILABLE)
        try:
            settings = self.server.settings
            rows = self._engine().respond(call, RESPONSE_SECONDS, request_rng(self.server.options.seed, call),
                                          settings.temp, settings.sigma_temp)
        finally:
            self.slots.release()
        return response_csv(rows)

    def _engine(self) -> Engine:
        """A fresh engine of the server's current model, sharing its (read-only) weights with the others."""
        model = self.server.model
        with self._engine_lock:
            if self._template is None or self._template.model is not model:
                self._template = Engine(model)
            return self._template.spawn()


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext:
    if cert is None or key is None:
        raise RobojamError("HTTPS needs both --tls-cert and --tls-key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert), str(key))
    except FileNotFoundError as e:
        raise RobojamError(f"{e.filename or cert}: no such file (--tls-cert, --tls-key)") from None
    except (OSError, ssl.SSLError) as e:
        raise RobojamError(f"cannot use {cert} and {key} for HTTPS ({getattr(e, 'reason', None) or e}); "
                           "they must be a PEM certificate and its private key") from None
    return context


class _HttpServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections``; each with a socket timeout and a deadline."""

    daemon_threads = True
    block_on_close = False  # stop() ends the connections itself
    request_queue_size = 64

    def __init__(self, api: HttpApi, address: tuple[str, int], max_connections: int):
        self.api = api
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._connections = threading.BoundedSemaphore(max_connections)
        self._open: dict[object, tuple[socket.socket, float]] = {}
        self._open_lock = threading.Lock()
        self._closing: list[tuple[socket.socket, float]] = []  # refused connections, and when to close them
        self._httpd_closing = False
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """As HTTPServer's, without its reverse DNS look-up (which can stall for seconds)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address) -> None:
        if not self._connections.acquire(blocking=False):
            self.api.count("refused")
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def _refuse(self, request: socket.socket) -> None:
        """Too many connections: a 503 written from the accepting thread (a few bytes, never blocking long).

        The socket stays half-open a moment while the client's request arrives, and what arrived is
        read before it is closed: closing on unread bytes would reset the connection under the 503.
        """
        if self.api.tls is not None or len(self._closing) >= MAX_CONNECTIONS:
            self.shutdown_request(request)
            return
        body = json.dumps({"error": "busy: too many connections; try again"}).encode()
        try:
            request.settimeout(0.5)
            request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                            b"Retry-After: 1\r\nConnection: close\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            request.shutdown(socket.SHUT_WR)
        except OSError:
            self.close_request(request)
            return
        self._closing.append((request, time.monotonic() + REFUSED_LINGER_S))

    def finish_request(self, request, client_address) -> None:
        request.settimeout(self.api.socket_timeout)
        token = object()
        self._watch(token, request)
        connection = request
        try:
            if self.api.tls is not None:
                connection = self.api.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
                self._watch(token, connection)
                try:
                    connection.do_handshake()
                except (OSError, ValueError):
                    self.api.count("tls_failed")
                    return
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            with self._open_lock:
                self._open.pop(token, None)
            if connection is not request:
                _close(connection)

    def _watch(self, token: object, connection: socket.socket) -> None:
        with self._open_lock:
            deadline = self._open[token][1] if token in self._open else time.monotonic() + self.api.deadline
            self._open[token] = (connection, deadline)

    def service_actions(self) -> None:
        """Every poll of the accepting loop: end connections past their deadline (a client trickling bytes),
        and close refused ones after reading what their clients sent."""
        now = time.monotonic()
        while self._closing and (self._closing[0][1] <= now or self._httpd_closing):
            _drain_and_close(self._closing.pop(0)[0])
        with self._open_lock:
            for token, (connection, deadline) in list(self._open.items()):
                if now > deadline:
                    self.api.count("timed_out")
                    _hang_up(connection)
                    del self._open[token]

    def end_connections(self) -> None:
        self._httpd_closing = True
        self.service_actions()
        with self._open_lock:
            for connection, _ in self._open.values():
                _hang_up(connection)
            self._open.clear()

    def handle_error(self, request, client_address) -> None:
        """A connection's unexpected error: counted, never printed (a client can provoke them at will)."""
        self.api.count("errors")


def _hang_up(connection: socket.socket) -> None:
    """Shut a connection from another thread: its reader sees the end and its thread finishes."""
    try:
        socket.socket.shutdown(connection, socket.SHUT_RDWR)  # the plain socket's, even under TLS
    except OSError:
        pass


def _drain_and_close(connection: socket.socket) -> None:
    """Read what a refused client sent (without waiting), then close: a close on unread bytes resets."""
    try:
        connection.setblocking(False)
        for _ in range(16):
            if not connection.recv(65536):
                break
    except OSError:
        pass
    connection.close()


def _close(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_WR)
    except (OSError, ValueError):
        pass
    connection.close()


class _Handler(BaseHTTPRequestHandler):
    """One request per connection: POST /api/predict, its CORS preflight, and JSON errors for the rest."""

    server: _HttpServer
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # so that even an unreadable request line gets headers with its 400

    def version_string(self) -> str:
        return "robojam"

    def setup(self) -> None:
        self.timeout = self.server.api.socket_timeout
        super().setup()

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def log_message(self, format, *args) -> None:  # noqa: A002 - http.server's name
        """Nothing per request on the console: the API counts instead."""

    @property
    def api(self) -> HttpApi:
        return self.server.api

    # --- methods ---

    def do_POST(self) -> None:  # noqa: N802 - http.server's names
        self.api.count("requests")
        if urlsplit(self.path).path != API_PATH:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint; POST performances to {API_PATH}"})
            return
        try:
            body = self._body()
        except OSError as e:  # the client went quiet (the socket timeout) or away: nobody to answer
            self.api.count("timed_out" if isinstance(e, TimeoutError) else "errors")
            return
        except BadRequest as e:
            self._refuse(e)
            return
        try:
            response = self.api.predict(body)
        except BadRequest as e:
            self._refuse(e)
            return
        except Exception:  # noqa: BLE001 - a bug: the client gets a 500, never a traceback
            self.api.count("errors")
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
            return
        self.api.count("responses")
        self._reply(HTTPStatus.OK, {"response": response})

    def _refuse(self, e: BadRequest) -> None:
        self.api.count({413: "too_large", 503: "busy"}.get(e.status, "bad_request"))
        extra = [("Retry-After", "1")] if e.status == HTTPStatus.SERVICE_UNAVAILABLE else []
        self._reply(e.status, {"error": str(e)}, extra)
        if e.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            self._drain()

    def do_OPTIONS(self) -> None:  # noqa: N802
        """The CORS preflight: any origin may POST JSON."""
        headers = [("Access-Control-Allow-Methods", "POST, OPTIONS"),
                   ("Access-Control-Allow-Headers", _safe(self.headers.get("Access-Control-Request-Headers"))
                    or "Content-Type"),
                   ("Access-Control-Max-Age", CORS_MAX_AGE)]
        if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers.append(("Access-Control-Allow-Private-Network", "true"))
        self._reply(HTTPStatus.NO_CONTENT, None, headers)

    def do_GET(self) -> None:  # noqa: N802
        if urlsplit(self.path).path == API_PATH:
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"POST a performance to {API_PATH}"},
                        [("Allow", "POST, OPTIONS")])
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such page; POST performances to {API_PATH}"})

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    # --- reading ---

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise BadRequest("send the body with a Content-Length, not chunked", HTTPStatus.LENGTH_REQUIRED)
        length = self._length()
        if length is None:
            raise BadRequest("a Content-Length is needed", HTTPStatus.LENGTH_REQUIRED)
        body = self.rfile.read(length)
        if len(body) < length:
            raise BadRequest("the body ended before its Content-Length")
        return body

    def _length(self) -> int | None:
        """The Content-Length (BadRequest if it is not a number, or more than the API takes)."""
        text = self.headers.get("Content-Length")
        if text is None:
            return None
        if not text.strip().isdigit():
            raise BadRequest("Content-Length is not a number")
        length = int(text)
        if length > self.api.max_body:
            raise BadRequest(f"the body is {length} bytes; at most {self.api.max_body}",
                             HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return length

    def _drain(self) -> None:
        """Read (up to DRAIN_LIMIT of) a refused body, so that closing does not reset the connection
        before the client has read the 413."""
        try:
            left = min(int(self.headers.get("Content-Length", "0").strip() or 0), DRAIN_LIMIT)
            self.connection.settimeout(1.0)
            while left > 0:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except (OSError, ValueError):
            pass

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl's large bodies): refuse an oversized one before it is sent."""
        try:
            self._length()
        except BadRequest as e:
            self.api.count("too_large" if e.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE else "bad_request")
            self._reply(e.status, {"error": str(e)})
            return False
        return super().handle_expect_100()

    # --- writing ---

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (a bad request line, too many headers, a method not served), as JSON."""
        self.api.count("bad_request")
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._reply(code, {"error": message or phrase})

    def _reply(self, status: int, body: dict | None, headers: list[tuple[str, str]] = ()) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        origin = _safe(self.headers.get("Origin")) if getattr(self, "headers", None) is not None else None
        if origin:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
        for name, value in headers:
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)


def _safe(value: str | None) -> str | None:
    """A header value fit to echo back: printable ASCII, no line breaks, not too long."""
    if not value or len(value) > 512 or not all(" " <= ch <= "~" for ch in value):
        return None
    return value


# --- from robojam serve ---------------------------------------------------------------------


def start_api(server, settings: dict) -> HttpApi:
    """Serve the API for ``server`` as ``robojam serve``'s settings ask (``api``, ``api_host``,
    ``tls_cert``, ``tls_key``, ``api_max_predictions``); the server's close stops it."""
    if settings["api"] is None:
        raise RobojamError("--tls-cert and --tls-key are for the HTTP API: give it a port with --api PORT")
    port = PORT.check("api", settings["api"])
    host = settings.get("api_host") or settings["host"]
    if not isinstance(host, str):
        raise RobojamError(f"api-host must be an address, not {shown(host)}")
    predictions = PREDICTIONS.check("api-max-predictions", settings.get("api_max_predictions", MAX_PREDICTIONS))
    files = {}
    for name in ("tls_cert", "tls_key"):
        value = settings.get(name)
        if value is not None and (not isinstance(value, (str, Path)) or not str(value) or "\0" in str(value)):
            raise RobojamError(f"{name.replace('_', '-')} must be a file name, not {shown(value)}")
        files[name] = None if value is None else Path(value).expanduser()
    api = HttpApi(server, host, port, max_predictions=predictions, **files)
    api.start()
    server.api = api
    return api
