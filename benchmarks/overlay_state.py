"""What a network's JSON event logs say about it, folded in as the events arrive.

The benchmark waits on conditions over thousands of events; re-reading them all at each
new one would make the wait quadratic, so :class:`NetState` keeps a cursor into the
event list and folds in only what is new.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: Events after which a peer no longer counts a neighbour as linked.
_UNLINKED = frozenset({"neighbour.dead", "neighbour.left", "neighbour.lost", "link.failed"})


@dataclass(slots=True)
class Receipt:
    ts: float
    sender: str


@dataclass(slots=True)
class NetState:
    """Links, sent messages and their receipts, from a growing list of events."""

    links: dict[str, set[str]] = field(default_factory=dict)  # peer -> neighbours it has up
    sent: dict[str, tuple[str, float, str]] = field(default_factory=dict)  # id -> node, ts, body
    receipts: dict[str, dict[str, Receipt]] = field(default_factory=dict)  # id -> node -> first
    # node -> its gossip.copies events: (ts, received, duplicates), counted since it started
    copies: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    other: list[dict[str, Any]] = field(default_factory=list)  # everything else, in order
    _cursor: int = 0

    def fold(self, events: list[dict[str, Any]]) -> None:
        """Take in the events past the cursor (call it holding the events' lock)."""
        for event in events[self._cursor :]:
            self._take(event)
        self._cursor = len(events)

    def _take(self, event: dict[str, Any]) -> None:
        name, node = event["event"], event["node"]
        if name == "gossip.received":
            self.receipts.setdefault(event["id"], {})[node] = Receipt(event["ts"], event["from"])
        elif name == "gossip.sent":
            self.sent[event["id"]] = (node, event["ts"], event["body"])
        elif name == "gossip.copies":
            counted = (event["ts"], event["received"], event["duplicates"])
            self.copies.setdefault(node, []).append(counted)
        else:
            if name == "neighbour.added":
                self.links.setdefault(node, set()).add(event["neighbour"])
            elif name in _UNLINKED:
                self.links.get(node, set()).discard(event["neighbour"])
            self.other.append(event)

    def graph(self, peers: set[str]) -> dict[str, set[str]]:
        """The overlay among ``peers``: edges both ends count as up."""
        return {
            p: {q for q in self.links.get(p, ()) if q in peers and p in self.links.get(q, ())}
            for p in peers
        }

    def linked(self, peers: set[str]) -> bool:
        """Every peer has a neighbour, every link is up at both ends, and all are connected."""
        graph = self.graph(peers)
        if any(not graph[p] or len(graph[p]) != len(self.links.get(p, ())) for p in peers):
            return False
        return len(distances(graph, next(iter(peers)))) == len(peers)

    def counted(self, peer: str, after: float = 0.0) -> tuple[int, int] | None:
        """``peer``'s (received, duplicates) as its last gossip.copies said, if it said them
        after ``after``; None when not."""
        said = self.copies.get(peer)
        if not said or said[-1][0] <= after:
            return None
        return said[-1][1:]

    def time_to_all(self, msg_id: str, peers: set[str]) -> float | None:
        """Seconds from ``msg_id``'s sending to its last receipt among ``peers``; None while
        some of them lack it."""
        if self.missing(msg_id, peers):
            return None
        sent = self.sent[msg_id][1]
        receipts = self.receipts.get(msg_id, {})
        return max((r.ts for p, r in receipts.items() if p in peers), default=sent) - sent

    def missing(self, msg_id: str, peers: set[str]) -> set[str]:
        """The peers besides the origin that have not received ``msg_id``."""
        origin = self.sent[msg_id][0]
        return peers - {origin} - set(self.receipts.get(msg_id, {}))


def distances(graph: dict[str, set[str]], start: str) -> dict[str, int]:
    """Hops from ``start`` to every node it reaches (breadth first)."""
    found = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for other in graph[node]:
            if other not in found:
                found[other] = found[node] + 1
                queue.append(other)
    return found


def diameter(graph: dict[str, set[str]]) -> int:
    """The longest shortest path of a connected graph."""
    return max(max(distances(graph, node).values()) for node in graph)


def hops(receipts: dict[str, Receipt], origin: str) -> dict[str, int]:
    """Hop count of each receipt, from the chain of ``from`` fields back to the origin."""
    found: dict[str, int] = {origin: 0}

    def hop(node: str) -> int:
        chain = []
        while node not in found:  # iterative: a chain is as long as the overlay is deep
            chain.append(node)
            node = receipts[node].sender
        for link in reversed(chain):
            found[link] = found[node] + 1
            node = link
        return found[chain[0]] if chain else found[node]

    for node in receipts:
        try:
            hop(node)
        except KeyError:  # a sender whose own receipt is not logged: hop count unknown
            continue
    return {node: found[node] for node in receipts if node in found}
