"""The browser instrument: the page and WebSocket (robojam.live.webapp), and the page in a real browser.

The browser test drives Debian's chromium through Playwright's Python
package (never a downloaded browser): it plays a stroke on the page and
checks that the server heard and logged it and that robojam's answer came
back over the WebSocket and was drawn.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from oscpeer import running_server
from robojam import RobojamError
from robojam.core.touchlog import read_log
from robojam.live.knobs import RANGES
from robojam.live.logwriter import TouchLog
from robojam.live.webapp import OUTBOX_SIZE, _Client, parse_message
from robojam.live.webapp import Site, WebApp, web_client_folder

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOT = Path("/tmp/robojam-web.png")


@pytest.fixture
def web(tmp_path):
    """A server in a thread with its web bridge on an ephemeral loopback port; yields (server, bridge, log)."""
    log = TouchLog(tmp_path / "logs")
    with running_server(log=log) as (server, _, listener):
        bridge = WebApp(server, [Site("127.0.0.1", 0)])
        server.open(bridge)
        yield server, bridge, log
        assert listener.collect(0.05) == [], "a browser's replies went to the OSC --send destination too"
    bridge._thread.join(5)
    assert not bridge._thread.is_alive(), "the web bridge did not stop with the server"


def get(bridge: WebApp, path: str) -> tuple[int, dict, bytes]:
    """A plain HTTP GET, the path sent exactly as given (urllib would not normalise it either)."""
    connection = http.client.HTTPConnection(*bridge.addresses[0], timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@contextmanager
def socket_to(bridge: WebApp):
    """A WebSocket to the bridge, past the settings message it sends first."""
    with connect(f"ws://127.0.0.1:{bridge.addresses[0][1]}/ws", open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["address"] == "/robojam/web/settings"
        yield ws


def send(ws, address: str, *args) -> None:
    ws.send(json.dumps({"address": address, "args": list(args)}))


def receive_until(ws, address: str, seconds: float = 5.0) -> list[dict]:
    messages = []
    deadline = time.monotonic() + seconds
    while not messages or messages[-1]["address"] != address:
        messages.append(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
    return messages


def wait_for(condition, seconds: float = 5.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# --- the page over HTTP ---------------------------------------------------------

def test_the_client_folder_holds_the_page():
    folder = web_client_folder()
    assert {"index.html", "app.js", "style.css"} <= {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("path, content_type", [
    ("/", "text/html"), ("/index.html", "text/html"), ("/app.js", "text/javascript"),
    ("/style.css", "text/css"), ("/app.js?v=2", "text/javascript"),
])
def test_serves_the_page_files(web, path, content_type):
    _, bridge, _ = web
    status, headers, body = get(bridge, path)
    assert status == 200
    assert headers["Content-Type"].startswith(content_type)
    assert headers["Cache-Control"] == "no-cache"
    assert int(headers["Content-Length"]) == len(body) > 0


@pytest.mark.parametrize("path", [
    "/../robojam/web.py", "/%2e%2e/pyproject.toml", "/..%2f..%2fetc%2fpasswd", "//etc/passwd",
    "/__init__.py", "/missing.js", "/%00index.html", "/..\\pyproject.toml",
])
def test_refuses_everything_else(web, path):
    _, bridge, _ = web
    status, _, body = get(bridge, path)
    assert status == 404
    assert b"robojam" not in body


def test_a_taken_port_is_a_clear_error(web):
    server, bridge, _ = web
    with pytest.raises(RobojamError, match=f"{bridge.addresses[0][1]}.*--web"):
        WebApp(server, [Site("127.0.0.1", bridge.addresses[0][1])]).start()


def test_the_api_port_serves_the_api_and_status_but_not_the_page():
    with running_server() as (server, _, _):
        bridge = WebApp(server, [Site("127.0.0.1", 0), Site("127.0.0.1", 0, page=False)])
        server.open(bridge)
        page_port, api_port = (port for _, port in bridge.addresses)
        assert page_port != api_port and bridge.url(page=False).endswith(f":{api_port}/api/predict")
        for port, serves_the_page in [(page_port, True), (api_port, False)]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            for method, path, body in [("GET", "/", None), ("GET", "/app.js", None), ("GET", "/status", None),
                                       ("POST", "/api/predict", b"junk")]:
                connection.request(method, path, body)
                response = connection.getresponse()
                response.read()
                expected = {"/status": 200, "/api/predict": 400}.get(path, 200 if serves_the_page else 404)
                assert response.status == expected, (port, path)
            connection.close()
        with connect(f"ws://127.0.0.1:{page_port}/ws", open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["address"] == "/robojam/web/settings"
        with pytest.raises(InvalidStatus, match="404"):
            connect(f"ws://127.0.0.1:{api_port}/ws", open_timeout=5)
    assert not bridge._thread.is_alive()


# --- the WebSocket --------------------------------------------------------------

def test_a_call_over_the_socket_gets_a_response(web):
    server, bridge, log = web
    with socket_to(bridge) as ws:
        for i in range(20):
            send(ws, "/robojam/touch", 0.2 + 0.02 * i, 0.5, 0.5)
            time.sleep(1 / 60)
        send(ws, "/robojam/up")
        messages = receive_until(ws, "/robojam/response/end")
    addresses = [m["address"] for m in messages]
    assert addresses[0] == "/robojam/response/start"
    touches = [m["args"] for m in messages if m["address"] == "/robojam/response/touch"]
    assert touches and all(len(args) == 3 for args in touches)
    assert server.counts["touches"] == 20
    assert sum(len(p) for p in read_log(log.path)) == 20
    assert "web:1" in log.path.read_text()


def test_other_sites_pages_may_not_connect(web):
    _, bridge, _ = web
    port = bridge.addresses[0][1]
    with connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}", open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["address"] == "/robojam/web/settings"
    with pytest.raises(InvalidStatus, match="403"):
        connect(f"ws://127.0.0.1:{port}/ws", origin="http://evil.example", open_timeout=5)


def test_the_page_starts_from_the_servers_settings(web):
    _, bridge, _ = web
    with connect(f"ws://127.0.0.1:{bridge.addresses[0][1]}/ws", open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
    settings = dict(zip(hello["args"][::2], hello["args"][1::2]))
    limits = settings.pop("limits")
    knobs = {"density": 0.0, "energy": 0.0, "register": 0.0, "size": 0.0, "curl": 0.0, "contrast": 0.0}
    assert settings == {"mode": "call-and-response", "temp": 1.0, "sigma_temp": 1.0, "seconds": 1.0, "threshold": 0.3,
                        "drafts": 8, "plan": True, "model": "default", "models": ["default"], **knobs}  # the shipped
    assert hello["args"][0] == "limits"  # first, so the sliders keep to them before taking values
    assert limits == {name: [RANGES[name].low, RANGES[name].high] for name in ("temp", "sigma_temp", "seconds",
                                                                               "threshold", "drafts", *knobs)}
    assert limits["density"] == [-2.0, 2.0] and limits["contrast"] == [0.0, 1.0]


def test_bad_frames_harm_nothing(web):
    server, bridge, _ = web
    with socket_to(bridge) as ws:
        for frame in ["not json", "[1, 2]", '"text"', '{"args": [0.5, 0.5]}', '{"address": 5}',
                      '{"address": "/other/touch", "args": [0.5, 0.5]}',
                      '{"address": "/robojam/touch", "args": "0.5 0.5"}', b"\x00binary"]:
            ws.send(frame)
        send(ws, "/robojam/touch", "x", 0.5)            # the server checks the arguments
        send(ws, "/robojam/touch", 0.5, float("nan"))
        send(ws, "/robojam/temp", -1)
        send(ws, "/robojam/status")
        status = receive_until(ws, "/robojam/status")[-1]["args"]
    figures = dict(zip(status[::2], status[1::2]))
    assert figures["dropped.bad_args"] == 1 and figures["dropped.not_finite"] == 1
    assert figures["dropped.bad_value"] == 1
    assert bridge.counts["bad_frames"] == 8

    with socket_to(bridge) as ws:
        ws.send(json.dumps({"address": "/robojam/touch", "args": [0.5] * 2000}))   # over 4 KB: closed
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    wait_for(lambda: bridge.counts["bad_frames"] == 9, what="the oversize frame to be counted")

    with socket_to(bridge) as ws:  # still serving
        send(ws, "/robojam/status")
        assert receive_until(ws, "/robojam/status")
    assert server.counts["touches"] == 0


def test_frames_that_break_the_json_decoder_are_counted_bad_frames(web, capfd):
    """Frames under the size limit whose decoding raises (2,000 nested brackets: RecursionError) are
    counted drops; the connection stays open, and nothing reaches the console."""
    server, bridge, _ = web
    capfd.readouterr()
    with socket_to(bridge) as ws:
        for frame in ["[" * 2000, '{"address": "/robojam/touch", "args": ' + "[" * 1500 + "]" * 1500 + "}",
                      "1" * 4000, '{"address": "/robojam/touch", "args": [0.5, ' + "9" * 4000 + "]}"]:
            ws.send(frame)
        send(ws, "/robojam/status")
        assert receive_until(ws, "/robojam/status")[-1]["args"][:2] == ["model", "default"]  # still open
    assert bridge.counts["bad_frames"] == 3 and bridge.counts["connections"] == 1
    assert sum(server.drops.values()) == 1   # a number too big for a float: the server refuses it, counted
    assert capfd.readouterr() == ("", "")


HOLD_S = 0.3  # the server's thread kept busy this long while a touch waits for it


def test_each_touch_is_timed_from_its_own_arrival_whatever_its_transport():
    """feed_latency_us_p99 against a known delay: a touch that waits HOLD_S for a busy loop reads about
    HOLD_S, over OSC and over the WebSocket alike, however long ago another transport's touch came."""
    with running_server() as (server, sender, _):
        bridge = WebApp(server, [Site("127.0.0.1", 0)])
        server.open(bridge)

        def touch_while_the_loop_is_held(send_touch) -> float:
            fed, busy = len(server.feed_latency), threading.Event()
            server.inbox.run_soon(lambda: (busy.set(), time.sleep(HOLD_S)))
            busy.wait(5)
            send_touch()
            wait_for(lambda: len(server.feed_latency) > fed, what="the touch to be fed")
            return server.feed_latency[-1]

        over_osc = touch_while_the_loop_is_held(lambda: sender.send("/robojam/touch", 0.5, 0.5))
        time.sleep(1.0)   # the last datagram is old news by the time the page's touch comes
        with socket_to(bridge) as ws:
            over_web = touch_while_the_loop_is_held(lambda: send(ws, "/robojam/touch", 0.5, 0.5))
            send(ws, "/robojam/status")
            status = receive_until(ws, "/robojam/status")[-1]["args"]
    assert HOLD_S - 0.05 < over_osc < HOLD_S + 0.2 and HOLD_S - 0.05 < over_web < HOLD_S + 0.2
    p99 = dict(zip(status[::2], status[1::2]))["feed_latency_us_p99"] / 1e6
    assert HOLD_S - 0.05 < p99 < HOLD_S + 0.2


def test_closing_the_page_stops_its_response(web):
    server, bridge, _ = web
    with socket_to(bridge) as ws:
        for i in range(10):
            send(ws, "/robojam/touch", 0.3, 0.3 + 0.02 * i)
        send(ws, "/robojam/respond")
        receive_until(ws, "/robojam/response/touch")
    wait_for(lambda: not server.performers["web:1"].session.playing, what="the response to stop")


def test_sending_never_fails():
    bridge = WebApp(server=None, sites=[])
    bridge.send("1", "/robojam/response/start", [])   # not started
    bridge.sockets.clients["1"] = _Client(websocket=None, conn_id="1")
    for i in range(OUTBOX_SIZE + 10):
        bridge.sockets.enqueue("1", str(i))
    outbox = bridge.sockets.clients["1"].outbox
    kept = [outbox.get_nowait() for _ in range(outbox.qsize())]
    assert kept == [str(i) for i in range(10, OUTBOX_SIZE + 10)]   # a lagging client keeps the newest
    assert bridge.counts["dropped_sends"] == 10
    bridge.sockets.enqueue("gone", "{}")
    bridge.stop()
    bridge.stop()


def test_sends_to_closed_connections_and_after_stop_are_dropped(web):
    server, bridge, _ = web
    bridge.send("42", "/robojam/response/touch", [0.5, 0.5, 0.5])
    bridge.stop()
    bridge.stop()
    bridge.send("1", "/robojam/response/touch", [0.5, 0.5, 0.5])
    assert not bridge._thread.is_alive()


@pytest.mark.parametrize("frame", [b"x", "nope", "{}", '{"address": "/robojam/up", "args": {}}', "[" * 2000])
def test_parse_message_rejects(frame):
    assert parse_message(frame) is None


def test_parse_message_accepts():
    assert parse_message('{"address": "/robojam/up"}') == ("/robojam/up", [])
    assert parse_message('{"address": "/robojam/touch", "args": [0.1, 0.2]}') == ("/robojam/touch", [0.1, 0.2])


def test_the_page_url_names_a_reachable_host(web):
    _, bridge, _ = web
    assert bridge.url() == f"http://127.0.0.1:{bridge.addresses[0][1]}/"


# --- in a real browser ------------------------------------------------------------

COUNT_COLOURS = """() => {
    // Pixels clearly in the performer's (cyan) or robojam's (orange) colour, over the background.
    const canvas = document.getElementById("stage");
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let orange = 0, cyan = 0;
    for (let i = 0; i < data.length; i += 4) {
        const r = data[i] - 11, g = data[i + 1] - 14, b = data[i + 2] - 20;
        if (r > 70 && g > 0.3 * r && g < 0.7 * r && b < 0.35 * r) orange++;
        if (b > 70 && g > 0.6 * b && r < 0.3 * b) cyan++;
    }
    return {orange, cyan};
}"""


def launch_chromium(playwright):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser test needs Debian's chromium; "
                    "run scripts/install-debian-packages --tests")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def play_stroke(page, points: int = 20) -> None:
    """A finger (the mouse) drawn across the canvas at about 60 Hz."""
    size = page.viewport_size
    page.mouse.move(size["width"] * 0.2, size["height"] * 0.3)
    page.mouse.down()
    for i in range(points):
        page.mouse.move(size["width"] * (0.2 + 0.6 * i / points), size["height"] * (0.3 + 0.3 * i / points))
        page.wait_for_timeout(16)
    page.mouse.up()


def set_slider(page, name: str, value: float) -> None:
    page.click("#controls-toggle")
    page.eval_on_selector(f"#{name}", """(input, value) => {
        input.value = value;
        input.dispatchEvent(new Event("input"));  // as a finger dragging it, then letting go
        input.dispatchEvent(new Event("change"));
    }""", value)
    page.click("#controls-toggle")


def play_two_fingers(page) -> None:
    """Two fingers on the touchscreen at once, through Chrome's input pipeline."""
    cdp = page.context.new_cdp_session(page)
    for step in range(6):
        fingers = [{"x": 80 + 20 * step, "y": 300, "id": 1}, {"x": 250, "y": 500 + 20 * step, "id": 2}]
        kind = "touchStart" if step == 0 else "touchMove"
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": fingers})
        page.wait_for_timeout(20)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def drop_connections(bridge: WebApp) -> None:
    """Close every browser connection from the bridge's side, as a network drop would."""
    for client in list(bridge.sockets.clients.values()):
        asyncio.run_coroutine_threadsafe(client.websocket.close(), bridge._loop).result(5)


def test_the_page_plays_in_a_real_browser(web, tmp_path):
    from playwright.sync_api import sync_playwright

    server, bridge, log = web
    errors = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.goto(bridge.url())
            page.wait_for_function("document.body.dataset.connection === 'connected'", timeout=10000)
            for name in ("temp", "sigma_temp", "seconds", "threshold", "drafts", "density", "contrast"):  # its ranges
                low, high = page.eval_on_selector(f"#{name}", "i => [Number(i.min), Number(i.max)]")
                assert RANGES[name].low <= low <= high <= RANGES[name].high, name

            play_stroke(page)
            sent = page.evaluate("window.robojam.touchesSent")
            assert sent >= 15
            wait_for(lambda: server.counts["touches"] == sent, what="the server to hear every touch")
            assert sum(len(p) for p in read_log(log.path)) == sent

            page.wait_for_function("window.robojam.responsesDrawn >= 5", timeout=10000)
            colours = page.evaluate(COUNT_COLOURS)
            assert colours["orange"] > 50, f"robojam's response is not drawn: {colours}"
            assert colours["cyan"] > 50, f"the performer's stroke is not drawn: {colours}"
            page.screenshot(path=str(tmp_path / "robojam-web.png"))
            shutil.copyfile(tmp_path / "robojam-web.png", SCREENSHOT)

            page.wait_for_function("window.robojam.playing === false", timeout=10000)
            assert page.evaluate("window.robojam.responses") >= 1

            set_slider(page, "seconds", 2.5)
            wait_for(lambda: server.performers["web:1"].session.settings.seconds == 2.5, what="the control")
            set_slider(page, "drafts", 3)
            wait_for(lambda: server.performers["web:1"].session.settings.drafts == 3, what="the drafts")
            assert page.eval_on_selector("output[for=drafts]", "o => o.textContent") == "3"
            set_slider(page, "curl", -1.5)  # a knob: /robojam/steer curl -1.5
            wait_for(lambda: server.performers["web:1"].session.settings.curl == -1.5, what="the knob")
            drop_connections(bridge)
            page.wait_for_function("document.body.dataset.connection === 'disconnected'", timeout=5000)
            page.wait_for_function("document.body.dataset.connection === 'connected'", timeout=5000)
            wait_for(lambda: "web:2" in server.performers
                     and server.performers["web:2"].session.settings.seconds == 2.5
                     and server.performers["web:2"].session.settings.drafts == 3
                     and server.performers["web:2"].session.settings.curl == -1.5,
                     what="the page to reconnect and re-apply its controls")

            play_two_fingers(page)
            assert page.evaluate("window.robojam.strokes") == 3
            sent = page.evaluate("window.robojam.touchesSent")
            wait_for(lambda: server.counts["touches"] == sent, what="the server to hear both fingers")

            before = server.model
            page.click("#controls-toggle")
            assert page.eval_on_selector("#model", "s => [...s.options].map(o => o.value)") == ["default"]
            page.select_option("#model", "default")
            wait_for(lambda: server.model is not before, what="the model chosen on the page to load")
        finally:
            browser.close()
    assert not errors, errors
    assert bridge.counts["bad_frames"] == 0 and not server.drops


GHOST_SCREENSHOT = Path("/tmp/robojam-ghost.png")


def test_the_page_draws_the_plan_ahead_as_a_ghost(web, tmp_path):
    from playwright.sync_api import sync_playwright

    server, bridge, _ = web
    errors = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.goto(bridge.url())
            page.wait_for_function("document.body.dataset.connection === 'connected'", timeout=10000)
            set_slider(page, "seconds", 4)
            wait_for(lambda: server.performers["web:1"].session.settings.seconds == 4, what="the control")
            play_stroke(page)
            page.wait_for_function("window.robojam.responseTouches >= 3 && window.robojam.ghost.length >= 5",
                                   timeout=10000)
            page.screenshot(path=str(tmp_path / "ghost.png"))
            shutil.copyfile(tmp_path / "ghost.png", GHOST_SCREENSHOT)
            page.wait_for_function("window.robojam.playing === false", timeout=10000)
            drawn = page.evaluate("window.robojam.ghostDrawn")
            touches = page.evaluate("window.robojam.robojamTouches")
            assert len(touches) >= 10
            ghosts = {(x, y): when for x, y, when in drawn}
            for x, y, when in touches[1:]:  # the first touch plays as the response starts, unplanned
                assert (x, y) in ghosts, "a touch played that the page had not drawn ahead"
                assert ghosts[(x, y)] < when  # drawn before it played
            assert page.evaluate("window.robojam.ghost") == []  # all played
            # a barge-in clears the ghost (an empty plan)
            play_stroke(page)
            page.wait_for_function("window.robojam.responseTouches >= 13 && window.robojam.ghost.length >= 5",
                                   timeout=10000)
            plans = page.evaluate("window.robojam.plans")
            play_stroke(page, points=3)
            page.wait_for_function(f"window.robojam.plans > {plans} && window.robojam.ghost.length === 0",
                                   timeout=5000)
        finally:
            browser.close()
    assert not errors, errors


def test_the_start_up_line_says_how_to_open_the_page_to_the_network():
    from robojam.cli import SERVE_DEFAULTS
    from robojam.live.assemble import build_server, describe

    for host, hint in [("127.0.0.1", "add --web-host 0.0.0.0"), ("0.0.0.0", "on the same network")]:
        settings = dict(SERVE_DEFAULTS, host="127.0.0.1", port=0, no_log=True, web=0, web_host=host)
        server = build_server(settings)
        try:
            line = next(line for line in describe(server, settings) if line.startswith("web page:"))
        finally:
            server.close()
        assert hint in line, line


def test_serve_without_web_or_api_never_imports_aiohttp(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from robojam.cli import SERVE_DEFAULTS; from robojam.live.assemble import build_server; "
            "build_server(dict(SERVE_DEFAULTS, port=0, no_log=True)).close(); print('aiohttp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.stdout.strip() == "False", out.stderr   # its import costs a quarter second of start-up
