"""Looking at a running network from outside: seeds' peer lists and peers' links.

What ``zgossip peers`` shows: :func:`query_peers` asks every seed for its list,
:func:`query_links` asks peers whom they link to, :func:`to_dot` writes the
overlay for Graphviz. Each query goes to every node at once and waits for all
answers together, so a survey of many nodes takes one timeout at most. In a
CURVE network each query is a CURVE client with the caller's keys (``curve``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import TypeVar

import zmq

from zgossip import wire
from zgossip.overlay import edges
from zgossip.security import Curve

M = TypeVar("M", bound=wire.Message)


def _ask(
    requests: Mapping[str, wire.Message],
    answer: type[M],
    timeout: float,
    curve: Curve | None,
) -> dict[str, M | None]:
    """Send each node's request to its ROUTER; its ``answer``, or None when none came in time
    (or, with ``curve``, when the allow directory has no certificate for that node)."""
    answers: dict[str, M | None] = {}
    with zmq.Context() as ctx:
        poller = zmq.Poller()
        dealers: dict[zmq.Socket[bytes], str] = {}
        for address, request in requests.items():
            frame = wire.encode(request)
            answers[address] = None
            dealer = ctx.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.setsockopt(zmq.MAXMSGSIZE, wire.MAX_FRAME)
            if curve is not None and not curve.client(dealer, address):
                dealer.close()
                continue
            dealer.connect(f"tcp://{address}")
            dealer.send(frame)
            poller.register(dealer, zmq.POLLIN)
            dealers[dealer] = address
        deadline = time.monotonic() + timeout
        while poller.sockets and (left := deadline - time.monotonic()) > 0:
            for dealer, _ in poller.poll(math.ceil(left * 1000)):
                poller.unregister(dealer)
                try:
                    message = wire.decode(dealer.recv())
                except wire.WireError:
                    continue
                if isinstance(message, answer):
                    answers[dealers[dealer]] = message
        for dealer in dealers:
            dealer.close()
    return answers


def query_peers(
    seeds: list[str], timeout: float, curve: Curve | None = None
) -> dict[str, tuple[wire.PeerInfo, ...] | None]:
    """Ask every seed for its whole peer list, page by page (all seeds at once); None for a
    seed that did not answer a page in ``timeout``. A peer that registers or leaves while
    the pages come may be missed; none is listed twice."""
    lists: dict[str, dict[str, wire.PeerInfo] | None] = {seed: {} for seed in seeds}
    offsets = dict.fromkeys(seeds, 0)
    while offsets:
        requests = {seed: wire.Page(offset) for seed, offset in offsets.items()}
        answers = _ask(requests, wire.Listing, timeout, curve)
        offsets = {}
        for seed, listing in answers.items():
            listed = lists[seed]
            if listing is None or listed is None:
                lists[seed] = None
                continue
            listed.update((info.id, info) for info in listing.peers)
            more = listing.offset + len(listing.peers)
            if listing.peers and more < listing.total:
                offsets[seed] = more
    return {seed: None if got is None else tuple(got.values()) for seed, got in lists.items()}


def query_links(
    peers: Iterable[str], timeout: float, curve: Curve | None = None
) -> dict[str, tuple[str, ...] | None]:
    """Ask every peer whom it links to; None for a peer that did not answer in ``timeout``."""
    answers = _ask(dict.fromkeys(peers, wire.Neighbours()), wire.Links, timeout, curve)
    return {peer: None if a is None else a.neighbours for peer, a in answers.items()}


def to_dot(links: Mapping[str, Iterable[str] | None]) -> str:
    """The overlay as a Graphviz graph; a peer's label carries its degree."""
    pairs = edges(links)
    degree = dict.fromkeys(links, 0)
    for a, b in pairs:
        degree[a] = degree.get(a, 0) + 1
        degree[b] = degree.get(b, 0) + 1
    lines = ["graph zgossip {", "  node [shape=ellipse];"]
    lines += [f'  "{peer}" [label="{peer}\\n{d}"];' for peer, d in sorted(degree.items())]
    lines += [f'  "{a}" -- "{b}";' for a, b in sorted(pairs)]
    lines.append("}")
    return "\n".join(lines) + "\n"
