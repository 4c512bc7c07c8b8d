"""Putting ``robojam serve`` together: model, sessions, sockets, logs and MIDI."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from robojam import RobojamError
from robojam.core.modelfile import load_model
from robojam.live.server import Server, ServerOptions
from robojam.live.session import Settings
from robojam.live.transport import parse_destination


def _number(settings: dict, name: str, kind=float):
    value = settings[name]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise RobojamError(f"{name.replace('_', '-')} must be {'an integer' if kind is int else 'a number'}, "
                           f"not {value!r}")
    return kind(value)


def session_settings(settings: dict) -> Settings:
    return Settings(mode=str(settings["mode"]), temp=_number(settings, "temp"),
                    sigma_temp=_number(settings, "sigma_temp"), seconds=_number(settings, "seconds"),
                    threshold=_number(settings, "threshold"))


def server_options(settings: dict) -> ServerOptions:
    sends = settings["send"]
    if isinstance(sends, str):
        sends = [sends]
    return ServerOptions(
        host=str(settings["host"]), port=_number(settings, "port", int),
        reply_port=_number(settings, "reply_port", int), send=[parse_destination(s) for s in sends],
        max_sessions=_number(settings, "max_sessions", int), session_timeout=_number(settings, "session_timeout"),
        status_every=_number(settings, "status_every"), seed=_number(settings, "seed", int),
        model_path=settings["model"], models_dir=Path(str(settings["models_dir"])),
    )


def open_midi(settings: dict):
    """The MIDI output parts, or None without --midi-out."""
    if not settings["midi_out"]:
        return None
    from robojam.live.midiparts import MidiParts

    echo = settings["midi_echo_channel"]
    return MidiParts.open(str(settings["midi_out"]), midi_mapping(settings),
                          _number(settings, "midi_channel", int) - 1,
                          None if echo is None else _number(settings, "midi_echo_channel", int) - 1)


def midi_mapping(settings: dict):
    from robojam.live.midi import MidiMapping

    return MidiMapping(scale=str(settings["scale"]), root=_number(settings, "root", int),
                       octaves=_number(settings, "octaves", int), cc=_number(settings, "cc", int))


def build_server(settings: dict) -> Server:
    """A ready server (socket bound, logs open) from merged settings; raises RobojamError."""
    model = load_model(settings["model"])
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
        log = TouchLog(settings["log_dir"])
    try:
        server = Server(model, session, options, log=log, midi=midi, adapter=adapter)
    except RobojamError:
        if log is not None:
            log.close()
        raise
    try:
        if settings["midi_in"]:
            from robojam.live.midiparts import listen_to_keyboard
            server.keyboard = listen_to_keyboard(str(settings["midi_in"]), midi_mapping(settings), server.post)
        if settings["web"] is not None:
            from robojam.live.web import start_web
            start_web(server, str(settings["web_host"] or settings["host"]), _number(settings, "web", int))
    except RobojamError:
        server.close()
        raise
    return server


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
    if server.web is not None:
        lines.append(f"web page: {server.web.url()}  (open it on a phone or laptop on the same network)")
    if server.midi is not None:
        lines.append(f"MIDI out: {settings['midi_out']}")
    if settings["midi_in"]:
        lines.append(f"MIDI in: {settings['midi_in']}")
    if server.adapter is not None:
        lines.append(f"translating another app's OSC: {server.adapter.describe()}")
    lines.append(f"logging touches to {server.log.path}" if server.log else "not logging touches")
    s = server.settings
    lines.append(f"mode {s.mode}, threshold {s.threshold} s, responses of {s.seconds} s, "
                 f"temp {s.temp}, sigma-temp {s.sigma_temp}; Ctrl-C to stop")
    return lines


def start_server(settings: dict, echo=print) -> None:
    started = time.monotonic()
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
