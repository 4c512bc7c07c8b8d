"""Every setting of ``robojam serve``, declared once: its default, its range or choices, its help.

From :data:`SERVE` come the command line's options (:mod:`robojam.cli`), the defaults that presets
and config files are merged onto, the checks of their values (:mod:`robojam.live.assemble`), the
ranges of the OSC controls (:class:`robojam.live.session.Settings`, :mod:`robojam.live.protocol`)
and the browser page's sliders (sent :data:`RANGES` of the :data:`LIVE` knobs when it connects).

A plain frozen dataclass rather than pydantic-settings: the command line imports this before
anything else, so it stays standard library only, and the checks it needs are ranges and choices,
which :class:`robojam.live.limits.Limit` already words the way robojam's errors read.
"""

from __future__ import annotations

from dataclasses import dataclass

from robojam.core.steering import KNOBS as PLAYER_KNOBS
from robojam.live.limits import Limit

PORT = Limit(0, 65535, integer=True)
MODES = ("call-and-response", "duet")
SCALES = ("chromatic", "major", "minor", "pentatonic", "minor-pentatonic", "blues", "whole-tone")
MIDI_APIS = ("alsa", "jack", "coremidi", "winmm")
MODEL_HELP = ("Model folder (holding model.json and weights.npz), or default: the shipped model "
              "[default: default].")


@dataclass(frozen=True)
class Knob:
    """One setting: ``kind`` is number, text, model, path, dir, file, list, flag or table (config files only)."""

    name: str
    default: object
    help: str
    kind: str = "number"
    range: Limit | None = None
    choices: tuple[str, ...] | None = None
    live: bool = False  # a performer changes it while playing (OSC, the page's sliders)
    metavar: str | None = None
    flag_value: str | None = None  # an option that may be given without its value
    advanced: bool = False  # a model builder's control, left out of serve --help (robojam tune --help)

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def _knobs(*knobs: Knob) -> dict[str, Knob]:
    return {knob.name: knob for knob in knobs}


SERVE: dict[str, Knob] = _knobs(
    Knob("model", None, MODEL_HELP + " SIGHUP reads it again.", "model"),
    Knob("models_dir", "models", "Folder of models a performer may switch to by name (/robojam/model NAME).", "dir"),
    Knob("host", "127.0.0.1", "Address to listen on; 0.0.0.0 opens robojam to the local network.", "text"),
    Knob("port", 5000, "UDP port to listen on for OSC.", range=PORT),
    Knob("reply_port", 5001, "Responses go to the sender's host on this port.", range=Limit(1, 65535, integer=True)),
    Knob("send", [], "Send responses to HOST:PORT instead (repeatable).", "list"),
    Knob("mode", "call-and-response", "call-and-response or duet.", "text", choices=MODES),
    Knob("temp", 1.0, "Mixture-weight temperature.", range=Limit(0.01, 100), live=True, advanced=True),
    Knob("sigma_temp", 1.0, "Variance scale.", range=Limit(0.01, 100), live=True, advanced=True),
    Knob("seconds", 5.0, "Length of a response in seconds.", range=Limit(0.1, 600), live=True),
    Knob("threshold", 1.5, "Seconds of silence before responding.", range=Limit(0.05, 60), live=True),
    Knob("drafts", 8, "Candidates drawn for each phrase of the answer in the silence before responding; each "
         "phrase, the one the model's selector finds most human plays (1: one answer, drawn as it plays; "
         "docs/model.md, Drafts).", range=Limit(1, 64, integer=True),
         live=True),
    *(Knob(knob.name, 0.0, f"Knob: {knob.help} (0: unsteered; docs/steering.md).", range=Limit(knob.low, knob.high),
           live=True) for knob in PLAYER_KNOBS.values()),
    Knob("log_dir", "robojam-logs", "Folder for the touch logs (CSV, one file a run).", "path"),
    Knob("no_log", False, "Do not log touches.", "flag"),
    Knob("no_plan", False, "Do not send /robojam/plan (the touches robojam is about to play, for a display "
         "to draw ahead); robojam then draws a response only a moment ahead of playing it.", "flag"),
    Knob("web", None, "Also serve the browser touch instrument (HTTP and WebSocket) on this port; "
         "the HTTP API and /status come with it.", range=PORT),
    Knob("web_host", None, "Address for the web page; default: the same as --host.", "text"),
    Knob("api", None, "Also serve RoboJam's HTTP API (POST /api/predict, as MicroJam and RoboJam's scripts call "
         "it) on this TCP port; 0 picks a free one.", range=PORT, metavar="PORT"),
    Knob("api_host", None, "Address for the HTTP API; default: the same as --host.", "text"),
    Knob("tls_cert", None, "Serve the HTTP API over HTTPS with this certificate (PEM; with --tls-key).", "file",
         metavar="FILE"),
    Knob("tls_key", None, "The HTTPS certificate's private key (PEM).", "file", metavar="FILE"),
    Knob("api_max_predictions", 4, "Most HTTP API predictions at once; others wait up to 5 s, then get 503.",
         range=Limit(1, 64, integer=True)),
    Knob("midi_out", None, "MIDI output port (part of its name) for robojam's part.", "text"),
    Knob("midi_in", None, "MIDI input port (part of its name): a keyboard as the performer.", "text"),
    Knob("midi_channel", 1, "MIDI channel of robojam's part.", range=Limit(1, 16, integer=True)),
    Knob("midi_echo_channel", None, "Also play the performer's touches on this channel.",
         range=Limit(1, 16, integer=True)),
    Knob("midi_virtual", None, "Open robojam's own MIDI ports, called NAME (default: robojam), for a DAW or synth "
         "to connect to: robojam's part goes out of one, notes played into the other are a performer. Linux "
         "(ALSA, JACK) and macOS; on Windows use loopMIDI with --midi-out/--midi-in.", "text",
         metavar="[NAME]", flag_value="robojam"),
    Knob("midi_api", None, "rtmidi's MIDI API for every port; default: the system's (ALSA, CoreMIDI, Windows MM), "
         "or MIDO_BACKEND's. jack: JACK MIDI ports (needs a running JACK server).", "text", choices=MIDI_APIS),
    Knob("scale", "pentatonic", "Scale the x axis plays.", "text", choices=SCALES),
    Knob("root", 48, "Lowest MIDI note (x = 0).", range=Limit(0, 127, integer=True)),
    Knob("octaves", 3, "Octaves across the screen.", range=Limit(1, 10, integer=True)),
    Knob("cc", 74, "MIDI controller that y drives.", range=Limit(0, 119, integer=True)),
    Knob("midi_knobs", None, "A [midi_knobs] table: the MIDI controller number that turns each knob, from "
         "--midi-in or robojam's own input, for every performer (robojam.live.midi_knobs); default density 21, "
         "energy 22, register 23, size 24, curl 25, contrast 26.", "table"),
    Knob("max_sessions", 16, "Most performers at once.", range=Limit(1, 1024, integer=True)),
    Knob("session_timeout", 600.0, "Seconds before an idle performer's session expires.", range=Limit(1, 86400)),
    Knob("model_change_gap", 1.0, "Seconds a host must wait between model changes (/robojam/model); asked "
         "sooner, a change is refused and counted as rate_limited.", range=Limit(0, 3600)),
    Knob("status_every", 10.0, "Seconds between status lines (0: none).", range=Limit(0, 3600)),
    Knob("seed", None, "Random seed for reproducible responses.", range=Limit(0, 2**32 - 1, integer=True)),
    Knob("adapter", None, "An [adapter] table translating another app's OSC (robojam.live.adapters).", "table"),
)

DEFAULTS: dict[str, object] = {name: knob.default for name, knob in SERVE.items()}
RANGES: dict[str, Limit] = {name: knob.range for name, knob in SERVE.items() if knob.range is not None}
LIVE: tuple[str, ...] = tuple(name for name, knob in SERVE.items() if knob.live)
