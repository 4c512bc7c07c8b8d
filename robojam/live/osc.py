"""OSC datagrams in and out: python-osc parses, a small cached encoder writes.

Only parsing and encoding lives here: what a message means is
:mod:`robojam.live.protocol`'s business. Encoding is on the path of every
response touch, and python-osc's message builder takes about 30 us a
message here, so messages are written directly (OSC 1.0: padded address and
type tags, big-endian 32-bit numbers, padded strings), with the address and
type-tag head cached; tests check the bytes against python-osc and liblo.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.parsing import osc_types


class OscError(Exception):
    """A datagram that is not valid OSC."""


@dataclass
class Message:
    address: str
    args: list
    timetag: float | None  # the enclosing bundle's time tag (Unix seconds), None when immediate


def parse_datagram(data: bytes) -> list[Message]:
    """The messages in a datagram, bundles flattened; raises OscError for anything malformed."""
    try:
        if OscBundle.dgram_is_bundle(data):
            return _flatten(OscBundle(data))
        if OscMessage.dgram_is_message(data):
            message = OscMessage(data)
            return [Message(message.address, list(message.params), None)]
    # python-osc raises several exception types on hostile input (and
    # RecursionError on deeply nested bundles): any of them means "malformed".
    except Exception as e:  # noqa: BLE001
        raise OscError(f"malformed OSC: {e}") from None
    raise OscError("not an OSC message or bundle")


def _flatten(bundle: OscBundle) -> list[Message]:
    timetag = None if bundle.timestamp == osc_types.IMMEDIATELY else float(bundle.timestamp)
    messages = []
    for content in bundle:
        if isinstance(content, OscBundle):
            messages.extend(_flatten(content))
        else:
            messages.append(Message(content.address, list(content.params), timetag))
    return messages


def encode(address: str, *args) -> bytes:
    """One OSC message; floats are sent as 32-bit 'f', ints as 32-bit 'i', strings as 's'."""
    tags = "".join(_tag(arg) for arg in args)
    parts = [_head(address, tags)]
    for tag, arg in zip(tags, args):
        if tag == "f":
            parts.append(struct.pack(">f", arg))
        elif tag == "i":
            parts.append(struct.pack(">i", arg))
        elif tag == "s":
            parts.append(_padded(arg.encode("utf-8")))
    return b"".join(parts)


def _tag(arg) -> str:
    if isinstance(arg, bool):
        return "T" if arg else "F"
    if isinstance(arg, int):
        return "i"
    if isinstance(arg, float):
        return "f"
    if isinstance(arg, str):
        return "s"
    raise TypeError(f"cannot send {type(arg).__name__} over OSC")


@lru_cache(maxsize=256)
def _head(address: str, tags: str) -> bytes:
    return _padded(address.encode("utf-8")) + _padded(("," + tags).encode("ascii"))


def _padded(text: bytes) -> bytes:
    """An OSC string: the bytes, a NUL, then NULs to a multiple of 4."""
    return text + b"\0" * (4 - len(text) % 4)
