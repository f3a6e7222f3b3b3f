"""The queries a peer runs (pure: no sockets): whom each asked, who answered, who is gone.

A peer asked to query (by a client, ``zgossip query --via``, or by its program,
``Peer.query``) picks the members of its list that are alive and whose tags match, asks
each directly, and passes each answer on as it comes. The query ends as soon as every
member asked has answered or is known gone (dead or left, as the member list says), or at
its timeout: then it names the ones that never answered. No query waits out its timeout
when every answer is in (Serf's queries always did: serf#509).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zgossip.protocol.clock import Clock
from zgossip.protocol.deadlines import Schedule


@dataclass(frozen=True, slots=True)
class QueryTimeout:
    """The deadline key of a running query."""

    id: int


@dataclass(slots=True)
class Running:
    """One query under way."""

    id: int
    name: str
    client: bytes | None  # the asking client's route on our ROUTER; None: our own program
    asked: tuple[str, ...]  # the members asked, in order
    opened: tuple[str, ...]  # those asked over a DEALER opened for this query alone
    started: float  # monotonic
    waiting: dict[str, None] = field(default_factory=dict)  # asked, not answered, not gone
    gone: list[str] = field(default_factory=list)  # died or left before answering

    @property
    def done(self) -> bool:
        return not self.waiting


class Queries:
    """The queries under way, at most ``limit`` at once."""

    def __init__(self, deadlines: Schedule[QueryTimeout], clock: Clock, limit: int) -> None:
        self._deadlines = deadlines
        self._clock = clock
        self.limit = limit
        self._running: dict[int, Running] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._running)

    def start(
        self,
        name: str,
        client: bytes | None,
        asked: list[str],
        opened: list[str],
        timeout: float,
    ) -> Running:
        """A new query, asking ``asked``; it times out ``timeout`` seconds from now."""
        self._next += 1
        now = self._clock.monotonic()
        running = Running(self._next, name, client, tuple(asked), tuple(opened), now)
        running.waiting = dict.fromkeys(asked)
        self._running[running.id] = running
        self._deadlines.set(QueryTimeout(running.id), now + timeout)
        return running

    def answered(self, peer: str, query: int) -> Running | None:
        """``peer`` answered ``query``: the query, if it was waiting for that (a second
        answer, or one never asked for, is None)."""
        running = self._running.get(query)
        if running is None or peer not in running.waiting:
            return None
        del running.waiting[peer]
        return running

    def gone(self, peer: str) -> list[Running]:
        """``peer`` died or left: the queries that were waiting for it."""
        waited = [r for r in self._running.values() if peer in r.waiting]
        for running in waited:
            del running.waiting[peer]
            running.gone.append(peer)
        return waited

    def holds(self, peer: str) -> bool:
        """Whether a query under way asks ``peer`` over a DEALER of its own."""
        return any(peer in running.opened for running in self._running.values())

    def end(self, query: int) -> Running | None:
        """Take ``query`` off the list (done, or timed out); None if it was not on it."""
        self._deadlines.cancel(QueryTimeout(query))
        return self._running.pop(query, None)
