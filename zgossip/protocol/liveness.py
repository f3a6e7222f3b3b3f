"""Telling the dead from the silent: ping bookkeeping, probes, indirect probes (pure).

- :class:`Liveness`: every round (one liveness interval) the peer calls
  :meth:`Liveness.round`: a ping still unanswered from the previous round is a
  miss; ``limit`` misses in a row make the neighbour a suspect; every other
  neighbour gets a new ping. Any answer proves life and clears the misses.
- :class:`Probes`: one-off pings that a seed or a peer sends on someone's
  behalf, each answered or timed out once, whoever else waits for it too.
- :class:`Suspicions`: before a peer reports a suspect, it asks others to probe
  it (SWIM's indirect probe): one that reaches it refutes the suspicion; only
  when none does, or none answers in time, is the suspect dead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from zgossip.protocol.clock import Clock
from zgossip.protocol.deadlines import Schedule

W = TypeVar("W")


@dataclass(frozen=True, slots=True)
class ProbeTimeout:
    """The deadline key of a probe of ``target``: no answer in time."""

    target: str


@dataclass(frozen=True, slots=True)
class SuspicionTimeout:
    """The deadline key of an indirect probe of ``suspect``: no helper vouched in time."""

    suspect: str


@dataclass(slots=True)
class _Watch:
    misses: int = 0
    awaiting: float | None = None  # the timestamp of the unanswered ping


@dataclass(slots=True)
class Round:
    ping: list[str] = field(default_factory=list)
    missed: list[tuple[str, int]] = field(default_factory=list)  # (neighbour, misses so far)
    dead: list[str] = field(default_factory=list)


class Liveness:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._watches: dict[str, _Watch] = {}

    def __contains__(self, neighbour: str) -> bool:
        return neighbour in self._watches

    def watch(self, neighbour: str) -> None:
        self._watches.setdefault(neighbour, _Watch())

    def forget(self, neighbour: str) -> None:
        self._watches.pop(neighbour, None)

    def round(self, ts: float, judge: bool = True) -> Round:
        """Count last round's silence, and ping every living neighbour with ``ts``.

        ``judge=False`` counts nothing: for a round that comes late because this peer
        itself stalled (GC, SIGSTOP, CPU starvation), when answers may be sitting unread.
        """
        result = Round()
        for neighbour, watch in list(self._watches.items()):
            if watch.awaiting is not None and judge:
                watch.misses += 1
                result.missed.append((neighbour, watch.misses))
                if watch.misses >= self._limit:
                    result.dead.append(neighbour)
                    del self._watches[neighbour]
                    continue
            watch.awaiting = ts
            result.ping.append(neighbour)
        return result

    def answered(self, neighbour: str, ts: float) -> None:
        """A pong from ``neighbour`` echoing ``ts``: it lives."""
        watch = self._watches.get(neighbour)
        if watch is None:
            return
        watch.misses = 0
        if watch.awaiting == ts:
            watch.awaiting = None


class Probes(Generic[W]):
    """Open probes: a target, and whoever waits for the answer (``W``). Each times out at
    its :class:`ProbeTimeout` key of the node's deadlines: then call :meth:`expired`."""

    def __init__(self, deadlines: Schedule[ProbeTimeout], clock: Clock, timeout: float) -> None:
        self._deadlines = deadlines
        self._clock = clock
        self._timeout = timeout
        self._open: dict[str, list[W]] = {}  # target -> waiters

    def __contains__(self, target: str) -> bool:
        return target in self._open

    def __len__(self) -> int:
        return len(self._open)

    def open(self, target: str, waiter: W) -> bool:
        """Wait for ``target``'s answer; True when no probe is out yet: send one."""
        waiters = self._open.get(target)
        if waiters is not None:
            waiters.append(waiter)
            return False
        self._open[target] = [waiter]
        self._deadlines.set(ProbeTimeout(target), self._clock.monotonic() + self._timeout)
        return True

    def answered(self, target: str) -> list[W]:
        """``target`` answered: close its probe; who waited (none if no probe was open)."""
        self._deadlines.cancel(ProbeTimeout(target))
        return self._open.pop(target, [])

    def expired(self, target: str) -> list[W]:
        """The probe's time is up: closed; who waited."""
        return self._open.pop(target, [])


class Suspicions:
    """Indirect probes of suspects: refuted by any helper that reaches the suspect. Each
    ends at its :class:`SuspicionTimeout` key of the node's deadlines: :meth:`expired`."""

    def __init__(self, deadlines: Schedule[SuspicionTimeout], clock: Clock, timeout: float) -> None:
        self._deadlines = deadlines
        self._clock = clock
        self._timeout = timeout
        self._open: dict[str, set[str]] = {}  # suspect -> helpers yet to answer

    def __contains__(self, suspect: str) -> bool:
        return suspect in self._open

    def __len__(self) -> int:
        return len(self._open)

    def open(self, suspect: str, helpers: Iterable[str]) -> None:
        """Ask ``helpers`` (at least one) to probe ``suspect``; wait ``timeout`` at most."""
        waiting = set(helpers)
        if not waiting:
            raise ValueError("an indirect probe needs a helper")
        self._open[suspect] = waiting
        self._deadlines.set(SuspicionTimeout(suspect), self._clock.monotonic() + self._timeout)

    def result(self, suspect: str, helper: str, alive: bool) -> bool | None:
        """A helper's answer. True: refuted (closed). False: no helper reached it: dead
        (closed). None: still waiting, or no such suspicion or helper."""
        waiting = self._open.get(suspect)
        if waiting is None or helper not in waiting:
            return None
        waiting.discard(helper)
        if alive or not waiting:
            self._close(suspect)
            return alive
        return None

    def refute(self, suspect: str) -> bool:
        """The suspect itself showed life; True when a suspicion was open."""
        return self._close(suspect)

    def expired(self, suspect: str) -> bool:
        """No helper vouched for ``suspect`` in time: True (it is dead) if still open."""
        return self._open.pop(suspect, None) is not None

    def _close(self, suspect: str) -> bool:
        self._deadlines.cancel(SuspicionTimeout(suspect))
        return self._open.pop(suspect, None) is not None
