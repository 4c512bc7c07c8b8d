"""OSC datagrams in and out: robojam checks, python-osc parses, a small cached encoder writes.

Only parsing and encoding lives here: what a message means is
:mod:`robojam.live.protocol`'s business. Encoding is on the path of every
response touch, and python-osc's message builder takes about 30 us a
message here, so messages are written directly (OSC 1.0: padded address and
type tags, big-endian 32-bit numbers, padded strings), with the address and
type-tag head cached; tests check the bytes against python-osc and liblo.

Reading, the port may be open to a whole venue's network, so nothing
reaches python-osc unchecked. Bundles are walked here, each element's size
checked against what is left of its bundle, and nested at most
``MAX_BUNDLE_DEPTH`` deep. A message whose type tag string holds a tag
robojam does not read (``KNOWN_TYPE_TAGS``) is discarded, as OSC 1.0 asks,
and counted apart (``unknown_type_tag``); python-osc, which would log a
warning for each such tag and read on, never sees it. Then python-osc
parses the message's arguments.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from pythonosc.osc_message import OscMessage

BUNDLE_PREFIX = b"#bundle\0"
# Type tags python-osc reads: OSC 1.0's i f s b, and h t d r m T F N [ ] of its extensions.
TYPE_TAGS = "ifsbhtdrmTFN[]"
KNOWN_TYPE_TAGS = frozenset(TYPE_TAGS.encode("ascii"))
MAX_BUNDLE_DEPTH = 8    # a bundle in a bundle in ... this deep at most
MAX_ARRAY_DEPTH = 8     # [ ... ] arrays nested this deep at most
IMMEDIATELY = 1         # the time tag that means "now"
INT32 = 2**31
FLOAT32_MAX = 3.4028234663852886e38
NTP_TO_UNIX = 2_208_988_800  # seconds from 1900 (NTP's epoch, OSC time tags) to 1970


class OscError(Exception):
    """A datagram robojam does not read; ``reason`` is the drop counter it goes to."""

    def __init__(self, detail: str, reason: str = "malformed"):
        super().__init__(detail)
        self.reason = reason


@dataclass
class Message:
    address: str
    args: list
    timetag: float | None  # the enclosing bundle's time tag (Unix seconds), None when immediate


def parse_datagram(data: bytes) -> list[Message]:
    """The messages in a datagram, bundles flattened; raises OscError for anything malformed
    (reason ``malformed``) or holding an unknown type tag (reason ``unknown_type_tag``)."""
    messages: list[Message] = []
    _read_packet(bytes(data), None, 0, messages)
    return messages


def _read_packet(data: bytes, timetag: float | None, depth: int, into: list[Message]) -> None:
    if data.startswith(BUNDLE_PREFIX):
        _read_bundle(data, depth, into)
    elif data.startswith(b"/"):
        into.append(_read_message(data, timetag))
    else:
        raise OscError("not an OSC message or bundle")


def _read_bundle(data: bytes, depth: int, into: list[Message]) -> None:
    if depth >= MAX_BUNDLE_DEPTH:
        raise OscError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    if len(data) < 16:
        raise OscError("a bundle too short for its time tag")
    (tag,) = struct.unpack_from(">Q", data, 8)
    timetag = None if tag == IMMEDIATELY else tag / 2**32 - NTP_TO_UNIX
    index = 16
    while index < len(data):
        if index + 4 > len(data):
            raise OscError("a bundle element's size is cut off")
        (size,) = struct.unpack_from(">i", data, index)
        index += 4
        if size <= 0 or size % 4 or size > len(data) - index:
            raise OscError(f"a bundle element claims {size} bytes where {len(data) - index} are left")
        _read_packet(data[index:index + size], timetag, depth + 1, into)
        index += size


def _read_message(data: bytes, timetag: float | None) -> Message:
    _check_type_tags(data)
    try:
        message = OscMessage(data)
        return Message(message.address, list(message.params), timetag)
    # python-osc raises several exception types on hostile input: any of them means "malformed".
    except Exception as e:  # noqa: BLE001
        raise OscError(f"malformed OSC: {e}") from None


def _check_type_tags(data: bytes) -> None:
    """Raise OscError unless every type tag is one python-osc reads and arrays are well nested."""
    end = data.find(b"\0")
    if end < 0:
        raise OscError("an address without its terminating NUL")
    start = end + 4 - end % 4
    if start >= len(data):
        return  # no type tag string: a message without arguments (OSC 1.0 allows it)
    if data[start] != ord(","):
        raise OscError("a type tag string must start with ','")
    stop = data.find(b"\0", start)
    if stop < 0:
        raise OscError("a type tag string without its terminating NUL")
    tags = data[start + 1:stop]
    unknown = set(tags) - KNOWN_TYPE_TAGS
    if unknown:
        shown = ", ".join(repr(chr(c)) for c in sorted(unknown)[:8])
        raise OscError(f"unknown OSC type tag(s) {shown}: message discarded", "unknown_type_tag")
    if b"[" in tags:
        depth = 0
        for c in tags:
            depth += (c == ord("[")) - (c == ord("]"))
            if not 0 <= depth <= MAX_ARRAY_DEPTH:
                raise OscError(f"arrays nested deeper than {MAX_ARRAY_DEPTH}, or unbalanced")


def encode(address: str, *args) -> bytes:
    """One OSC message; floats are sent as 32-bit 'f', ints as 32-bit 'i', strings as 's' (and the
    rare number too big for 32 bits, a counter after days of traffic say, as 64-bit 'h' or 'd')."""
    tags = "".join(_tag(arg) for arg in args)
    parts = [_head(address, tags)]
    for tag, arg in zip(tags, args):
        if tag == "f":
            parts.append(struct.pack(">f", arg))
        elif tag == "i":
            parts.append(struct.pack(">i", arg))
        elif tag == "s":
            parts.append(_padded(arg.encode("utf-8")))
        elif tag == "h":
            parts.append(struct.pack(">q", arg))
        elif tag == "d":
            parts.append(struct.pack(">d", arg))
    return b"".join(parts)


def _tag(arg) -> str:
    if isinstance(arg, bool):
        return "T" if arg else "F"
    if isinstance(arg, int):
        return "i" if -INT32 <= arg < INT32 else "h"
    if isinstance(arg, float):
        return "f" if -FLOAT32_MAX <= arg <= FLOAT32_MAX or arg != arg else "d"
    if isinstance(arg, str):
        return "s"
    raise TypeError(f"cannot send {type(arg).__name__} over OSC")


@lru_cache(maxsize=256)
def _head(address: str, tags: str) -> bytes:
    return _padded(address.encode("utf-8")) + _padded(("," + tags).encode("ascii"))


def _padded(text: bytes) -> bytes:
    """An OSC string: the bytes, a NUL, then NULs to a multiple of 4."""
    return text + b"\0" * (4 - len(text) % 4)
