"""Background work that yields to live traffic: a duty cycle, like PostgreSQL's cost-based vacuum delay.

A long job calls :func:`pause_point` between its chunks (the bulk loader does between COPY chunks, the
job runner at every progress report). Outside a job nothing is set and a pause point costs one context
variable look-up. Inside a job (the runner sets a :class:`Pacer` with :func:`pacing`):

- a pause point less than ``slice_seconds`` after the last decision does nothing (a point per row is
  allowed and cheap: one clock read);
- otherwise the pacer asks ``busy()`` (was live traffic served within the last second or so?) and, if
  so, sleeps ``ratio`` times the wall time worked since the last decision (at most ``max_pause``), so
  that while traffic lasts the job works at most ``1 / (1 + ratio)`` of the time;
- ``ratio`` 0 turns it off: no clock read, no question asked, never a pause; with no traffic there is
  no pause either, so a job on a quiet system runs at full speed.

A pause never holds more than the caller holds already: the caller decides where its points are (the
runner never pauses a SQLite job inside its write transaction, which would keep the single writer's
lock while it sleeps). Pure: no Flask, no SQLAlchemy.

A pause must also stop the work it pauses. Work handed to another process and still queued there goes
on during a pause: rows of a PostgreSQL COPY sent ahead (a few chunks in the client's queue and the
sockets) keep the server process loading them for a second or more, on the CPU the traffic needs. So
a caller with such work in flight runs it inside :func:`held`: its pause points only measure; at a
place where it can let go it asks :func:`pause_due`, and when a pause is due it ends the work (the
COPY: the server has loaded every row sent once it returns) and calls :func:`pause_point` after the
block, which then pauses for the whole of the work, the wait for the server included.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

SLICE_SECONDS = 0.1  # the shortest chunk worth a decision: one shared read per 0.1 s of work at most
MAX_PAUSE = 5.0  # a long chunk's pause is capped, so a job always makes progress between checks


class Pacer:
    """Decides at each pause point whether to sleep, and for how long (see the module's text)."""

    def __init__(
        self,
        ratio: float,
        busy: Callable[[], bool],
        *,
        slice_seconds: float = SLICE_SECONDS,
        max_pause: float = MAX_PAUSE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ratio, self.busy, self.slice, self.max_pause = max(0.0, ratio), busy, slice_seconds, max_pause
        self._clock, self._sleep = clock, sleep
        self._since = clock()
        self.paused = 0.0  # seconds slept in all (for the job's log)
        self.pauses = 0
        self.held = 0  # inside held(): points measure only

    def point(self) -> None:
        """A chunk ended: pause ``ratio`` times its duration if live traffic was served recently."""
        if self.held or not self.due():
            return
        pause = min(self.ratio * (self._clock() - self._since), self.max_pause)
        self._sleep(pause)
        self.paused += pause
        self.pauses += 1
        self._since = self._clock()  # the next chunk is measured from here: a pause is not work

    def due(self) -> bool:
        """Whether a point here would pause (the slice is over and live traffic was served), without
        pausing; a "no" is a decision like a point's (the next chunk is measured from here)."""
        if not self.ratio:
            return False
        now = self._clock()
        if now - self._since < self.slice:
            return False
        if self.busy():
            return True
        self._since = now
        return False

    def restart(self) -> None:
        """Forget the time since the last decision (after a wait that was not work, e.g. a lock)."""
        self._since = self._clock()


_current: ContextVar[Pacer | None] = ContextVar("rewards_pacer", default=None)


def current() -> Pacer | None:
    """The pacer of the job running in this thread, or None."""
    return _current.get()


def pause_point() -> None:
    """A chunk of long work ended: let the current job's pacer decide (nothing outside a job)."""
    pacer = _current.get()
    if pacer is not None:
        pacer.point()


def pause_due() -> bool:
    """Whether the current job should pause now (False outside a job): see :func:`held`."""
    pacer = _current.get()
    return pacer is not None and pacer.due()


@contextmanager
def held() -> Iterator[None]:
    """Inside the block pause points do not pause (their time counts as work): the caller has work in
    flight that a pause would not stop; it lets go where :func:`pause_due` says, then pauses (module text)."""
    pacer = _current.get()
    if pacer is None:
        yield
        return
    pacer.held += 1
    try:
        yield
    finally:
        pacer.held -= 1


@contextmanager
def pacing(pacer: Pacer | None) -> Iterator[Pacer | None]:
    """Make ``pacer`` the one :func:`pause_point` uses inside the block (None: no pacing)."""
    token = _current.set(pacer)
    try:
        yield pacer
    finally:
        _current.reset(token)


def paced(rows: Iterable[T], every: int = 20_000) -> Iterator[T]:
    """``rows`` unchanged, with a :func:`pause_point` after every ``every`` of them (a streamed read)."""
    count = 0
    for row in rows:
        yield row
        count += 1
        if count == every:
            count = 0
            pause_point()
