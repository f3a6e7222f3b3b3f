"""The messages a peer keeps whole, bounded by bytes and by age (pure).

A peer keeps every message it takes, whole, for ``max_age`` seconds, or until the kept
frames pass ``max_bytes``, oldest out first: to hand a new neighbour its recent gossip,
to answer a neighbour's repair or graft, and to send a neighbour what its anti-entropy
digest shows it lacks (:mod:`zgossip.protocol.entropy`). A message that left every
store can no longer be had: the peer that lacks it says so (``gossip.lost``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zgossip.protocol import wire
from zgossip.protocol.entropy import lacks

#: What keeping a message costs beyond its frame's bytes, counted against ``max_bytes``
#: so that the bound holds for the memory, not just for the frames. Python's objects take
#: 295 bytes (tracemalloc, 100,000 kept: the record, its time and seq, its places in two
#: dicts and the deque, 213; the frame's bytes object, 33; the id, 49); the process's RSS
#: grows by about 550 a message kept (the heap's fragmentation under a store's steady
#: churn; benchmarks/RESULTS.md, "No message lost without a word").
ENTRY_COST = 550


@dataclass(slots=True)  # not frozen: a frozen __init__ sets each field through a call
class Kept:
    when: float  # monotonic time we took it
    id: bytes
    origin: str
    seq: int
    frame: bytes


@dataclass(slots=True)
class _Origin:
    """One origin's kept messages by seq, and the lowest and highest seq kept since its
    first here (the lowest not raised as the oldest go): an origin a digest holds all of is
    skipped unread."""

    seqs: dict[int, Kept]
    lowest: int
    highest: int


class Store:
    def __init__(self, *, max_bytes: int, max_age: float) -> None:
        self._max_bytes = max_bytes
        self._max_age = max_age
        self._order: deque[Kept] = deque()  # oldest first
        self._origins: dict[str, _Origin] = {}
        self._by_id: dict[bytes, Kept] = {}
        self.bytes = 0  # counted as ENTRY_COST and the frame a message

    def __len__(self) -> int:
        return len(self._order)

    def keep(self, now: float, msg_id: bytes, origin: str, seq: int, frame: bytes) -> None:
        """Keep a message taken ``now``; let the oldest go past the bounds."""
        if self._max_bytes <= 0:
            return
        kept = Kept(now, msg_id, origin, seq, frame)
        order = self._order
        order.append(kept)
        known = self._origins.get(origin)
        if known is None:
            self._origins[origin] = _Origin({seq: kept}, seq, seq)
        else:
            known.seqs[seq] = kept
            if seq > known.highest:
                known.highest = seq
            elif seq < known.lowest:
                known.lowest = seq
        self._by_id[msg_id] = kept
        self.bytes += ENTRY_COST + len(frame)
        if self.bytes > self._max_bytes or order[0].when < now - self._max_age:
            self.trim(now)

    def trim(self, now: float) -> None:
        """Let go of what is too old, and of the oldest while over ``max_bytes``."""
        order, too_old = self._order, now - self._max_age
        while order and (self.bytes > self._max_bytes or order[0].when < too_old):
            gone = order.popleft()
            self.bytes -= ENTRY_COST + len(gone.frame)
            seqs = self._origins[gone.origin].seqs
            if seqs.get(gone.seq) is gone:
                del seqs[gone.seq]
                if not seqs:
                    del self._origins[gone.origin]
            if self._by_id.get(gone.id) is gone:
                del self._by_id[gone.id]

    def by_seq(self, origin: str, seqs: Iterable[int], max_bytes: int) -> list[bytes]:
        """The frames of ``origin`` with these sequence numbers that are still kept, in the
        order asked, as many as fit in ``max_bytes`` (the rest can be asked for again)."""
        known = self._origins.get(origin)
        kept = known.seqs if known is not None else {}
        return _fitting((kept.get(seq) for seq in seqs), max_bytes)[0]

    def by_id(self, ids: Iterable[bytes], max_bytes: int) -> list[bytes]:
        """The frames with these ids that are still kept, as :meth:`by_seq`."""
        return _fitting((self._by_id.get(msg_id) for msg_id in ids), max_bytes)[0]

    def recent(self, max_bytes: int, since: float) -> list[bytes]:
        """The newest frames taken at ``since`` (monotonic) or later, oldest first, that
        fit in ``max_bytes``."""
        frames: list[bytes] = []
        for kept in reversed(self._order):
            max_bytes -= len(kept.frame)
            if kept.when < since or max_bytes < 0:
                break
            frames.append(kept.frame)
        frames.reverse()
        return frames

    def lacking(
        self,
        holdings: Mapping[str, wire.Holding],
        complete: bool,
        since: float,
        until: float,
        max_bytes: int,
    ) -> tuple[list[bytes], bool]:
        """What a peer lacks, by its digest: the frames we took from ``since`` (monotonic:
        when it started) to ``until``, of the origins it lists, whose sequence
        numbers it does not hold, and, if its list is ``complete``, of the origins it does
        not list. Each origin's in order, as many as fit in ``max_bytes``; and whether
        some did not fit."""
        wanted: list[Kept] = []
        for origin, known in self._origins.items():
            holding = holdings.get(origin)
            if holding is None and not complete:
                continue  # not listed, for want of room: it may hold them all
            if (
                holding is not None
                and not holding.holes
                and holding.low <= known.lowest
                and known.highest <= holding.high
            ):
                continue  # it holds all we keep of it
            found = [
                k
                for seq, k in known.seqs.items()
                if since <= k.when <= until and (holding is None or lacks(holding, seq))
            ]
            found.sort(key=_seq)
            wanted += found
        return _fitting(wanted, max_bytes)


def _seq(kept: Kept) -> int:
    return kept.seq


def _fitting(found: Iterable[Kept | None], max_bytes: int) -> tuple[list[bytes], bool]:
    """The frames found (not None), in order, as many as fit in ``max_bytes``; and whether
    one did not fit."""
    fit: list[bytes] = []
    for kept in found:
        if kept is None:
            continue
        max_bytes -= len(kept.frame)
        if max_bytes < 0:
            return fit, True
        fit.append(kept.frame)
    return fit, False
