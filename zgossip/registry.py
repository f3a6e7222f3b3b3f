"""The seed's peer list (pure: no sockets).

Peers refresh their registration every liveness interval. A peer not heard
from for ``ttl`` seconds is reported by :meth:`Registry.silent`, once, so that
the seed can suspect it (see :mod:`zgossip.agreement`): that is how a seed
learns of a death that was reported only to other seeds, or to no one. The
registry itself never decides a death; it removes a peer only when told to.
"""

from __future__ import annotations

from dataclasses import dataclass

from zgossip.clock import Clock
from zgossip.wire import PeerInfo


@dataclass(slots=True)
class _Record:
    pub: str
    degree: int
    since: float


class Registry:
    """Live peers with their advertised PUB endpoints and degrees."""

    def __init__(self, clock: Clock, ttl: float) -> None:
        self._clock = clock
        self._ttl = ttl
        self._peers: dict[str, _Record] = {}
        self._seen: dict[str, float] = {}  # peer -> last heard (monotonic), oldest first

    def __contains__(self, peer: str) -> bool:
        return peer in self._peers

    def __len__(self) -> int:
        return len(self._peers)

    def register(self, peer: str, pub: str, degree: int) -> bool:
        """Add or refresh ``peer``; True when it is new to the list."""
        self.touch(peer)
        record = self._peers.get(peer)
        if record is None:
            self._peers[peer] = _Record(pub, degree, self._clock.time())
            return True
        record.pub, record.degree = pub, degree
        return False

    def touch(self, peer: str) -> None:
        """``peer`` showed life: its silence starts again from now."""
        self._seen.pop(peer, None)
        self._seen[peer] = self._clock.monotonic()

    def remove(self, peer: str) -> bool:
        """Drop ``peer``; True when it was listed."""
        self._seen.pop(peer, None)
        return self._peers.pop(peer, None) is not None

    def snapshot(self) -> tuple[PeerInfo, ...]:
        return tuple(PeerInfo(p, r.pub, r.degree, r.since) for p, r in self._peers.items())

    def silent(self) -> list[str]:
        """The listed peers not heard from for ``ttl``, each reported once until touched."""
        now = self._clock.monotonic()
        silent = []
        while self._seen and next(iter(self._seen.values())) + self._ttl <= now:
            silent.append(next(iter(self._seen)))
            del self._seen[silent[-1]]
        return silent

    def next_deadline(self) -> float | None:
        if not self._seen:
            return None
        return next(iter(self._seen.values())) + self._ttl
