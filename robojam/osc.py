"""OSC datagrams in and out, with python-osc's parser and builder.

Only parsing and encoding lives here: what a message means is
:mod:`robojam.protocol`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
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
    """One OSC message; floats are sent as 32-bit 'f', ints as 'i', strings as 's'."""
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg, _type_of(arg))
    return builder.build().dgram


def _type_of(arg) -> str:
    if isinstance(arg, bool):
        return OscMessageBuilder.ARG_TYPE_TRUE if arg else OscMessageBuilder.ARG_TYPE_FALSE
    if isinstance(arg, int):
        return OscMessageBuilder.ARG_TYPE_INT
    if isinstance(arg, float):
        return OscMessageBuilder.ARG_TYPE_FLOAT
    return OscMessageBuilder.ARG_TYPE_STRING
