"""The Message List and gap detection: first receipts, bounded memory, no silent loss (pure).

A message's id is a hash of its whole frame, taken once on receipt; since a
forward sends the very same bytes, every peer computes the same id, and a
duplicate is dropped before it is even decoded. Entries are forgotten past
``max_entries`` or ``max_age`` seconds, whichever comes first, so memory stays
bounded however long a peer runs (the frames themselves are kept, for a while, in
:mod:`zgossip.protocol.store`); :class:`Gaps` tells which messages went missing, from
origins' sequence numbers.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field

from zgossip.protocol.clock import Clock
from zgossip.protocol.deadlines import Schedule


@dataclass(frozen=True, slots=True)
class GapDue:
    """The deadline key of a gap: ``origin``'s message ``seq``, missing here."""

    origin: str
    seq: int


def message_id(frame: bytes | memoryview) -> bytes:
    """The id of a gossip frame: 16 bytes of BLAKE2b."""
    return hashlib.blake2b(frame, digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class Entry:
    sender: str  # the neighbour it came from (ourselves for our own messages)
    when: float  # monotonic time of first receipt


class MessageList:
    """First receipts in receipt order, in a ring of ``max_entries`` slots.

    An id maps to its receipt number ``n``; slot ``n % max_entries`` of three flat arrays
    holds its id, sender and time. Forgetting the oldest is O(1) and an entry costs about
    150 bytes (a dict kept in insertion order and trimmed from the front would cost more,
    and slow down as the deleted entries pile up in front of the oldest live one).
    """

    def __init__(self, clock: Clock, *, max_entries: int, max_age: float) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._max_age = max_age
        self._numbers: dict[bytes, int] = {}  # id -> its receipt number
        self._ids: list[bytes] = []  # by slot; b"" once forgotten
        self._senders: list[str] = []  # the neighbour it came from (ourselves for our own)
        self._whens = array("d")  # monotonic time of first receipt
        self._next = 0  # the receipt number of the next record
        self._oldest = 0  # the receipt number of the oldest entry still held

    def __len__(self) -> int:
        return len(self._numbers)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._numbers

    def get(self, msg_id: bytes) -> Entry | None:
        number = self._numbers.get(msg_id)
        if number is None:
            return None
        slot = number % self._max_entries
        return Entry(self._senders[slot], self._whens[slot])

    def record(self, msg_id: bytes, sender: str) -> None:
        """Remember a first receipt (an id held already is left as it is), and forget what
        is now too old or too many."""
        if msg_id in self._numbers:
            return
        now = self._clock.monotonic()
        number = self._next
        slot = number % self._max_entries
        if number < self._max_entries:  # the ring is still filling up
            self._ids.append(msg_id)
            self._senders.append(sender)
            self._whens.append(now)
        else:
            if self._oldest <= number - self._max_entries:  # the slot's entry is still held
                self._forget_oldest()
            self._ids[slot] = msg_id
            self._senders[slot] = sender
            self._whens[slot] = now
        self._numbers[msg_id] = number
        self._next = number + 1
        too_old = now - self._max_age
        while self._whens[self._oldest % self._max_entries] < too_old:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        slot = self._oldest % self._max_entries
        del self._numbers[self._ids[slot]]
        self._ids[slot] = b""
        self._oldest += 1


@dataclass(slots=True)
class _Gap:
    since: float  # monotonic time the gap was seen
    ask: str  # the neighbour whose message showed the gap: it may well have the missing one
    tries: int = 0


@dataclass(slots=True)
class _Origin:
    next: int  # the sequence number expected next
    heard: float  # monotonic time of its latest message
    leap: int | None = None  # a number far ahead, not yet borne out by another
    missing: dict[int, _Gap] = field(default_factory=dict)


class Gaps:
    """Which messages of each origin went missing here, and whom to ask for them (pure).

    Every message carries its origin's sequence number. A number skipped is a gap; gossip
    arrives by several paths and out of order, so a gap is asked for only once it has
    lasted ``delay``: first from the neighbour whose later message revealed it, then, every
    ``delay`` more, from another neighbour, ``tries`` times at most. Each gap is timed by
    its :class:`GapDue` key of the peer's deadlines; the peer hands the keys that
    come due to :meth:`ask`. Memory is bounded: at most ``max_missing`` gaps an origin, the
    oldest given up first, and an origin not heard from for ``forget`` seconds is forgotten
    (as is the longest silent one beyond ``max_origins``): when it speaks again, it starts
    afresh. A message more than ``max_missing`` numbers ahead opens no gaps and, alone,
    moves the expected number nowhere: one forged sequence number cannot start a thousand
    requests, nor make every later real message look late (and its gaps unseen). A second
    message just after it bears the leap out (an origin that restarted, a long cut).
    """

    def __init__(
        self,
        deadlines: Schedule[GapDue],
        clock: Clock,
        *,
        delay: float,
        tries: int,
        max_missing: int,
        forget: float = 600.0,
        max_origins: int = 10_000,
    ) -> None:
        self._deadlines = deadlines
        self._clock = clock
        self._delay = delay
        self._tries = tries
        self._max_missing = max_missing
        self._forget = forget
        self._max_origins = max_origins
        self._origins: dict[str, _Origin] = {}  # least recently heard first

    def missing(self, origin: str) -> list[int]:
        known = self._origins.get(origin)
        return sorted(known.missing) if known else []

    def seen(self, origin: str, seq: int, sender: str) -> None:
        """A first receipt of ``origin``'s message ``seq``, from ``sender``."""
        now = self._clock.monotonic()
        known = self._origins.pop(origin, None)
        if known is None or known.heard + self._forget <= now:  # new, or silent for long
            if known is not None:
                self._give_up(origin, known)
            known = _Origin(seq + 1, now)
        elif seq < known.next:  # a gap filled, or a late copy by a slower path
            if known.missing.pop(seq, None) is not None:
                self._deadlines.cancel(GapDue(origin, seq))
        elif seq - known.next > self._max_missing:  # a leap: more than we could ask for
            if known.leap is not None and 0 < seq - known.leap <= self._max_missing:
                known.next = seq + 1  # borne out by a second message: it really leapt
                known.leap = None
            else:  # one message alone (a forged number?) opens no gaps and moves nothing
                known.leap = seq
        else:
            for skipped in range(max(known.next, seq - self._max_missing), seq):
                known.missing[skipped] = _Gap(now, sender)
                self._deadlines.set(GapDue(origin, skipped), now + self._delay)
            known.next = seq + 1
            while len(known.missing) > self._max_missing:
                oldest = next(iter(known.missing))
                del known.missing[oldest]
                self._deadlines.cancel(GapDue(origin, oldest))
        known.heard = now
        self._origins[origin] = known  # to the end: the least recently heard stay in front
        while len(self._origins) > self._max_origins:
            silent = next(iter(self._origins))
            self._give_up(silent, self._origins.pop(silent))

    def ask(
        self, due: list[tuple[str, int]], neighbours: list[str]
    ) -> dict[str, dict[str, list[int]]]:
        """The gaps whose keys came due, ``(origin, seq)``: neighbour -> origin -> sequence
        numbers to ask it for now (a gap asked for ``tries`` times is given up)."""
        asks: dict[str, dict[str, list[int]]] = {}
        for origin, seq in due:
            known = self._origins.get(origin)
            gap = known.missing.get(seq) if known is not None else None
            if known is None or gap is None:
                continue
            if gap.tries >= self._tries or not neighbours:
                del known.missing[seq]  # given up: it is lost here
                continue
            if gap.tries > 0 or gap.ask not in neighbours:  # someone else this time
                gap.ask = _after(gap.ask, neighbours)
            gap.tries += 1
            self._deadlines.set(GapDue(origin, seq), gap.since + self._delay * (gap.tries + 1))
            asks.setdefault(gap.ask, {}).setdefault(origin, []).append(seq)
        return asks

    def _give_up(self, origin: str, known: _Origin) -> None:
        for seq in known.missing:
            self._deadlines.cancel(GapDue(origin, seq))


def _after(current: str, ring: list[str]) -> str:
    """The member of ``ring`` after ``current`` (the first when it is not in it)."""
    return ring[(ring.index(current) + 1) % len(ring)] if current in ring else ring[0]


class OriginRates:
    """How many messages a second a peer takes from each origin: a token bucket an origin,
    ``rate`` a second, ``rate`` at once at most (a second's worth). An origin past it is
    flooding: an honest one paces itself far below (``Config.max_rate``)."""

    def __init__(self, rate: float, max_origins: int) -> None:
        self._rate = rate
        self._max_origins = max_origins
        self._buckets: dict[str, tuple[float, float]] = {}  # origin -> (tokens, when)

    def take(self, origin: str, now: float) -> bool:
        """One message of ``origin`` at ``now``: False when it is over the rate."""
        bucket = self._buckets.get(origin)
        if bucket is None:
            if len(self._buckets) >= self._max_origins:
                self._buckets.clear()  # bounded; at worst a flooder gets a second burst
            tokens = self._rate
        else:
            tokens = min(self._rate, bucket[0] + (now - bucket[1]) * self._rate)
        if tokens < 1.0:
            self._buckets[origin] = (tokens, now)
            return False
        self._buckets[origin] = (tokens - 1.0, now)
        return True
