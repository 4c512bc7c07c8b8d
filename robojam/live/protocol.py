"""robojam's OSC protocol: one small handler per address, documented by its docstring.

``server/PROTOCOL.md`` is generated from this module (``robojam protocol``),
and a test keeps the two identical, so the reference cannot drift from the code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from collections.abc import Callable

from robojam import RobojamError
from robojam.core.steering import KNOBS, check_steer
from robojam.live.knobs import DEFAULTS, RANGES
from robojam.live.limits import MAX_SESSION_ID
from robojam.live.osc import MAX_BUNDLE_DEPTH, TYPE_TAGS
from robojam.live.session import DUET_AHEAD_S, LOOKAHEAD_S, PLAN_CHUNK

POSITION_SLACK = 0.5  # x, y this far outside [0, 1] are clipped; further out, dropped


class BadMessage(Exception):
    """A message robojam will not act on; ``reason`` is the drop counter it goes to."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass
class Arg:
    name: str
    kind: str  # "f": a number (OSC i, f, d or h), "s": a string
    meaning: str
    optional: bool = False


@dataclass
class Address:
    path: str
    args: list[Arg]
    handler: Callable
    doc: str = field(default="")

    def signature(self) -> str:
        parts = [f"[{a.name}]" if a.optional else a.name for a in self.args]
        return " ".join([self.path, *parts])

    def parse(self, values: list) -> tuple[list, str | None]:
        """Checked arguments, and the session id if a string follows them."""
        values = list(values)
        session = None
        if len(values) > len(self.args) or (values and self._is_session(values)):
            session = values.pop()
            if not isinstance(session, str):
                raise BadMessage("bad_args", f"{self.path}: too many arguments")
            if len(session) > MAX_SESSION_ID:
                raise BadMessage("bad_args", f"{self.path}: a session id over {MAX_SESSION_ID} characters")
        required = sum(not a.optional for a in self.args)
        if not required <= len(values) <= len(self.args):
            raise BadMessage("bad_args", f"{self.path}: expected {self.signature()}, got {len(values)} arguments")
        return [_checked(arg, v, self.path) for arg, v in zip(self.args, values)], session

    def _is_session(self, values: list) -> bool:
        """A trailing string where no string argument is due names the session (``parse`` has
        already taken one past the last argument as a session id)."""
        return isinstance(values[-1], str) and self.args[len(values) - 1].kind != "s"


def _checked(arg: Arg, value, path: str):
    if arg.kind == "s":
        if not isinstance(value, str):
            raise BadMessage("bad_args", f"{path}: {arg.name} must be a string")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadMessage("bad_args", f"{path}: {arg.name} must be a number, got {type(value).__name__}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too big for a float (the web page's JSON has no limit)
        raise BadMessage("out_of_range", f"{path}: {arg.name} is too big") from None
    if not finite:
        raise BadMessage("not_finite", f"{path}: {arg.name} is {value}")
    return float(value)


ADDRESSES: dict[str, Address] = {}


def address(path: str, *args: Arg):
    """Register a handler ``(server, key, values, timetag, now)`` for an OSC address."""
    def register(handler):
        doc = (handler.__doc__ or "").strip()  # pragma: no mutate (import-time)
        ADDRESSES[path] = Address(path, list(args), handler, doc)  # pragma: no mutate (import-time)
        return handler
    return register


def position(value: float, name: str) -> float:
    if not -POSITION_SLACK <= value <= 1 + POSITION_SLACK:
        raise BadMessage("out_of_range", f"{name} = {value} is far outside [0, 1]")
    return min(max(value, 0.0), 1.0)


# --- the performer -------------------------------------------------------------

@address("/robojam/touch", Arg("x", "f", "0 (left) to 1 (right)"), Arg("y", "f", "0 (top) to 1 (bottom)"),
         Arg("z", "f", "touch size or pressure, 0 to 1 (default 0.5)", optional=True))
def touch(server, key, values, timetag, now):
    """A finger at (x, y). Fed to the performer's model state on arrival. dt is measured
    from arrival on the server's monotonic clock, or from the OSC bundle time tag when the
    message comes in a bundle with one. x and y a little outside [0, 1] are clipped; more
    than 0.5 outside, the message is dropped. During a response (call-and-response mode)
    it stops the response at once."""
    x, y = position(values[0], "x"), position(values[1], "y")
    z = min(max(values[2], 0.0), 1.0) if len(values) > 2 else 0.5
    server.performer_touch(key, x, y, z, timetag, now)


@address("/robojam/up")
def up(server, key, values, timetag, now):
    """The finger lifted: the next touch starts a new stroke."""
    server.performer_up(key, now)


# --- controls --------------------------------------------------------------------

@address("/robojam/respond")
def respond(server, key, values, timetag, now):
    """Respond now, without waiting for the silence threshold (in duet mode: start playing)."""
    server.session(key, now).respond(now)


@address("/robojam/stop")
def stop(server, key, values, timetag, now):
    """Stop robojam's part at once (sends /robojam/response/up if needed and /robojam/response/end)."""
    server.session(key, now).stop(now)


@address("/robojam/reset")
def reset(server, key, values, timetag, now):
    """Stop, and forget everything heard from this performer."""
    server.session(key, now).reset(now)


def _setting(name: str, value, server, key, now):
    try:
        server.session(key, now).apply(name, value, now)
    except RobojamError as e:
        raise BadMessage("bad_value", str(e)) from None


@address("/robojam/mode", Arg("mode", "s", "call-and-response or duet"))
def mode(server, key, values, timetag, now):
    """Switch between call-and-response (default: listen, then answer after the silence
    threshold) and duet (play continuously alongside the performer). Stops what is playing."""
    _setting("mode", values[0], server, key, now)


def _live(name: str, what: str) -> str:
    """A live control's range and default, as robojam.live.knobs declares them."""
    return f"{what}{RANGES[name].text()} (default {DEFAULTS[name]})"


@address("/robojam/temp", Arg("temp", "f", _live("temp", "mixture-weight temperature, ")))
def temp(server, key, values, timetag, now):
    """Mixture-weight temperature: lower picks the likeliest gesture more often."""
    _setting("temp", values[0], server, key, now)


@address("/robojam/sigma_temp", Arg("sigma_temp", "f", _live("sigma_temp", "variance scale, ")))
def sigma_temp(server, key, values, timetag, now):
    """Scales each mixture component's variance: lower is tighter and smoother."""
    _setting("sigma_temp", values[0], server, key, now)


@address("/robojam/seconds", Arg("seconds", "f", _live("seconds", "")))
def seconds(server, key, values, timetag, now):
    """Length of a response in seconds."""
    _setting("seconds", values[0], server, key, now)


@address("/robojam/threshold", Arg("threshold", "f", _live("threshold", "")))
def threshold(server, key, values, timetag, now):
    """Seconds of silence from the performer before robojam responds."""
    _setting("threshold", values[0], server, key, now)


@address("/robojam/drafts", Arg("drafts", "f", _live("drafts", "candidates for each phrase of the answer, ")))
def drafts(server, key, values, timetag, now):
    """How many candidates robojam draws for each phrase (8 touches) of its answer, in the silence before
    it responds; each phrase it keeps the one its model's selector finds most human (docs/model.md,
    Drafts). 1 draws one answer as it plays. A model without a selector, or a knob turned, plays one
    answer whatever this says."""
    _setting("drafts", values[0], server, key, now)


@address("/robojam/steer", Arg("knob", "s", ", ".join(KNOBS)),
         Arg("value", "f", "; ".join(f"{k.name} {RANGES[k.name].text()}" for k in KNOBS.values())
             + "; 0: as robojam plays unsteered"))
def steer(server, key, values, timetag, now):
    """Turn one of this performer's knobs (docs/steering.md): density, energy, register, size and curl
    from -2 to 2, contrast from 0 to 1. It takes effect from the next touch robojam draws; a wrong
    name or value is refused (bad_value) and the knob keeps its value. /robojam/status reports them."""
    try:
        check_steer({values[0]: values[1]})  # a knob's name, not another setting's
    except RobojamError as e:
        raise BadMessage("bad_value", str(e)) from None
    _setting(values[0], values[1], server, key, now)


@address("/robojam/model", Arg("model", "s", "a model's name: a folder under --models-dir, or default"))
def model(server, key, values, timetag, now):
    """Change the model, for every performer, without a restart. From another machine only a
    name is accepted (letters, digits, '.', '_', '-'); a sender on this machine may also give a
    model folder's path. It loads in the background, and each performer's history is replayed
    through it there too, so the music keeps its timing: a response that is playing finishes on
    the old model, and every call after it is answered by the new one (which hears again what was
    played so far). /robojam/model/changed or /robojam/model/refused answers the sender; a
    missing, corrupt or mismatched model is refused (counted as bad_model) and the old one stays.
    A sending host may change the model once every --model-change-gap seconds (1); sooner, the
    change is refused and counted as rate_limited (browser connections count as one host). Asked
    for while another loads, a change waits; a later one replaces it (the earlier sender is told)."""
    server.change_model(key, values[0])


@address("/robojam/status")
def status(server, key, values, timetag, now):
    """Ask for the server's counters. The reply, /robojam/status, goes where responses
    go and holds name-value pairs: first model and the model's name (a string), then (string,
    int) pairs: sessions, received, touches, responses, drafted (responses that played
    a kept draft, drawn in the silence: /robojam/drafts),
    unlogged (touches the touch log could not write, a full disk say; only once there are any),
    then dropped and one dropped.REASON for each reason seen (malformed, unknown_type_tag,
    unknown_address, bad_args, not_finite, out_of_range, bad_value, rate_limited (touches over
    the touch rate, model changes sooner than --model-change-gap), too_many_sessions,
    bad_model, socket_overflow, socket_error, send_failed, internal_error, adapter), then, once
    measured, timing_error_us_p99 (how late response touches left, against their deadlines) and
    feed_latency_us_p99 (from a touch reaching the machine to its being in the model state), over
    the last 20,000 of each; last, (string, float) pairs: the asking performer's knobs, density,
    energy, register, size, curl and contrast (/robojam/steer)."""
    server.send_status(key, now)


OUTGOING = [
    ("/robojam/response/start", "A response (or a duet) begins."),
    ("/robojam/response/touch x y z", "One of robojam's touches, sent at its time: x, y in [0, 1] as in "
                                      "/robojam/touch, z robojam's dynamics, 0.25 to 0.85: a stroke's first "
                                      "touch accented by the rest before it, moving touches louder as they "
                                      "move faster."),
    ("/robojam/plan [seconds x y ...]",
     "What robojam is about to play, sent before it plays it, for a display to draw ahead: a flat list of "
     "triples, each one touch: seconds from when the message was sent (float), then x and y as "
     "/robojam/response/touch will send them. Each message adds its touches to the plan, after those of "
     "the plan messages before it; an empty one (no triples) clears the plan. In call-and-response, the "
     "whole response is planned as it starts: its first touch plays at once, unplanned, so that showing "
     "the plan never delays it; every touch after it is planned, in messages of at most "
     f"{PLAN_CHUNK} triples (under 600 bytes with a session id, one datagram, never IP fragments), "
     "sent as they are drawn, all within a few tens of milliseconds of the start (the touches due in the "
     f"first {LOOKAHEAD_S:g} s first). In duet mode, robojam's part is planned at least {DUET_AHEAD_S:g} s "
     "ahead and kept so as it plays; when the performer plays, robojam redraws what it will play next "
     "and sends an empty plan, then the new one. A barge-in, /robojam/stop, a change of mode or a reset "
     "sends an empty plan. The touches played are exactly those planned, each at its planned time "
     "(within the network's jitter). `robojam serve --no-plan` sends none."),
    ("/robojam/response/up", "robojam's finger lifts: the next response touch starts a new stroke. "
                             "Also sent before /robojam/response/end when a stroke is open."),
    ("/robojam/response/end", "The response is over: it ran its length, was stopped, or the performer "
                              "played over it."),
    ("/robojam/model/changed name", "The model asked for with /robojam/model now plays."),
    ("/robojam/model/refused reason", "The model asked for with /robojam/model was refused: why (a bad "
                                      "model, a change asked too soon after the host's last, or one "
                                      "replaced by a later change while it waited); the old one stays."),
    ("/robojam/status name value ...", "The reply to /robojam/status."),
]


def reference() -> str:
    """The protocol reference in Markdown (server/PROTOCOL.md)."""
    lines = [
        "# robojam's OSC protocol",
        "",
        "Generated from `robojam/live/protocol.py` by `robojam protocol`; a test keeps this file identical.",
        "",
        "robojam listens for OSC on UDP (`--host`, default 127.0.0.1; `--port`, default 5000). Messages may",
        "come alone or in bundles. Numbers may be OSC int, float or double. Responses go to the sender's",
        "host on `--reply-port` (default 5001), or to every `--send HOST:PORT` given.",
        "",
        "**Sessions.** Each performer has their own model state and settings. A performer is the sending",
        "host, since a phone may send from changing ports, unless a message ends with one extra string",
        "argument: a session id, for several performers on one host (`/robojam/touch 0.5 0.5 alice`;",
        f"at most {MAX_SESSION_ID} characters). Idle sessions expire and their number is capped",
        "(`--session-timeout`, `--max-sessions`).",
        "",
        "**Replies say whose they are.** Every message robojam sends for a session that has an id ends",
        "with that id as one extra string argument: `/robojam/response/touch 0.4 0.6 0.5 alice`, and so",
        "for `/robojam/response/start`, `.../up`, `.../end`, `/robojam/plan`, `/robojam/model/changed`, `.../refused`",
        "and `/robojam/status`. A performer that sends no id gets the messages exactly as listed below.",
        "An adapter's out-rules (presets for other apps) send the app's own messages, without the id.",
        "",
        "**Bad input** (malformed packets, unknown addresses, wrong argument types or counts, NaN or",
        "infinite numbers, far out-of-range positions, bad control values) is dropped and counted by",
        "reason; `/robojam/status` reports the counts. A message whose type tag string holds a tag",
        f"robojam does not read (any but `{' '.join(TYPE_TAGS)}`) is discarded whole, as OSC 1.0",
        f"asks, and counted as `unknown_type_tag`; bundles may nest {MAX_BUNDLE_DEPTH} deep. "
        "A control value outside its",
        "range (below) is refused, counted as `bad_value`, and the session keeps its old value; the",
        "command line, config files and the browser page take the same ranges.",
        "",
        "## In: the performer and controls",
        "",
    ]
    for entry in ADDRESSES.values():
        lines += [f"### `{entry.signature()}`", "", " ".join(entry.doc.split()), ""]
        lines += [f"- `{a.name}`{' (optional)' if a.optional else ''}: "
                  f"{'string' if a.kind == 's' else 'number'}, {a.meaning}" for a in entry.args]
        if entry.args:
            lines.append("")
    lines += ["## Out: robojam's part", ""]
    for signature, doc in OUTGOING:
        lines += [f"### `{signature}`", "", doc, ""]
    return "\n".join(lines).rstrip() + "\n"
