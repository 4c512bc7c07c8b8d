"""Putting ``robojam serve`` together: model, sessions, sockets, logs and MIDI."""

from __future__ import annotations

import ssl
import sys
import time
from pathlib import Path

from robojam import RobojamError
from robojam.core.modelfile import load_model
from robojam.live.knobs import LIVE, RANGES, SERVE
from robojam.core.shown import shown
from robojam.live.server import Server, ServerOptions
from robojam.live.session import Settings
from robojam.live.transport import parse_destination
from robojam.live.console import RateLimitedWarnings, route_library_logs


def _number(settings: dict, name: str, kind=float):
    """A numeric setting, checked against its range (robojam.live.knobs: every number has one)."""
    value = settings[name]
    return None if value is None else kind(RANGES[name].check(name.replace("_", "-"), value))


def _path(settings: dict, name: str) -> Path | None:
    """A file or folder setting (None when not set)."""
    value = settings[name]
    if value is None:
        return None
    if not isinstance(value, (str, Path)) or not str(value) or "\0" in str(value):
        raise RobojamError(f"{name.replace('_', '-')} must be a file or folder name, not {shown(value)}")
    return Path(value)


def _model(settings: dict) -> Path | None:
    """The model folder; ``default`` names the shipped one (None), as over the network."""
    path = _path(settings, "model")
    return None if path is not None and str(path) == "default" and not path.is_dir() else path


def session_settings(settings: dict) -> Settings:
    """Every performer's starting controls (robojam.live.knobs.LIVE), the player's knobs among them."""
    return Settings(mode=str(settings["mode"]), plan=not settings["no_plan"],
                    **{name: _number(settings, name) for name in LIVE})


def server_options(settings: dict) -> ServerOptions:
    sends = settings["send"]
    if isinstance(sends, str):
        sends = [sends]
    if not isinstance(sends, (list, tuple)) or not all(isinstance(s, str) for s in sends):
        raise RobojamError(f"send must be HOST:PORT or a list of them, not {shown(sends)}")
    return ServerOptions(
        host=str(settings["host"]), port=_number(settings, "port", int),
        reply_port=_number(settings, "reply_port", int), send=[parse_destination(s) for s in sends],
        max_sessions=_number(settings, "max_sessions", int), session_timeout=_number(settings, "session_timeout"),
        status_every=_number(settings, "status_every"), seed=_number(settings, "seed", int),
        model_path=_model(settings), models_dir=_path(settings, "models_dir") or Path("models"),
        model_change_gap_s=_number(settings, "model_change_gap"),
    )


def open_midi(settings: dict):
    """The MIDI output parts, or None without --midi-out or --midi-virtual."""
    virtual, api = midi_virtual(settings), midi_api(settings)
    if not settings["midi_out"] and not virtual:
        return None
    from robojam.live.midi_bridge import MidiParts

    echo = settings["midi_echo_channel"]
    return MidiParts.open(str(settings["midi_out"]) if settings["midi_out"] else None, midi_mapping(settings),
                          _number(settings, "midi_channel", int) - 1,
                          None if echo is None else _number(settings, "midi_echo_channel", int) - 1,
                          virtual=virtual, api=api)


def midi_virtual(settings: dict) -> str | None:
    """The name of robojam's own MIDI ports (--midi-virtual), or None; ``true`` in a config file is the default name."""
    value = settings["midi_virtual"]
    if value is None or value is False:
        return None
    if value is True:
        from robojam.live.midi_touch import VIRTUAL_PORT_NAME
        return VIRTUAL_PORT_NAME
    if not isinstance(value, str) or not value.strip():
        raise RobojamError(f"midi-virtual must be a port name (or true for 'robojam'), not {value!r}")
    return value.strip()


def midi_api(settings: dict) -> str | None:
    """rtmidi's API for every MIDI port (--midi-api), or None for mido's choice (MIDO_BACKEND)."""
    value = settings["midi_api"]
    if value is None:
        return None
    from robojam.live.midi_touch import MIDI_APIS
    if value not in MIDI_APIS:
        raise RobojamError(f"midi-api must be one of {', '.join(MIDI_APIS)}, not {value!r}")
    return value


def midi_mapping(settings: dict):
    from robojam.live.midi_touch import MidiMapping

    return MidiMapping(scale=str(settings["scale"]), root=_number(settings, "root", int),
                       octaves=_number(settings, "octaves", int), cc=_number(settings, "cc", int))


def check_choices(settings: dict) -> None:
    """Each setting with choices (robojam.live.knobs) holds one of them, or nothing."""
    for name, knob in SERVE.items():
        value = settings.get(name)
        if knob.choices and value is not None and value not in knob.choices:
            raise RobojamError(f"{knob.option[2:]} must be one of {', '.join(knob.choices)}, not {shown(value)}")


def build_server(settings: dict) -> Server:
    """A ready server (socket bound, logs open) from merged settings; raises RobojamError."""
    check_choices(settings)
    model = load_model(_model(settings))
    session = session_settings(settings)
    options = server_options(settings)
    adapter = None
    if settings["adapter"] is not None:
        from robojam.live.adapters import Adapter
        adapter = Adapter.from_config(settings["adapter"], source="preset/config")
    midi = open_midi(settings)
    log = None
    if not settings["no_log"]:
        from robojam.live.logwriter import TouchLog
        log = TouchLog(_path(settings, "log_dir"))
    try:
        server = Server(model, session, options, log=log, midi=midi, adapter=adapter)
    except RobojamError:
        if log is not None:
            log.close()
        if midi is not None:
            midi.close()
        raise
    try:
        if settings["midi_in"] or midi_virtual(settings):
            from robojam.live.midi_bridge import listen_to_keyboard
            from robojam.live.midi_knobs import KnobControllers
            mapping = midi_mapping(settings)
            server.open(listen_to_keyboard(str(settings["midi_in"]) if settings["midi_in"] else None,
                                           mapping, server.post, virtual=midi_virtual(settings),
                                           api=midi_api(settings),
                                           knobs=KnobControllers.from_config(settings["midi_knobs"], mapping.cc),
                                           steer=server.post_steer))
        sites = web_sites(settings)
        if sites:
            from robojam.live.webapp import WebApp
            server.open(WebApp(server, sites, max_predictions=_number(settings, "api_max_predictions", int)))
    except RobojamError:
        server.close()
        raise
    return server


def web_sites(settings: dict) -> list:
    """Where the web app listens: the page's port (--web) and the API's (--api), one site if they are one."""
    if settings["api"] is None and (settings["tls_cert"] is not None or settings["tls_key"] is not None):
        raise RobojamError("--tls-cert and --tls-key are for the HTTP API: give it a port with --api PORT")
    if settings["web"] is None and settings["api"] is None:
        return []  # and aiohttp is never imported: serve starts as fast as before it
    from robojam.live.webapp import Site

    sites = []
    if settings["web"] is not None:
        sites.append(Site(_host(settings, "web_host"), _number(settings, "web", int)))
    if settings["api"] is not None:
        api = Site(_host(settings, "api_host"), _number(settings, "api", int), page=False,
                   tls=tls_context(_path(settings, "tls_cert"), _path(settings, "tls_key")))
        same = sites and (sites[0].host, sites[0].port) == (api.host, api.port) and api.port != 0
        sites = [Site(api.host, api.port, tls=api.tls)] if same else sites + [api]
    return sites


def _host(settings: dict, name: str) -> str:
    host = settings[name] or settings["host"]
    if not isinstance(host, str):
        raise RobojamError(f"{name.replace('_', '-')} must be an address, not {shown(host)}")
    return host


def tls_context(cert: Path | None, key: Path | None):
    """HTTPS's context from a PEM certificate and key, or None without either."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise RobojamError("HTTPS needs both --tls-cert and --tls-key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert.expanduser()), str(key.expanduser()))
    except FileNotFoundError as e:
        raise RobojamError(f"{e.filename or cert}: no such file (--tls-cert, --tls-key)") from None
    except (OSError, ssl.SSLError) as e:
        raise RobojamError(f"cannot use {cert} and {key} for HTTPS ({getattr(e, 'reason', None) or e}); "
                           "they must be a PEM certificate and its private key") from None
    return context


def describe(server: Server, settings: dict) -> list[str]:
    host, port = server.address
    options = server.options
    lines = [f"robojam {server.model.describe()}",
             f"listening for OSC on udp://{host}:{port}"]
    if host == "0.0.0.0":
        lines.append("  open to the local network: anyone on it can play and read responses")
    if options.send:
        lines.append("sending responses to " + ", ".join(f"{h}:{p}" for h, p in options.send))
    else:
        lines.append(f"sending responses to each performer's host on port {options.reply_port}")
    if settings["web"] is not None:
        lines += web_lines(server.web.url(), _host(settings, "web_host"))
    if settings["api"] is not None:
        lines.append(f"HTTP API: POST performances to {server.web.url(page=False)}  "
                     "(RoboJam's API, as MicroJam calls it)")
    if settings["midi_out"]:
        lines.append(f"MIDI out: {settings['midi_out']}")
    if settings["midi_in"]:
        lines.append(f"MIDI in: {settings['midi_in']}")
    lines += describe_midi_ports(settings)
    if server.adapter is not None:
        lines.append(f"translating another app's OSC: {server.adapter.describe()}")
    lines.append(f"logging touches to {server.log.path}" if server.log else "not logging touches")
    s = server.settings
    lines.append(f"mode {s.mode}, threshold {s.threshold} s, responses of {s.seconds} s, "
                 f"temp {s.temp}, sigma-temp {s.sigma_temp}; Ctrl-C to stop")
    return lines


def web_lines(url: str, host: str) -> list[str]:
    """Where the page is, and on loopback how to open it to phones, which cannot reach this machine's 127.0.0.1."""
    if host in ("localhost", "::1") or host.startswith("127."):
        return [f"web page: {url}  (this machine only: add --web-host 0.0.0.0 to open it to phones and laptops "
                "on the same network)"]
    return [f"web page: {url}  (open it on a phone or laptop on the same network)"]


def describe_midi_ports(settings: dict) -> list[str]:
    """What --midi-virtual and --midi-api opened, with the names other software sees."""
    virtual, api = midi_virtual(settings), midi_api(settings)
    lines = [f"MIDI API: {api}"] if api else []
    if virtual:
        from robojam.live.midi_touch import MIDI_APIS, api_in_use
        lines.append(f"MIDI ports of its own, both called {virtual!r}: robojam's part goes out of one, "
                     "notes played into the other are a performer")
        if api_in_use(api) == MIDI_APIS["jack"]:
            lines.append(f"  on JACK: {virtual}:{virtual} (out) and {virtual}-in:{virtual} (in)")
    return lines


def start_server(settings: dict, echo=print) -> None:
    started = time.monotonic()
    route_library_logs(RateLimitedWarnings())  # no library may print once per packet
    server = build_server(settings)
    server.install_signal_handlers()
    for line in describe(server, settings):
        echo(line)
    echo(f"ready in {time.monotonic() - started:.2f} s")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        echo("stopped: " + server.status_line())
        if settings["api"] is not None:
            echo(server.web.summary())
