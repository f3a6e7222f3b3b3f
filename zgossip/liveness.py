"""Per-neighbour ping bookkeeping that turns unanswered pings into dead verdicts (pure).

Every round (one liveness interval) the peer calls :meth:`Liveness.round`: a
ping still unanswered from the previous round is a miss; ``limit`` misses in a
row make the neighbour dead; every living neighbour gets a new ping. Any answer
proves life and clears the misses.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
