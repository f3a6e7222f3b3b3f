"""Item 5: the pure parts at scale, in one process on a fake clock, no sockets.

The overlay is what ``zgossip.overlay.grow`` builds: N sequential joins, each picking
its neighbours by preferential attachment exactly as a peer does. Gossip runs in
synchronous rounds (one round = one hop, the fake clock advancing one interval per
round): each peer with a new message hands the very same frame to every neighbour, and
each neighbour's own ``MessageList`` decides first receipt or duplicate, by the id
``message_id`` takes, as a peer does. Rounds until every peer has it, for a few origins.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from zgossip.clock import FakeClock
from zgossip.gossip import MessageList, message_id
from zgossip.overlay import grow


@dataclass(frozen=True, slots=True)
class SimFigures:
    nodes: int
    rounds: list[int]  # rounds until 100% coverage, one per message
    coverage: float  # worst fraction of nodes reached
    duplicates_per_delivery: float
    exponent: float  # fitted power-law exponent of the degree distribution
    max_degree: int
    seconds: float  # wall time of the whole simulation


def fit_exponent(degrees: list[int], k_min: int) -> float:
    """Maximum-likelihood exponent of a discrete power law P(k) ~ k^-a for k >= k_min
    (Clauset, Shalizi & Newman 2009, eq. 3.7: the continuous approximation, shifted)."""
    tail = [k for k in degrees if k >= k_min]
    return 1.0 + len(tail) / sum(math.log(k / (k_min - 0.5)) for k in tail)


def _spread(graph: dict[int, set[int]], origin: int, lists: list[MessageList],
            clock: FakeClock, seq: int) -> tuple[int, int, int]:  # fmt: skip
    """Flood message ``seq`` from ``origin``; returns rounds, nodes reached, copies received."""
    frame = f"sim:{seq}".encode()
    msg_id = message_id(frame)
    lists[origin].record(msg_id, "self", frame, str(origin), seq)
    frontier, reached, copies, rounds = [origin], 1, 0, 0
    while frontier:
        clock.advance(1.0)
        fresh = []
        for node in frontier:
            for other in graph[node]:
                copies += 1
                if msg_id not in lists[other]:
                    lists[other].record(msg_id, str(node), frame, str(origin), seq)
                    fresh.append(other)
        reached += len(fresh)
        frontier = fresh
        rounds += len(fresh) > 0
    return rounds, reached, copies


def measure(nodes: int, messages: int, seed: int = 1) -> SimFigures:
    """Grow a ``nodes`` overlay and flood ``messages`` from random origins."""
    start = time.perf_counter()
    rng = random.Random(seed)
    graph = grow(nodes, 2, rng)
    clock = FakeClock()
    lists = [
        MessageList(clock, max_entries=messages, max_age=600.0, history=1) for _ in range(nodes)
    ]
    rounds, worst, copies = [], 1.0, 0
    for seq in range(messages):
        r, reached, c = _spread(graph, rng.randrange(nodes), lists, clock, seq)
        rounds.append(r)
        worst = min(worst, reached / nodes)
        copies += c
    degrees = [len(neighbours) for neighbours in graph.values()]
    deliveries = messages * (nodes - 1)
    return SimFigures(
        nodes=nodes,
        rounds=rounds,
        coverage=worst,
        duplicates_per_delivery=(copies - deliveries) / deliveries,
        exponent=fit_exponent(degrees, 2),
        max_degree=max(degrees),
        seconds=time.perf_counter() - start,
    )
