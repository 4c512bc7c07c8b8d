"""The server's UDP socket: binding it, reading datagrams with their kernel arrival times, sending."""

from __future__ import annotations

import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator

from robojam import RobojamError

SO_RXQ_OVFL = 40            # Linux: ancillary count of datagrams the socket buffer dropped
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux: kernel arrival time of each datagram
RECEIVE_BUFFER = 4 << 20    # bytes: room for bursts while a response is generated
MAX_DATAGRAM = 65536
ANCILLARY_SPACE = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(16)


def parse_destination(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as a (host, port) pair."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RobojamError(f"destination {text!r} is not HOST:PORT (for example 192.168.1.20:5001)")
    return host, int(port)


def lan_address() -> str:
    """This machine's address on its local network, best guess; 127.0.0.1 when there is none."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing: it only picks a route
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


class UdpTransport:
    """A bound, non-blocking UDP socket; socket troubles go to ``drops`` by reason."""

    def __init__(self, host: str, port: int, drops: Counter):
        self.drops = drops
        self.sock = _bound_socket(host, port)
        self._overflow_seen = 0

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self, limit: int) -> Iterator[tuple[bytes, str, int]]:
        """Up to ``limit`` waiting datagrams as (data, sender host, arrival): when each reached the machine,
        wall clock ns, by the kernel's time stamp, else when it was read."""
        for _ in range(limit):
            try:
                data, ancillary, _, sender = self.sock.recvmsg(MAX_DATAGRAM, ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.drops["socket_error"] += 1
                return
            yield data, sender[0], self._read_ancillary(ancillary) or time.time_ns()

    def send(self, datagram: bytes, destination: tuple[str, int]) -> None:
        try:
            self.sock.sendto(datagram, destination)
        except OSError:
            self.drops["send_failed"] += 1

    def close(self) -> None:
        self.sock.close()

    def _read_ancillary(self, ancillary) -> int | None:
        """Count socket-buffer overflows; return the kernel's arrival time if given."""
        arrival = None
        for level, kind, payload in ancillary:
            if level != socket.SOL_SOCKET:
                continue
            if kind == SO_RXQ_OVFL and len(payload) >= 4:
                total = struct.unpack("=I", payload[:4])[0]
                if total > self._overflow_seen:
                    self.drops["socket_overflow"] += total - self._overflow_seen
                    self._overflow_seen = total
            elif kind == SO_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanoseconds = struct.unpack("=qq", payload[:16])
                arrival = seconds * 1_000_000_000 + nanoseconds
        return arrival


def _bound_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        pass  # not Linux: no overflow count or arrival times, a smaller buffer
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise RobojamError(f"cannot listen on {host}:{port} ({e.strerror or e}); "
                           "is another robojam running? choose another --port") from None
    sock.setblocking(False)
    return sock
