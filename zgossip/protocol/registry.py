"""The seed's peer list (pure: no sockets).

Peers refresh their registration every liveness interval. A peer not heard
from for ``ttl`` seconds comes due at its :class:`SilenceTimeout` key of the seed's
deadlines, once until it is heard from again, so that the seed can suspect it
(see :mod:`zgossip.protocol.agreement`): that is how a seed learns of a death that was
reported only to other seeds, or to no one. The
registry itself never decides a death; it removes a peer only when told to.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from zgossip.protocol.clock import Clock
from zgossip.protocol.deadlines import Schedule
from zgossip.protocol.wire import Member, PeerInfo


@dataclass(frozen=True, slots=True)
class SilenceTimeout:
    """The deadline key of a registration not refreshed for too long."""

    peer: str


class Registry:
    """Live peers with their advertised PUB endpoints and degrees."""

    def __init__(self, deadlines: Schedule[SilenceTimeout], clock: Clock, ttl: float) -> None:
        self._deadlines = deadlines
        self._clock = clock
        self._ttl = ttl
        self._peers: dict[str, PeerInfo] = {}  # as listed: built once, sent many times
        self._order: list[str] = []  # the peers, in no order: to sample from in O(k)
        self._index: dict[str, int] = {}  # peer -> its place in _order
        self._claims: dict[str, frozenset[str]] = {}  # peer -> the links it says it has
        self._tags: dict[str, tuple[tuple[str, str], ...]] = {}  # peer -> what it says of it
        #: peer -> its run, and the routing id of its DEALER on our ROUTER: to tell it, and
        #: others, of a death or a leave (a member fact names the run it ends)
        self._runs: dict[str, tuple[int, bytes]] = {}

    def __contains__(self, peer: str) -> bool:
        return peer in self._peers

    def __len__(self) -> int:
        return len(self._peers)

    def register(
        self,
        peer: str,
        pub: str,
        neighbours: tuple[str, ...],
        tags: tuple[tuple[str, str], ...] = (),
        run: int = 0,
        route: bytes = b"",
    ) -> bool:
        """Add or refresh ``peer``, which names ``neighbours`` as its links and says ``tags``
        of itself, of its ``run``, over ``route``; True when it is new to the list. Its
        degree is the links that both ends name here: a link's other end registered with
        this seed too confirms it (a claim alone buys nothing)."""
        self.touch(peer)
        self._claims[peer] = frozenset(neighbours) - {peer}
        if tags:
            self._tags[peer] = tags
        else:
            self._tags.pop(peer, None)
        self._runs[peer] = (run, route)
        degree = self._confirmed(peer)
        info = self._peers.get(peer)
        if info is None:
            self._peers[peer] = PeerInfo(peer, pub, degree, self._clock.time())
            self._index[peer] = len(self._order)
            self._order.append(peer)
            return True
        if info.pub != pub or info.degree != degree:
            self._peers[peer] = PeerInfo(peer, pub, degree, info.since)
        return False

    def _confirmed(self, peer: str) -> int:
        claims = self._claims
        return sum(1 for other in claims[peer] if peer in claims.get(other, ()))

    def touch(self, peer: str) -> None:
        """``peer`` showed life: its silence starts again from now."""
        self._deadlines.set(SilenceTimeout(peer), self._clock.monotonic() + self._ttl)

    def remove(self, peer: str) -> bool:
        """Drop ``peer``; True when it was listed."""
        self._deadlines.cancel(SilenceTimeout(peer))
        self._claims.pop(peer, None)
        self._tags.pop(peer, None)
        self._runs.pop(peer, None)
        if self._peers.pop(peer, None) is None:
            return False
        place, last = self._index.pop(peer), self._order.pop()
        if last != peer:  # the last one fills the hole
            self._order[place] = last
            self._index[last] = place
        return True

    def snapshot(self) -> tuple[PeerInfo, ...]:
        return tuple(self._peers.values())

    def tags(self, peer: str) -> tuple[tuple[str, str], ...]:
        """What ``peer`` says of itself, as it last registered."""
        return self._tags.get(peer, ())

    def run(self, peer: str) -> tuple[int, bytes] | None:
        """``peer``'s run and routing id, as it last registered (None: not listed)."""
        return self._runs.get(peer)

    def page(self, offset: int, size: int) -> tuple[PeerInfo, ...]:
        """Up to ``size`` peers from place ``offset`` in the list (in registration order)."""
        return tuple(itertools.islice(self._peers.values(), offset, offset + size))

    def sample(self, size: int, rng: random.Random, *, without: str) -> tuple[PeerInfo, ...]:
        """Up to ``size`` peers other than ``without``, drawn uniformly (all when there are
        no more): a seed's answer to a registration, bounded however large the network.

        Uniform on purpose: the peer weighs what it gets by degree+1 when it picks its
        neighbours, and a sample weighted here too would square that preference.
        """
        order, peers = self._order, self._peers
        if len(order) <= size + 1:
            return tuple(peers[p] for p in order if p != without)
        # distinct, in the order drawn: ``size`` draws at once (the same stream as one at a
        # time), then one at a time for what repeats (a few: size is far below count)
        chosen = dict.fromkeys(rng.choices(order, k=size))
        chosen.pop(without, None)
        draw, count = rng.random, len(order)
        while len(chosen) < size:
            peer = order[int(draw() * count)]
            if peer != without:
                chosen[peer] = None
        return tuple(map(peers.__getitem__, chosen))


class Departed:
    """The peers a seed removed and why (``dead``, ``left``, ``revoked``): the last
    ``limit`` of them, each for ``keep`` seconds, for ``zgossip members`` to show."""

    def __init__(self, clock: Clock, *, limit: int, keep: float) -> None:
        self._clock = clock
        self._limit = limit
        self._keep = keep
        self._peers: dict[str, Member] = {}  # oldest first

    def add(self, peer: str, state: str) -> None:
        self._peers.pop(peer, None)
        self._peers[peer] = Member(peer, state, self._clock.time())
        if len(self._peers) > self._limit:
            del self._peers[next(iter(self._peers))]

    def discard(self, peer: str) -> None:
        """``peer`` is back (it registered again)."""
        self._peers.pop(peer, None)

    def members(self) -> list[Member]:
        """Those removed within ``keep`` seconds; the older are forgotten."""
        cutoff = self._clock.time() - self._keep
        while self._peers and next(iter(self._peers.values())).since < cutoff:
            del self._peers[next(iter(self._peers))]
        return list(self._peers.values())
