"""Neighbour choice: preferential attachment, for a power-law degree distribution (pure).

A peer that needs ``k`` more neighbours picks them from the peers the seeds
listed, without replacement, each with weight ``degree + 1``: a peer that has
many neighbours already is more likely to be picked (Barabasi-Albert), and a
peer with none can still be. Links are symmetric, so growing a network this way
gives the heavy-tailed degree distribution P(k) ~ k^-3.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

P = TypeVar("P", bound=Hashable)


def pick_neighbours(candidates: Mapping[P, int], count: int, rng: random.Random) -> list[P]:
    """Up to ``count`` distinct peers of ``candidates`` (peer -> degree), weighted by degree+1.

    Weighted sampling without replacement by Efraimidis-Spirakis keys: O(n log count).
    """
    keyed = ((rng.random() ** (1.0 / (degree + 1)), peer) for peer, degree in candidates.items())
    return [peer for _, peer in heapq.nlargest(count, keyed, key=lambda pair: pair[0])]


def grow(nodes: int, links: int, rng: random.Random) -> dict[int, set[int]]:
    """The overlay ``nodes`` sequential joins build, each picking ``links`` neighbours.

    The same choice a real peer makes, with exact degrees: for tests and the scale benchmark.
    """
    graph: dict[int, set[int]] = {}
    degrees: dict[int, int] = {}
    for node in range(nodes):
        graph[node] = set()
        for other in pick_neighbours(degrees, links, rng):
            graph[node].add(other)
            graph[other].add(node)
            degrees[other] += 1
        degrees[node] = len(graph[node])
    return graph


def fit_exponent(degrees: Iterable[int], k_min: int = 2) -> float | None:
    """Maximum-likelihood exponent of a discrete power law P(k) ~ k^-a for k >= k_min
    (Clauset, Shalizi & Newman 2009, eq. 3.7: the continuous approximation, shifted);
    None when too few degrees reach ``k_min``."""
    tail = [k for k in degrees if k >= k_min]
    if len(tail) < 2:
        return None
    return 1.0 + len(tail) / sum((math.log(k / (k_min - 0.5)) for k in tail), 0.0)


def edges(links: Mapping[str, Iterable[str] | None]) -> set[tuple[str, str]]:
    """The overlay's undirected edges, each once (smaller id first), as either end reports it."""
    return {
        (min(peer, other), max(peer, other))
        for peer, neighbours in links.items()
        for other in neighbours or ()
    }
