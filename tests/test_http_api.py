"""RoboJam's HTTP API (robojam.live.api, served by robojam.live.webapp): POST /api/predict over real HTTP.

The clients are urllib (standard library) and, where installed, curl: peers
robojam did not write. The server is a real robojam server on an ephemeral
port with the shipped model.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlencode

import numpy as np
import pytest

from oscpeer import running_server
from robojam import RobojamError
from robojam.core.drafts import DEFAULT_DRAFTS, respond_with_drafts
from robojam.core.engine import Engine
from robojam.core.modelfile import load_model
from robojam.core.microjam import MAX_ROWS, call_rng, parse_call, response_csv
from robojam.core.microjam import perf_from_body
from robojam.live.session import Settings
from robojam.live.webapp import Site, WebApp
from synthetic import random_model

HEADER = "time,x,y,z,moving"


@pytest.fixture(scope="module")
def shipped():
    return load_model()


@contextmanager
def serving(model=None, settings: Settings | None = None, tls=None, **api_options):
    """A running robojam server with its HTTP API on 127.0.0.1, an ephemeral port; yields (server, api, url)."""
    with running_server(settings=settings or Settings(), model=model) as (server, _, _):
        api = WebApp(server, [Site("127.0.0.1", 0, page=False, tls=tls)], **api_options)
        server.open(api)
        thread = api._thread
        yield server, api, api.url(page=False)
    thread.join(5)
    assert not thread.is_alive(), "the API did not stop with the server"
    assert api._loop is None


@pytest.fixture
def api(shipped):
    with serving(shipped) as running:
        yield running


def call_csv(n: int = 40, start: float = 0.2, sep: str = "\n", trailing: bool = True, z: bool = True) -> str:
    """A spiral-ish call in RoboJam's CSV, rows joined by ``sep``."""
    rows = []
    for i in range(n):
        x, y, t = start + 0.3 * math.cos(i / 5) * i / n, 0.5 + 0.3 * math.sin(i / 5) * i / n, i * 0.03
        rows.append(f"{t:.3f},{x:.4f},{y:.4f},38.0,{int(i > 0)}" if z else f"{t:.3f},{x:.4f},{y:.4f}")
    return sep.join([HEADER if z else "time,x,y"] + rows) + ("\n" if trailing else "")


def request(url: str, body: bytes | None = None, method: str = "POST", headers: dict | None = None,
            context: ssl.SSLContext | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=20, context=context) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def read_to_end(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def predict(url: str, perf: str, **kwargs) -> tuple[int, dict]:
    status, _, body = request(url, json.dumps({"perf": perf}).encode(), **kwargs)
    return status, json.loads(body)


def check_response(text: str) -> np.ndarray:
    """What MicroJam's parser needs of a response; returns its rows as numbers."""
    assert "\r" not in text and text.endswith("\n")
    lines = text[:-1].split("\n")
    assert lines[0] == HEADER
    assert 1 <= len(lines) - 1 <= MAX_ROWS
    rows = []
    for line in lines[1:]:
        fields = line.split(",")
        assert len(fields) == 5, line
        rows.append([float(f) for f in fields])
    rows = np.array(rows)
    assert np.isfinite(rows).all()
    t, x, y, z, moving = rows.T
    assert t[0] == 0.0 and (np.diff(t) >= 0).all()
    assert ((0 <= x) & (x <= 1) & (0 <= y) & (y <= 1)).all()
    assert ((0 < z) & (z <= 38 / 0.55 + 1e-6)).all()  # points: RoboJam's 38 at a screen's width a second
    assert set(moving) <= {0.0, 1.0} and moving[0] == 0
    dt = np.diff(t, prepend=t[:1])
    assert (moving[dt > 0.1] == 0).all()
    return rows


# --- the request shapes ---------------------------------------------------------------------


@pytest.mark.parametrize("perf", [
    call_csv(sep=", ", trailing=False),     # MicroJam's: rows after ", ", no trailing newline
    call_csv(sep=",", trailing=False),
    call_csv(sep=", ", trailing=True),
    call_csv(sep="\n"),
    call_csv(sep="\r\n", trailing=False),
    call_csv(z=False),                       # only time, x and y
], ids=["comma-space", "comma", "comma-space-newline", "newlines", "crlf", "time-x-y"])
def test_the_request_shapes_get_a_microjam_response(api, perf):
    _, _, url = api
    status, reply = predict(url, perf)
    assert status == 200 and list(reply) == ["response"]
    rows = check_response(reply["response"])
    assert 2.5 < rows[-1, 0] <= 5.0                        # about 5 s


def test_a_form_field_holding_a_json_string(api):
    _, _, url = api
    body = urlencode({"perf": json.dumps(call_csv(sep=", ", trailing=False))}).encode()
    status, headers, reply = request(url, body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    check_response(json.loads(reply)["response"])


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_json_whatever_the_content_type(api, content_type):
    _, _, url = api
    headers = {"Content-Type": content_type} if content_type else {}
    status, reply = predict(url, call_csv(), headers=headers)
    assert status == 200
    check_response(reply["response"])


def test_the_call_is_clamped_as_in_training():
    text = "time,x,y,z,moving, 0.0,-0.5,1.5,38,0, 0.1,0.5,0.5,38,1, 20.0,2,-1,38,1, 19.0,0.3,0.3,38,1"
    assert parse_call(text).tolist() == [[0.0, 1.0, 0.0], [0.5, 0.5, 0.1], [1.0, 0.0, 5.0], [0.3, 0.3, 0.0]]


def test_the_response_format_holds_at_its_limits():
    rng = np.random.default_rng(0)
    many = np.column_stack([rng.random(3000), rng.random(3000), rng.choice([0.0, 0.005, 0.1, 0.1000001, 0.3], 3000)])
    many[0, 2] = 0.0
    rows = check_response(response_csv(many))
    assert len(rows) == MAX_ROWS
    one = check_response(response_csv(np.array([[0.5, 0.5, 0.0]])))
    assert one.tolist() == [[0.0, 0.5, 0.5, one[0, 3], 0.0]]


# --- many at once, each on its own -------------------------------------------------------------


def test_twenty_concurrent_requests_each_get_their_own_response(shipped):
    # twenty drafted answers on 2 busy cores can queue past the 5 s wait: this is about isolation, not speed
    with serving(shipped, per_client=20, queue_wait=60.0) as running:
        twenty_at_once(shipped, *running)


DRAFTS_AT_ONCE = 2  # drafted, as by default, but fewer candidates: the test's time goes on isolation


def twenty_at_once(shipped, server, api_, url):
    calls = [call_csv(n=20 + i, start=0.1 + 0.02 * i, sep=", ", trailing=False) for i in range(20)]
    barrier = threading.Barrier(20)

    def one(perf):
        barrier.wait(10)
        return predict(f"{url}?drafts={DRAFTS_AT_ONCE}", perf)

    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(one, calls))
    assert [status for status, _ in replies] == [200] * 20
    for perf, (_, reply) in zip(calls, replies):
        check_response(reply["response"])
        # the same as a fresh engine of its own gives, one at a time: no request touched another's state
        call = parse_call(perf)
        alone = respond_with_drafts(Engine(shipped), shipped.selector, call, 5.0,
                                    call_rng(server.options.seed, call), DRAFTS_AT_ONCE, server.settings.temp,
                                    server.settings.sigma_temp)
        assert reply["response"] == response_csv(alone)
    assert len({reply["response"] for _, reply in replies}) == 20
    assert api_.counts["responses"] == 20


def test_beyond_the_prediction_limit_a_503(shipped):
    with serving(shipped, max_predictions=2, queue_wait=0.2) as (_, api, url):
        free = api.predictor.free
        for _ in range(2):   # two predictions "running"
            asyncio.run_coroutine_threadsafe(free.acquire(), api._loop).result(5)
        status, headers, body = request(url, json.dumps({"perf": call_csv()}).encode())
        assert status == 503 and headers["Retry-After"] == "1" and "busy" in json.loads(body)["error"]
        api._loop.call_soon_threadsafe(free.release)
        status, _ = predict(url, call_csv())
        assert status == 200
        api._loop.call_soon_threadsafe(free.release)
        assert api.counts["busy"] == 1


def test_the_current_model_answers(api):
    server, _, url = api
    new = random_model(units=8)
    server.registry.use_model(new)  # as robojam.live.model_switch.ModelKeeper does on a change
    status, reply = predict(url, call_csv())
    call = parse_call(call_csv())
    alone = Engine(new).respond(call, 5.0, call_rng(server.options.seed, call),
                                server.settings.temp, server.settings.sigma_temp)
    assert status == 200 and reply["response"] == response_csv(alone)


def test_knobs_as_query_parameters(api, shipped):
    """POST /api/predict?energy=1.5&density=-1 (#24): the knobs of robojam respond --steer."""
    server, api_, url = api
    call = parse_call(call_csv())

    def alone(steer, drafts=DEFAULT_DRAFTS):
        response = respond_with_drafts(Engine(shipped), shipped.selector, call, 5.0,
                                       call_rng(server.options.seed, call), drafts, server.settings.temp,
                                       server.settings.sigma_temp, steer)
        return response_csv(response, steer.get("energy", 0.0))  # energy is louder, too
    plain = predict(url, call_csv())[1]["response"]
    assert predict(url + "?energy=0", call_csv())[1]["response"] == plain
    steered_reply = predict(url + "?energy=1.5&density=-1", call_csv())[1]["response"]
    assert steered_reply == alone({"energy": 1.5, "density": -1.0}) != plain
    for query, words in [("?loud=1", "no knob called 'loud'"), ("?density=9", "density takes a number from -2 to 2"),
                         ("?curl=left", "'left' is not a number")]:
        status, reply = predict(url + query, call_csv())
        assert status == 400 and words in reply["error"]
    assert api_.counts["bad_request"] == 3


def test_drafts_as_a_query_parameter(api, shipped):
    """POST /api/predict?drafts=1: one draw; by default DEFAULT_DRAFTS candidates a phrase (robojam.core.drafts)."""
    server, api_, url = api
    call = parse_call(call_csv())
    one = Engine(shipped).respond(call, 5.0, call_rng(server.options.seed, call), server.settings.temp,
                                  server.settings.sigma_temp)
    assert predict(url + "?drafts=1", call_csv())[1]["response"] == response_csv(one)
    best = respond_with_drafts(Engine(shipped), shipped.selector, call, 5.0, call_rng(server.options.seed, call),
                               DEFAULT_DRAFTS, server.settings.temp, server.settings.sigma_temp)
    assert predict(url, call_csv())[1]["response"] == response_csv(best) != response_csv(one)
    assert predict(url + "?drafts=3&curl=1", call_csv())[0] == 200
    for query in ("?drafts=0", "?drafts=65", "?drafts=two"):
        status, reply = predict(url + query, call_csv())
        assert status == 400 and "drafts must be a whole number from 1 to 64" in reply["error"]
    assert api_.counts["bad_request"] == 3


# --- CORS ------------------------------------------------------------------------------------


def test_cors_preflight_and_the_origin_echoed(api):
    _, _, url = api
    origin = "https://microjam.example"
    status, headers, body = request(url, method="OPTIONS", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert status == 204 and body == b""
    assert headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"].lower() == "content-type"
    status, headers, _ = request(url, json.dumps({"perf": call_csv()}).encode(), headers={"Origin": origin})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin and headers["Vary"] == "Origin"
    status, headers, _ = request(url, b"nonsense", headers={"Origin": origin})
    assert status == 400 and headers["Access-Control-Allow-Origin"] == origin   # errors readable by the page too


# --- bad requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"not json at all",
    b'{"nope": 1}',
    b'{"perf": 5}',
    b'{"perf": NaN}',
    b'["time,x,y"]',
    b"[" * 50000,
    b"\xff\xfe\x00garbage",
    json.dumps({"perf": ""}).encode(),
    json.dumps({"perf": "hello,world\n1,2\n"}).encode(),
    json.dumps({"perf": HEADER + "\n"}).encode(),
    json.dumps({"perf": "time,x,y\n0.0,abc,0.5\n"}).encode(),
    json.dumps({"perf": "time,x,y\n0.0,nan,0.5\n"}).encode(),
    json.dumps({"perf": "time,x,y\n0.0,0.5,inf\n"}).encode(),
    json.dumps({"perf": "time,x,y,z,moving\n0.0,0.5,0.5,38,0,7,8\n"}).encode(),
    json.dumps({"perf": "time,x,time\n0,0,0\n"}).encode(),
    urlencode({"perf": json.dumps(5)}).encode(),
    urlencode({"other": "x"}).encode(),
], ids=lambda b: repr(b[:24]))
def test_bad_bodies_get_a_400_with_a_json_error(api, body):
    _, api_, url = api
    status, headers, reply = request(url, body)
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    error = json.loads(reply)["error"]
    assert isinstance(error, str) and error and "Traceback" not in error
    assert api_.counts["errors"] == 0


def test_wrong_paths_methods_and_request_lines_are_errors(api):
    _, api_, url = api
    base = url.rsplit("/api/", 1)[0]
    status, _, body = request(base + "/api/other", b"{}")
    assert status == 404 and json.loads(body)["error"]
    status, headers, body = request(url, method="GET")
    assert status == 405 and "POST" in headers["Allow"] and json.loads(body)["error"]
    assert request(url, b"{}", method="PUT")[0] == 405
    assert request(base + "/", method="GET")[0] == 404       # the API's port serves no page
    with socket.create_connection(api_.addresses[0], timeout=5) as raw:
        raw.sendall(b"GARBAGE\r\n\r\n")                   # aiohttp's to refuse: a 400, counted
        reply = read_to_end(raw).decode()
    assert reply.startswith("HTTP/1.") and " 400 " in reply.split("\r\n", 1)[0]
    assert api_.counts["errors"] == 0 and api_.counts["bad_request"] == 1


def test_an_oversized_body_is_refused_with_413(shipped):
    with serving(shipped, max_body=4096) as (_, api, url):
        status, _, body = request(url, b'{"perf": "' + b"0" * 20000 + b'"}')
        assert status == 413 and "at most 4096" in json.loads(body)["error"]
        assert predict(url, call_csv(10))[0] == 200     # and it goes on serving
        assert api.counts["too_large"] == 1


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_as_the_client(api, tmp_path):
    _, api_, url = api
    out = subprocess.run(["curl", "-sS", "-X", "POST", url, "-d",
                          json.dumps({"perf": call_csv(sep=", ", trailing=False)})],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    check_response(json.loads(out.stdout)["response"])
    big = tmp_path / "big.json"
    big.write_bytes(b'{"perf": "' + b"1," * 400_000 + b'"}')   # 800 kB: curl asks "Expect: 100-continue"
    out = subprocess.run(["curl", "-sS", "-o", str(tmp_path / "out.json"), "-w", "%{http_code}",
                          "--data-binary", f"@{big}", url], capture_output=True, text=True, timeout=30)
    assert out.stdout == "413" and "at most" in json.loads((tmp_path / "out.json").read_text())["error"]


# --- bounded ----------------------------------------------------------------------------------


def test_a_silent_client_is_timed_out_and_a_trickling_one_cut_off(shipped):
    with serving(shipped, idle=0.3, deadline=1.0) as (_, api, url):
        with socket.create_connection(api.addresses[0], timeout=5) as silent:
            silent.sendall(b"POST /api/predict HTTP/1.1\r\n")      # and then nothing
            started = time.monotonic()
            assert silent.recv(100) == b""                            # the server hung up
            assert time.monotonic() - started < 3
        with socket.create_connection(api.addresses[0], timeout=5) as trickle:
            trickle.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            started = time.monotonic()
            with pytest.raises(OSError):
                while time.monotonic() - started < 5:               # a byte every 0.1 s: never a timeout
                    trickle.sendall(b"x")
                    time.sleep(0.1)
            assert time.monotonic() - started < 4
        assert api.counts["timed_out"] >= 1
        assert predict(url, call_csv(10))[0] == 200


def slow_request(address, source: str = "127.0.0.1") -> socket.socket:
    """A request whose body is still on its way: it holds its place in the API."""
    sock = socket.create_connection(address, timeout=5, source_address=(source, 0))
    sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
    return sock


def post_from(address, source: str, perf: str) -> int:
    """A whole request from the given loopback address (127.0.0.2 is another host here)."""
    body = json.dumps({"perf": perf}).encode()
    with socket.create_connection(address, timeout=20, source_address=(source, 0)) as sock:
        sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return int(read_to_end(sock).split(b" ", 2)[1])


def test_too_many_requests_at_once_get_a_503(shipped):
    with serving(shipped, max_requests=2) as (_, api, url):
        held = [slow_request(api.addresses[0]) for _ in range(2)]
        try:
            wait_for(lambda: sum(api.admission.in_flight.values()) == 2)
            status, headers, body = request(url, json.dumps({"perf": call_csv()}).encode())
            assert status == 503 and headers["Retry-After"] == "1" and "too many" in json.loads(body)["error"]
        finally:
            for s in held:
                s.close()
        wait_for(lambda: not api.admission.in_flight)
        assert predict(url, call_csv(10))[0] == 200
        assert api.counts["refused"] == 1


def test_one_host_cannot_hold_the_api(shipped):
    with serving(shipped, per_client=2, max_requests=4) as (_, api, url):
        held = [slow_request(api.addresses[0], "127.0.0.1") for _ in range(2)]
        try:
            wait_for(lambda: api.admission.in_flight["127.0.0.1"] == 2)
            assert post_from(api.addresses[0], "127.0.0.1", call_csv(10)) == 503   # the same host: refused
            assert post_from(api.addresses[0], "127.0.0.2", call_csv(10)) == 200   # another: served
        finally:
            for s in held:
                s.close()
        assert api.counts["refused"] == 1


def trickle(address, source: str, head: bytes, stop: threading.Event, cut: list) -> None:
    """A slow client: ``head`` at once, then a byte every 0.1 s until stopped or cut off (noted in ``cut``)."""
    try:
        with socket.create_connection(address, timeout=5, source_address=(source, 0)) as sock:
            sock.sendall(head)
            while not stop.wait(0.1):
                sock.sendall(b"x")
    except OSError:
        cut.append(head)


def test_one_host_trickling_on_many_connections_cannot_stop_another_being_served(shipped):
    headers_only = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nX-Slow: "   # never ends its headers
    body_pending = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    with serving(shipped, max_requests=8, per_client=4, idle=1.0, deadline=2.0) as (_, api, _):
        stop, cut = threading.Event(), []
        attackers = [threading.Thread(target=trickle, args=(api.addresses[0], "127.0.0.1", head, stop, cut))
                     for head in [headers_only] * 12 + [body_pending] * 12]
        for thread in attackers:
            thread.start()
        try:
            wait_for(lambda: api.admission.in_flight["127.0.0.1"] + api.counts["refused"] == 12)  # all asked
            assert api.admission.in_flight["127.0.0.1"] == 4                                        # all it may hold
            served = [post_from(api.addresses[0], "127.0.0.2", call_csv(10)) for _ in range(5)]
            assert served == [200] * 5
            wait_for(lambda: len(cut) == 24)   # every slow connection cut off, however busy it kept
        finally:
            stop.set()
            for thread in attackers:
                thread.join(5)
        assert api.counts["refused"] >= 8 and api.counts["responses"] == 5


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_client_that_hangs_up_is_counted_apart_from_errors(api):
    _, api_, _ = api
    with socket.create_connection(api_.addresses[0], timeout=5) as sock:
        sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        wait_for(lambda: api_.admission.in_flight)
    wait_for(lambda: api_.counts["hung_up"] == 1)   # it went away mid-body: not its error, nor robojam's
    assert api_.counts["errors"] == 0 and api_.counts["bad_request"] == 0
    assert "hung up 1" in api_.summary()


def test_nothing_is_printed_per_request(api, capfd):
    _, api_, url = api
    capfd.readouterr()
    predict(url, call_csv())
    request(url, b"junk")
    request(url, method="GET")
    with socket.create_connection(api_.addresses[0], timeout=5) as raw:
        raw.sendall(b"BAD\r\n\r\n")
        raw.recv(1000)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert api_.counts["responses"] == 1 and api_.counts["bad_request"] >= 2


# --- HTTPS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


def test_https_with_a_certificate(shipped, certificate, capfd):
    from robojam.live.assemble import tls_context

    cert, key = certificate
    with serving(shipped, tls=tls_context(cert, key)) as (_, api, url):
        assert url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context(cafile=str(cert))   # verifies the certificate and the address
        status, reply = predict(url, call_csv(sep=", ", trailing=False), context=trusting)
        assert status == 200
        check_response(reply["response"])
        status, headers, _ = request(url, method="OPTIONS", headers={"Origin": "https://a.example"},
                                     context=trusting)
        assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://a.example"
        with pytest.raises(urllib.error.URLError):                # a client that does not trust it
            request(url, b"{}", context=ssl.create_default_context())
        capfd.readouterr()
        with socket.create_connection(api.addresses[0], timeout=5) as plain:  # plain HTTP to the HTTPS port
            plain.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            plain.recv(1000)
        assert predict(url, call_csv(10), context=trusting)[0] == 200
        assert capfd.readouterr() == ("", "")   # failed handshakes are asyncio's: quiet


# --- from robojam serve -------------------------------------------------------------------------


def settings_with(**values) -> dict:
    from robojam.cli import SERVE_DEFAULTS

    return dict(SERVE_DEFAULTS, host="127.0.0.1", port=0, no_log=True, **values)


def test_serve_starts_and_stops_the_api(shipped):
    from robojam.live.assemble import build_server, describe

    server = build_server(settings_with(api=0))
    try:
        lines = describe(server, settings_with(api=0))
        assert any(line.startswith("HTTP API: POST performances to http://127.0.0.1:") for line in lines)
        status, _ = predict(server.web.url(page=False), call_csv())
        assert status == 200
        address = server.web.addresses[0]
    finally:
        server.close()
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=2)
    assert "1 response(s)" in server.web.summary()


def test_api_settings_are_checked(tmp_path, certificate):
    from robojam.live.assemble import build_server

    cert, key = certificate
    for values, message in [({"tls_cert": str(cert)}, "--api PORT"),
                            ({"api": 70000}, "api must be a whole number from 0 to 65535"),
                            ({"api": 0, "tls_cert": str(cert)}, "both --tls-cert and --tls-key"),
                            ({"api": 0, "tls_cert": str(tmp_path / "no.pem"), "tls_key": str(key)}, "no such file"),
                            ({"api": 0, "tls_cert": str(key), "tls_key": str(key)}, "PEM certificate"),
                            ({"api": 0, "api_max_predictions": 0}, "api-max-predictions"),
                            ({"api": 0, "api_host": 5}, "api-host")]:
        with pytest.raises(RobojamError, match=message):
            build_server(settings_with(**values)).close()
    with serving(random_model(units=8)) as (_, api, _):
        with pytest.raises(RobojamError, match="choose another --web or --api port"):
            build_server(settings_with(api=api.addresses[0][1]))


def test_api_options_on_the_command_line_and_in_config_files(tmp_path, certificate):
    from robojam.cli import SERVE_DEFAULTS, _merge_serve_settings
    from robojam.config import load_config

    cert, key = certificate
    config = tmp_path / "stage.toml"
    config.write_text(f'api = 5000\napi-host = "0.0.0.0"\ntls-cert = "{cert}"\ntls-key = "{key}"\n'
                      "api-max-predictions = 8\n")
    assert load_config(config, set(SERVE_DEFAULTS))["tls_cert"] == str(cert)
    merged = _merge_serve_settings(config, None, {"api": 6000})
    assert (merged["api"], merged["api_host"], merged["api_max_predictions"]) == (6000, "0.0.0.0", 8)
    result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--port", "0", "--no-log",
                             "--tls-cert", str(cert)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and "--api PORT" in result.stderr and "Traceback" not in result.stderr


def test_perf_from_body_reads_both_encodings():
    csv = call_csv(5)
    assert perf_from_body(json.dumps({"perf": csv}).encode()) == csv
    assert perf_from_body(urlencode({"perf": json.dumps(csv)}).encode()) == csv
    assert perf_from_body(urlencode({"perf": csv}).encode()) == csv   # a form whose perf is the CSV itself


def test_status_is_read_only_json(api):
    server, _, url = api
    status, headers, body = request(url.replace("/api/predict", "/status"), method="GET")
    figures = json.loads(body)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert figures["model"] == "default" and figures["sessions"] == 0 and "dropped" in figures
    assert request(url.replace("/api/predict", "/status"), b"{}")[0] == 405


@pytest.mark.filterwarnings("error")   # numpy's RuntimeWarning, raised in the prediction's thread, fails it
def test_a_call_of_subnormal_times_is_answered_without_a_warning(api, capfd):
    _, _, url = api
    rows = "\n".join(f"{i * 1e-320},{0.3 + i / 100},{0.5}" for i in range(40))
    capfd.readouterr()
    status, reply = predict(url, "time,x,y\n" + rows)
    assert status == 200
    check_response(reply["response"])
    assert capfd.readouterr() == ("", "")


def test_a_chunked_body_is_read_and_bounded(shipped):
    with serving(shipped, max_body=4096) as (_, api, url):
        def chunked(body: bytes) -> bytes:
            with socket.create_connection(api.addresses[0], timeout=20) as sock:
                sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             b"Connection: close\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
                return read_to_end(sock)
        assert b" 200 " in chunked(json.dumps({"perf": call_csv(10)}).encode()).split(b"\r\n")[0]
        assert b" 413 " in chunked(b'{"perf": "' + b"0" * 8000 + b'"}').split(b"\r\n")[0]
