"""When robojam's outputs leave: the next deadline over all sessions, and leaving on time for it.

Each session holds its outputs at absolute deadlines on the monotonic clock.
The loop sleeps until just before the earliest one and waits out the rest
awake (:meth:`OutputSchedule.settle`), so outputs never drift by chained sleeps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from robojam.live.session import Output, Session

Send = Callable[[str, object, Output], None]  # (key, performer, output)

SETTLE_S = 0.0005           # the loop wakes this long before a deadline and waits it out awake
SETTLE_SHARE = 0.05         # ...for at most this many seconds in each second
LONGEST_WAIT_S = 0.5        # the loop looks around at least this often


class OutputSchedule:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._settle_window, self._settled = clock(), 0.0  # spin-wait budget (see settle)

    @staticmethod
    def next_deadline(sessions: Iterable[Session]) -> float | None:
        deadlines = [d for d in (s.next_deadline() for s in sessions) if d is not None]
        return min(deadlines) if deadlines else None

    def wait(self, deadline: float | None) -> float:
        """Seconds to sleep before waking for ``deadline`` (or to look around)."""
        if deadline is None:
            return LONGEST_WAIT_S
        return min(max(deadline - self.clock() - SETTLE_S, 0.0), LONGEST_WAIT_S)

    def near(self, deadline: float | None) -> bool:
        return deadline is not None and deadline - self.clock() <= SETTLE_S

    def settle(self, deadline: float) -> None:
        """Wait out the last SETTLE_S before a deadline awake, so the output leaves on time.

        Waking from sleep takes a varying fraction of a millisecond; spinning
        this briefly keeps the lateness of response touches well under a
        millisecond. The spinning is capped at SETTLE_SHARE of each second, so
        many performers' dense deadlines never pin a core: past the cap the
        loop simply sleeps to each deadline.
        """
        now = self.clock()
        if now - self._settle_window > 1.0:
            self._settle_window, self._settled = now, 0.0
        if self._settled >= SETTLE_SHARE:
            return
        while self.clock() < deadline:
            pass
        self._settled += self.clock() - now

    def send_due(self, performers: dict, send: Send) -> None:
        """Send every output that is due, then let sessions generate ahead (drafting only while no
        session's output is about to be due)."""
        playing = list(performers.items())
        for key, performer in playing:
            for output in performer.session.due(self.clock()):
                send(key, performer, output)
        outputs = [d for d in (p.session.next_output() for _, p in playing) if d is not None]
        quiet_until = min(outputs, default=math.inf)
        for _, performer in playing:
            performer.session.prepare(self.clock(), quiet_until)

    def send_due_now(self, performers: dict, keys: Iterable[str], send: Send) -> None:
        """Send at once what a message made due (a response's start, a barge-in's end), before reading on."""
        for key in keys:
            performer = performers.get(key)
            deadline = performer.session.next_deadline() if performer is not None else None
            if deadline is not None and deadline <= self.clock():
                for output in performer.session.due(self.clock()):
                    send(key, performer, output)
