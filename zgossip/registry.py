"""The seed's peer list, and how it weighs dead-node reports (pure: no sockets).

A report does not remove a peer by itself: the seed first probes the suspect
once, and removes it only when the probe goes unanswered for ``probe_timeout``.
A forged or mistaken report about a live peer is thus refuted instead of
silently cutting that peer off from every newcomer.

Peers refresh their registration every liveness interval. A peer not heard
from for ``ttl`` seconds is dead too: that is how a seed learns of a death that
was reported only to other seeds (a peer reports to the seeds it registered
with, which need not be the dead peer's).
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


@dataclass(frozen=True, slots=True)
class Suspect:
    """A peer reported dead and being probed; ``reporter`` is the first report's."""

    peer: str
    reporter: str
    ts: float


class Registry:
    """Live peers with their advertised PUB endpoints and degrees."""

    def __init__(self, clock: Clock, probe_timeout: float, ttl: float) -> None:
        self._clock = clock
        self._probe_timeout = probe_timeout
        self._ttl = ttl
        self._peers: dict[str, _Record] = {}
        self._seen: dict[str, float] = {}  # peer -> last heard (monotonic), oldest first
        self._probes: dict[str, tuple[float, Suspect]] = {}  # peer -> (deadline, suspect)

    def __contains__(self, peer: str) -> bool:
        return peer in self._peers

    def __len__(self) -> int:
        return len(self._peers)

    def register(self, peer: str, pub: str, degree: int) -> bool:
        """Add or refresh ``peer``; True when it is new to the list."""
        self._seen.pop(peer, None)
        self._seen[peer] = self._clock.monotonic()
        record = self._peers.get(peer)
        if record is None:
            self._peers[peer] = _Record(pub, degree, self._clock.time())
            return True
        record.pub, record.degree = pub, degree
        return False

    def remove(self, peer: str) -> bool:
        """Drop ``peer`` (it left); True when it was listed."""
        self._probes.pop(peer, None)
        self._seen.pop(peer, None)
        return self._peers.pop(peer, None) is not None

    def snapshot(self) -> tuple[PeerInfo, ...]:
        return tuple(PeerInfo(p, r.pub, r.degree, r.since) for p, r in self._peers.items())

    def report(self, dead: str, reporter: str, ts: float) -> str | None:
        """Weigh a dead-node report. None: probe ``dead`` now. Otherwise why it is ignored."""
        if dead == reporter:
            return "a peer cannot report itself"
        if reporter not in self._peers:
            return f"reporter {reporter} is not registered here"
        if dead not in self._peers:
            return f"{dead} is not registered here"
        if dead in self._probes:
            return f"{dead} is already being probed"
        deadline = self._clock.monotonic() + self._probe_timeout
        self._probes[dead] = (deadline, Suspect(dead, reporter, ts))
        return None

    def answered(self, peer: str) -> Suspect | None:
        """``peer`` answered its probe: the report is refuted. The suspect, if one was open."""
        entry = self._probes.pop(peer, None)
        return entry[1] if entry else None

    def expire(self) -> tuple[list[Suspect], list[str]]:
        """Remove and return the suspects whose probes went unanswered, and the peers
        that stopped refreshing their registration."""
        now = self._clock.monotonic()
        gone = [suspect for deadline, suspect in self._probes.values() if deadline <= now]
        for suspect in gone:
            self.remove(suspect.peer)
        silent = []
        while self._seen and next(iter(self._seen.values())) + self._ttl <= now:
            silent.append(next(iter(self._seen)))
            self.remove(silent[-1])
        return gone, silent

    def next_deadline(self) -> float | None:
        deadlines = [deadline for deadline, _ in self._probes.values()]
        if self._seen:
            deadlines.append(next(iter(self._seen.values())) + self._ttl)
        return min(deadlines, default=None)
