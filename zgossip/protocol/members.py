"""Every peer's member list (pure: no sockets): what became of each peer of the network.

A peer's list holds one :class:`wire.Fact` a peer: its run, the run's version, its state
(alive, suspect, dead, left), since when, and its tags. Facts travel in any order and
any number of times; the newer one wins everywhere, by :func:`precedence`:

- a run is a peer's start (ns): a later run is newer than anything of an earlier one;
- within a run, its end (dead or left) is newer than any version of it: nothing said
  before the end brings the peer back, however late it comes;
- before the end, a higher version is newer (the peer raises it with each change of its
  own: tags); at one version, suspect is newer than alive, left newer than dead.

So no clock is shared, and two lists that took the same facts hold the same, whatever the
order. Each peer writes its own facts (alive, tags, left), the seeds write deaths. A peer
that hears itself called dead or suspect refutes it: a new run past the dead one, or a
version past the suspect one.

Lists are compared by sums (:meth:`Members.sums`): the peers fall into
``wire.SUM_BUCKETS`` buckets by name, a bucket's sum is the XOR of its facts' hashes, and
two lists send each other the facts of the buckets whose sums differ.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase

from zgossip.protocol import wire

_RANK = {state: rank for rank, state in enumerate(wire.FACT_STATES)}
ENDED = frozenset(("dead", "left"))
#: Sets of tags a list shares among the members that say the same (each kept once).
SHARED_TAGS = 256
#: Bytes a fact takes on the wire beside its peer and tags (msgpack, generously).
FACT_BYTES = 48


def precedence(fact: wire.Fact) -> tuple[int, int, int, int]:
    """What orders two facts of one peer: the larger is newer."""
    if fact.state in ENDED:
        return (fact.run, 1, 0, _RANK[fact.state])
    return (fact.run, 0, fact.ver, _RANK[fact.state])


def bucket(peer: str) -> int:
    """The sums' bucket of ``peer``: the same at every peer."""
    return zlib.crc32(peer.encode()) % wire.SUM_BUCKETS


def fact_hash(fact: wire.Fact) -> int:
    """A fact's hash for the sums (since and tags go with run and version: not hashed)."""
    text = f"{fact.peer} {fact.run} {fact.ver} {fact.state}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def fact_size(fact: wire.Fact) -> int:
    """About the bytes ``fact`` takes in a frame."""
    return FACT_BYTES + len(fact.peer) + sum(len(k) + len(v) for k, v in fact.tags)


def matches(tags: tuple[tuple[str, str], ...], wanted: tuple[tuple[str, str], ...]) -> bool:
    """Whether a peer's ``tags`` have every key of ``wanted``, with a value that matches
    its pattern (``*``, ``?``, ``[...]`` as in file names; a plain value: itself)."""
    held = dict(tags)
    return all(key in held and fnmatchcase(held[key], pattern) for key, pattern in wanted)


@dataclass(frozen=True, slots=True)
class Change:
    """A fact that changed the list. ``news``: what it is to a program that reads the list
    (``joined``, ``updated``, ``left``, ``failed``), or "" (the end of a peer the list
    never held alive: kept, and passed on, but no news)."""

    fact: wire.Fact
    news: str


class Members:
    """One peer's member list, itself included (:attr:`own`), at most ``limit`` peers;
    the dead and departed are kept ``keep`` seconds after their end (so that an old fact
    of theirs cannot bring them back), then forgotten."""

    def __init__(
        self,
        me: str,
        *,
        run: int,
        since: float,
        tags: tuple[tuple[str, str], ...],
        limit: int,
        keep: float,
    ) -> None:
        self.me = me
        self._limit = limit
        self._keep = keep
        #: bucket -> peer -> its fact: a sums answer reads only the buckets that differ
        #: (each made when first needed: a list of one costs a few hundred bytes, not 20 KB)
        self._buckets: dict[int, dict[str, wire.Fact]] = {}
        self._sums: dict[int, int] = {}  # bucket -> its facts' hashes XORed (absent: 0)
        self._packed: bytes | None = None  # the sums as sent, until the list next changes
        self._ended: dict[str, float] = {}  # the dead and departed -> when (Unix), oldest first
        #: tags -> the one tuple of them the list keeps: members often say the same
        self._shared: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
        self._count = 0
        self.refused = 0  # new peers turned away: the list was full of live ones
        self.own = wire.Fact(me, run, 0, "alive", since, tags)
        self._put(self.own, None)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[wire.Fact]:
        for facts in self._buckets.values():
            yield from facts.values()

    def get(self, peer: str) -> wire.Fact | None:
        facts = self._buckets.get(bucket(peer))
        return None if facts is None else facts.get(peer)

    # -- our own facts -----------------------------------------------------------

    def set_tags(self, tags: tuple[tuple[str, str], ...]) -> wire.Fact:
        """Our tags changed: our next version, to pass on."""
        own = self.own
        return self._mine(wire.Fact(own.peer, own.run, own.ver + 1, own.state, own.since, tags))

    def leave(self, now: float) -> wire.Fact:
        """We are leaving (``now``: Unix time): our run's end, to pass on."""
        own = self.own
        return self._mine(wire.Fact(own.peer, own.run, own.ver, "left", now, ()))

    def _mine(self, fact: wire.Fact) -> wire.Fact:
        self._put(fact, self.own)
        self.own = fact
        return fact

    # -- others' facts -----------------------------------------------------------

    def merge(self, fact: wire.Fact, now: float) -> Change | None:
        """Take ``fact`` (``now``: Unix time) if it is newer than what the list holds; the
        change, or None. A fact about ourselves that is newer than ours is refuted: the
        change is then our own new fact, news "", to pass on."""
        if fact.peer == self.me:
            return self._refute(fact, now)
        ended = fact.state in ENDED
        if ended and fact.since < now - self._keep:
            return None  # an end older than we keep ends: forgotten already, or soon
        b = bucket(fact.peer)
        facts = self._buckets.get(b)
        old = None if facts is None else facts.get(fact.peer)
        if old is not None and precedence(fact) <= precedence(old):
            return None
        if old is None and self._count >= self._limit and not self._make_room():
            self.refused += 1
            return None
        self._put(fact, old, b)
        if not ended:
            was_alive = old is not None and old.state not in ENDED
            return Change(fact, "updated" if was_alive else "joined")
        if old is None or old.state in ENDED:
            return Change(fact, "")  # the end of one we never held alive
        return Change(fact, "left" if fact.state == "left" else "failed")

    def _refute(self, fact: wire.Fact, now: float) -> Change | None:
        own = self.own
        if own.state in ENDED or fact == own or precedence(fact) < precedence(own):
            return None
        if fact.state in ENDED:  # called dead (or left): live on as a new run
            run = max(int(now * 1e9), fact.run + 1)
            refuted = wire.Fact(own.peer, run, 0, "alive", now, own.tags)
        else:  # called suspect, or an alive of ours we never said: a version past it
            refuted = wire.Fact(own.peer, fact.run, fact.ver + 1, "alive", own.since, own.tags)
        return Change(self._mine(refuted), "")

    # -- sums --------------------------------------------------------------------

    def sums(self) -> bytes:
        """Each bucket's sum, 8 bytes each (``wire.Sums.sums``)."""
        if self._packed is None:
            sums = self._sums
            buckets = range(wire.SUM_BUCKETS)
            self._packed = b"".join(sums.get(b, 0).to_bytes(8, "big") for b in buckets)
        return self._packed

    def differing(self, sums: bytes) -> list[int]:
        """The buckets whose sums differ from ``sums`` (a neighbour's)."""
        ours = self.sums()
        if ours == sums:  # the common case, at rest
            return []
        return [
            b for b in range(wire.SUM_BUCKETS) if ours[8 * b : 8 * b + 8] != sums[8 * b : 8 * b + 8]
        ]

    def facts_in(self, buckets: list[int], max_bytes: int) -> tuple[list[wire.Fact], list[int]]:
        """The facts of ``buckets``, up to about ``max_bytes``; and the buckets whose facts
        are all in (fewer than ``buckets`` when some did not fit)."""
        facts: list[wire.Fact] = []
        size = 0
        for k, b in enumerate(buckets):
            for fact in self._buckets.get(b, {}).values():
                size += fact_size(fact)
                if size > max_bytes:
                    return facts, buckets[:k]
                facts.append(fact)
        return facts, buckets

    # -- bounds ------------------------------------------------------------------

    def expire(self, now: float) -> None:
        """Forget the dead and departed whose end is older than ``keep`` (``now``: Unix)."""
        cutoff = now - self._keep
        ended = self._ended
        while ended:
            peer, when = next(iter(ended.items()))
            if when >= cutoff:
                break
            self._remove(peer)

    def _make_room(self) -> bool:
        """Forget the oldest end to make room for a new peer; False when there is none."""
        if not self._ended:
            return False
        self._remove(next(iter(self._ended)))
        return True

    def _put(self, fact: wire.Fact, old: wire.Fact | None, b: int | None = None) -> None:
        """``fact`` in place of ``old`` (None: a new peer), in its bucket ``b``."""
        if fact.tags:
            shared = self._shared.setdefault(fact.tags, fact.tags)
            if shared is not fact.tags:
                fact = wire.Fact(fact.peer, fact.run, fact.ver, fact.state, fact.since, shared)
            if len(self._shared) > SHARED_TAGS:  # bounded: what is kept stays shared
                self._shared.clear()
        if b is None:
            b = bucket(fact.peer)
        sums = self._sums
        self._packed = None
        if old is None:
            self._count += 1
            self._buckets.setdefault(b, {})[fact.peer] = fact
            sums[b] = sums.get(b, 0) ^ fact_hash(fact)
        else:
            self._ended.pop(fact.peer, None)
            self._buckets[b][fact.peer] = fact
            sums[b] ^= fact_hash(old) ^ fact_hash(fact)
        if fact.state in ENDED:
            self._ended[fact.peer] = fact.since

    def _remove(self, peer: str) -> None:
        b = bucket(peer)
        fact = self._buckets[b].pop(peer)
        self._sums[b] ^= fact_hash(fact)  # (an emptied bucket stays: it may fill again)
        self._packed = None
        self._ended.pop(peer, None)
        self._count -= 1
