"""The performance CSV that RoboJam's HTTP API exchanges with MicroJam: the call as it is posted (in
JSON or a form), the response as MicroJam reads it back (served by :mod:`robojam.live.api`)."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.dynamics import moving_loudness
from robojam.core.performance import Performance, parse_csv, to_csv_text, unfold_rows

MAX_ROWS = 1000          # rows in a response, at most
MICROJAM_Z = 38.0        # points: the touch radius RoboJam sent for every touch
DYNAMICS_AT_38 = moving_loudness(1.0)  # the z of a touch moving a screen's width a second: 38 points
SHORTEST_DT = 1e-6       # seconds: closer touches are simultaneous (no subnormal gaps reach the maths)


def perf_from_body(body: bytes) -> str:
    """The CSV a request carries: JSON ``{"perf": CSV}``, or a form field ``perf`` holding a JSON string."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = {"perf": _form_field(body)}
    perf = data.get("perf") if isinstance(data, dict) else None
    if not isinstance(perf, str):
        raise RobojamError('the body must be JSON {"perf": "<CSV>"}, or a form whose perf field holds a JSON string')
    return perf


def _form_field(body: bytes) -> object:
    """A form's perf field, JSON-decoded if it is JSON (else the CSV itself); None without one."""
    try:
        perf = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=64)["perf"][0]
    except (ValueError, KeyError):  # not UTF-8 (UnicodeDecodeError is one), not a form, or no perf field
        return None
    try:
        return json.loads(perf)
    except (ValueError, RecursionError):
        return perf  # not JSON-encoded after all: the CSV itself


def parse_call(text: str) -> np.ndarray:
    """A posted CSV as cleaned ``x, y, dt`` rows; RobojamError, naming the line, if it cannot be read."""
    xy_dt = clean(parse_csv(unfold_rows(text, "perf"), "perf", ordered=False).xy_dt())
    xy_dt[xy_dt[:, 2] < SHORTEST_DT, 2] = 0.0
    return xy_dt


def response_csv(xy_dt: np.ndarray, energy: float = 0.0) -> str:
    """A response's ``x, y, dt`` rows as MicroJam reads them, z (robojam's dynamics at the ``energy``
    knob) in its points; strokes follow the times as written, so a client subtracting them finds
    moving 0 wherever dt > 0.1."""
    xy_dt = np.asarray(xy_dt, dtype=np.float64).reshape(-1, 3)[:MAX_ROWS]
    written = np.array([float(f"{t:.6f}") for t in np.cumsum(xy_dt[:, 2]) - xy_dt[:1, 2]])
    as_written = np.column_stack([xy_dt[:, :2], np.diff(written, prepend=written[:1])])
    performance = Performance.from_xy_dt(as_written, z=None, energy=energy)
    performance.events[:, 3] = MICROJAM_Z * performance.events[:, 3] / DYNAMICS_AT_38
    return to_csv_text(performance)


def call_rng(seed: int | None, call: np.ndarray) -> np.random.Generator:
    """Fresh randomness for one call; with a seed, the same for the same call whatever the order."""
    if seed is None:
        return np.random.default_rng()
    digest = hashlib.sha256(np.ascontiguousarray(call, dtype=np.float64).tobytes()).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest, "big")])
