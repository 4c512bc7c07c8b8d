"""The transport seam: each way in and out of the server besides OSC is a bridge.

A bridge has a scheme name, ``start``, ``stop`` and ``send``. Its performers are posted to the
server as the host ``SCHEME:PEER`` (``web:3``, or ``midi`` for the keyboard, whose peer is empty);
the outbox hands their replies to the bridge that owns the scheme, through one table
(:class:`robojam.live.outbox.Outbox`), and the server stops its bridges in the reverse of the
order it opened them. A new transport is one module with such a class and one ``Server.open``.
"""

from __future__ import annotations

from typing import Protocol


class Bridge(Protocol):
    scheme: str

    def start(self) -> None:
        """Open what it needs (ports, sockets, threads); RobojamError if it cannot."""

    def stop(self) -> None:
        """Close it all; safe to call twice."""

    def send(self, peer: str, address: str, args: list) -> bool:
        """A message for one of its performers, from the server's thread, never blocking; False when it
        has no way back to them (OSC's --send destinations get it instead)."""


def split_host(host: str) -> tuple[str, str]:
    """A performer's host as (scheme, peer); OSC senders' addresses give a scheme no bridge has."""
    scheme, _, peer = host.partition(":")
    return scheme, peer
