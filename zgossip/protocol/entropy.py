"""Anti-entropy: what a peer holds of each origin, in a few numbers (pure).

Every message carries its origin's sequence number, so what a peer holds of an origin is
a range ``low..high`` with a few holes in it. A peer sends one neighbour a digest of that
(:class:`wire.Digest`) every liveness interval, when a link comes up, and after it was
stopped; the neighbour answers with what it keeps that the digest lacks
(:meth:`zgossip.protocol.store.Store.lacking`): memberlist's push/pull and Cassandra's
digests, for messages. It catches what gossip and gap repair cannot: an origin's last
messages (no later one shows the gap), a burst past a neighbour's patience, a peer that
was stopped or cut off, both sides of a healed partition.

A hole that outlives every store (``Config.store_age``) can no longer be had: it is given
up, and said (``gossip.lost``). So is the oldest hole of an origin with more than
``max_holes``, and the holes of an origin forgotten for room.

An origin numbers its messages from its start time in nanoseconds on, one by one: a
restarted origin's numbers never repeat its earlier run's, and leap far ahead of them. A
number more than :data:`LEAP` past the highest held starts a new run; one as far below the
lowest is of a run gone by (neither opens a hole of billions).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from zgossip.protocol import wire

#: How far past the highest number held a message starts a new run of its origin: 10 ms of
#: a run's nanosecond start, far more than any real hole (``max_rate`` for ``store_age``:
#: 240,000 messages), far less than the shortest restart.
LEAP = 10_000_000


@dataclass(slots=True)
class _Held:
    low: int
    high: int
    heard: float  # monotonic time of the latest message taken
    los: list[int] = field(default_factory=list)  # the holes' first seqs, in order
    his: list[int] = field(default_factory=list)  # and their last
    opened: list[float] = field(default_factory=list)  # and when each was seen


@dataclass(frozen=True, slots=True)
class Lost:
    """Messages of ``origin`` given up here, ``first..last``, and why."""

    origin: str
    first: int
    last: int
    reason: str


def lacks(holding: wire.Holding, seq: int) -> bool:
    """Whether the digest's ``holding`` lacks sequence number ``seq`` of its origin."""
    if seq < holding.low or seq > holding.high:
        return True
    holes = holding.holes  # first, last, first, last, ...: in order (wire checks it)
    k = bisect.bisect_right(holes, seq)  # odd: past a hole's first and before its last
    return k % 2 == 1 or (k > 0 and holes[k - 1] == seq)


class Holdings:
    """For each origin: the lowest and highest sequence numbers taken here and the holes
    between them, each hole with the time it was seen. Bounded: at most ``max_holes`` holes
    an origin and ``max_origins`` origins (the least recently heard forgotten first); an
    origin not heard from for ``forget`` seconds is forgotten."""

    def __init__(self, *, max_holes: int, max_origins: int, forget: float) -> None:
        self._max_holes = max_holes
        self._max_origins = max_origins
        self._forget = forget
        self._held: dict[str, _Held] = {}
        self._evicted = float("-inf")  # when origins were last forgotten for room

    def __len__(self) -> int:
        return len(self._held)

    def holds(self, origin: str, seq: int) -> bool:
        held = self._held.get(origin)
        if held is None or not held.low <= seq <= held.high:
            return False
        k = bisect.bisect_right(held.los, seq) - 1
        return k < 0 or held.his[k] < seq

    def took(self, origin: str, seq: int, now: float) -> list[Lost]:
        """``origin``'s message ``seq``, new here, taken at ``now``; what had to be given
        up (an origin's oldest hole past ``max_holes``, the holes of origins forgotten for
        room, those of an origin's run gone by)."""
        held = self._held.get(origin)
        if held is None:
            lost = self._make_room(now) if len(self._held) >= self._max_origins else []
            self._held[origin] = _Held(seq, seq, now)
            return lost
        if seq > held.high + LEAP:  # it restarted: a new run
            lost = self._drop(origin, "origin restarted")
            self._held[origin] = _Held(seq, seq, now)
            return lost
        if seq < held.low - LEAP:  # a late copy of a run gone by: not this run's
            return []
        held.heard = now
        if seq > held.high:
            if seq > held.high + 1:
                self._open(held, len(held.los), held.high + 1, seq - 1, now)
            held.high = seq
        elif seq < held.low:
            if seq < held.low - 1:
                self._open(held, 0, seq + 1, held.low - 1, now)
            held.low = seq
        else:
            k = bisect.bisect_right(held.los, seq) - 1
            if k < 0 or held.his[k] < seq:
                return []  # held already
            lo, hi, opened = held.los[k], held.his[k], held.opened[k]
            del held.los[k], held.his[k], held.opened[k]
            if seq < hi:
                self._open(held, k, seq + 1, hi, opened)
            if lo < seq:
                self._open(held, k, lo, seq - 1, opened)
        if len(held.los) <= self._max_holes:
            return []
        return [self._close(origin, held, 0, "too many gaps")]

    def _make_room(self, now: float) -> list[Lost]:
        """Forget the eighth of the origins heard least recently (a sort now and then, not
        a scan each new origin); until ``store_age`` has passed, a digest says it is not
        complete (a neighbour's messages of them are no news)."""
        by_age = sorted(self._held, key=lambda origin: self._held[origin].heard)
        lost: list[Lost] = []
        for origin in by_age[: max(1, len(by_age) // 8)]:
            lost += self._drop(origin, "too many origins")
        self._evicted = now
        return lost

    def _open(self, held: _Held, k: int, lo: int, hi: int, opened: float) -> None:
        held.los.insert(k, lo)
        held.his.insert(k, hi)
        held.opened.insert(k, opened)

    def _close(self, origin: str, held: _Held, k: int, reason: str) -> Lost:
        lost = Lost(origin, held.los[k], held.his[k], reason)
        del held.los[k], held.his[k], held.opened[k]
        return lost

    def _drop(self, origin: str, reason: str) -> list[Lost]:
        held = self._held.pop(origin)
        return [Lost(origin, lo, hi, reason) for lo, hi in zip(held.los, held.his, strict=True)]

    def expire(self, now: float, age: float) -> list[Lost]:
        """Give up the holes seen more than ``age`` ago (the messages have left every
        store), and forget the origins not heard from for ``forget``."""
        lost: list[Lost] = []
        for origin, held in list(self._held.items()):
            if held.heard + self._forget <= now:
                lost += self._drop(origin, "expired")
                continue
            k = 0
            while k < len(held.opened):  # holes are in seq order, not always in time order
                if held.opened[k] + age <= now:
                    lost.append(self._close(origin, held, k, "expired"))
                else:
                    k += 1
        return lost

    def digest(
        self, recent: float, max_origins: int, max_bytes: int
    ) -> tuple[list[wire.Holding], bool]:
        """What we hold of the origins heard since ``recent`` (monotonic), the most recently
        heard first, at most ``max_origins`` of them in about ``max_bytes``; and whether
        that is all we hold of what a neighbour may keep."""
        fresh = [(o, h) for o, h in self._held.items() if h.heard >= recent]
        fresh.sort(key=lambda item: item[1].heard, reverse=True)
        holdings: list[wire.Holding] = []
        for origin, held in fresh[:max_origins]:
            max_bytes -= 40 + 9 * 2 * len(held.los)  # the origin, 9 bytes a number at most
            if max_bytes < 0:
                break
            holdings.append(_holding(origin, held))
        return holdings, len(holdings) == len(fresh) and self._evicted < recent


def _holding(origin: str, held: _Held) -> wire.Holding:
    holes: list[int] = []
    for lo, hi in zip(held.los, held.his, strict=True):
        holes += (lo, hi)
    return wire.Holding(origin, held.low, held.high, tuple(holes))
