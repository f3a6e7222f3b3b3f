"""Time, injectable: the pure protocol parts never read the system clock themselves (the
real clock is :class:`zgossip.node.SystemClock`)."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """What the protocol logic needs of time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: deadlines and ages."""
        ...

    def time(self) -> float:
        """Unix seconds: timestamps that other nodes and people read."""
        ...


def earliest(*deadlines: float | None) -> float | None:
    """The soonest of ``deadlines``, those that are None left out; None when all are."""
    return min((d for d in deadlines if d is not None), default=None)


class InputClock:
    """The time of the input a protocol core is handling: each call of the core sets
    ``now`` (monotonic seconds), and the core's parts read it as their clock. Unix time
    is ``now`` plus a fixed ``offset``."""

    def __init__(self, now: float, offset: float) -> None:
        self.now = now
        self.offset = offset

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.offset


class FakeClock:
    """A clock that moves only when told to, for tests of timing logic."""

    def __init__(self, start: float = 1_000.0, wall: float = 1_700_000_000.0) -> None:
        self._now = start
        self._offset = wall - start

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._now += seconds
