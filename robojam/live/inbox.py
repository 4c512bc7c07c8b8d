"""Messages and tasks for the server's thread from other threads (a MIDI keyboard, the web page,
a model loader, signals).

The queue is paired with a socket that ``select`` watches, so posting a
message wakes the server's loop at once.
"""

from __future__ import annotations

import socket
import time
from queue import Empty, SimpleQueue
from collections.abc import Iterator


class Inbox:
    def __init__(self):
        self._queue = SimpleQueue()  # (path, args, host, arrival: wall clock ns), or a task
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)

    def fileno(self) -> int:
        return self._wake_read.fileno()

    def post(self, path: str, args: list, host: str) -> None:
        """A message from ``host``, stamped with its arrival (as the kernel stamps a datagram's)."""
        self._queue.put((path, list(args), host, time.time_ns()))
        self.wake()

    def run_soon(self, task) -> None:
        """Have the server's thread call ``task()`` (safe from a signal handler or any thread)."""
        self._queue.put(task)
        self.wake()

    def wake(self) -> None:
        """Make the loop's ``select`` return (safe from a signal handler or any thread)."""
        try:
            self._wake_write.send(b"!")
        except OSError:
            pass

    def drain_wakes(self) -> None:
        try:
            while self._wake_read.recv(4096):
                pass
        except OSError:
            pass

    def messages(self) -> Iterator:
        """Every message (path, args, host, arrival) and task (a callable) posted so far, oldest first."""
        while True:
            try:
                yield self._queue.get_nowait()
            except Empty:
                return

    def close(self) -> None:
        self._wake_read.close()
        self._wake_write.close()
