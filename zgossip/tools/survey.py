"""Looking at a running network from outside: seeds' peer lists and peers' links, a
node's events as they happen, and a message for a peer to gossip.

What ``zgossip peers`` shows: :func:`query_peers` asks every seed for its list,
:func:`query_links` asks peers whom they link to, :func:`to_dot` writes the
overlay for Graphviz. Each query goes to every node at once and waits for all
answers together, so a survey of many nodes takes one timeout at most. In a
CURVE network each query is a CURVE client with the caller's keys (``curve``).
:func:`follow` is ``zgossip monitor``, :func:`say` is ``zgossip send --via``,
:func:`query` is ``zgossip query --via``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import zmq

from zgossip.protocol import wire
from zgossip.protocol.overlay import edges
from zgossip.security import Curve

M = TypeVar("M", bound=wire.Message)


def _ask(
    requests: Mapping[str, wire.Message],
    answer: type[M] | tuple[type[M], ...],
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
            dealer = _dealer(ctx, address, curve)
            if dealer is None:
                continue
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


def _dealer(
    ctx: zmq.Context[zmq.Socket[bytes]], address: str, curve: Curve | None
) -> zmq.Socket[bytes] | None:
    """A DEALER connected to ``address``'s ROUTER; None when ``curve`` has no key for it."""
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.MAXMSGSIZE, wire.MAX_FRAME)
    if curve is not None and not curve.client(dealer, address):
        dealer.close()
        return None
    dealer.connect(f"tcp://{address}")
    return dealer


class NoAnswer(Exception):
    """A node did not answer (or refused); the message is one line for the user."""


def say(address: str, body: str | bytes, timeout: float, curve: Curve | None = None) -> str:
    """Ask the peer at ``address`` to gossip ``body`` as its own; the message's id once it
    did. Raises NoAnswer when it refused, or did not answer within ``timeout``."""
    return _granted(address, wire.Say(body), wire.Said, timeout, curve).id


def tag(
    address: str,
    given: tuple[tuple[str, str], ...],
    drop: tuple[str, ...],
    timeout: float,
    curve: Curve | None = None,
) -> tuple[tuple[str, str], ...]:
    """Ask the peer at ``address`` to set ``given`` tags and drop the keys ``drop``; all
    its tags once it did. Raises NoAnswer when it refused, or did not answer in time."""
    return _granted(address, wire.Tag(given, drop), wire.Tagged, timeout, curve).tags


def _granted(
    address: str, request: wire.Message, granted: type[M], timeout: float, curve: Curve | None
) -> M:
    """A trusted client's request to one node: its ``granted`` answer; NoAnswer, in a line,
    when it refused or did not answer within ``timeout``."""
    answer = _ask({address: request}, (granted, wire.Refused), timeout, curve)[address]
    if isinstance(answer, wire.Refused):
        raise NoAnswer(f"{address} refused: {answer.reason}")
    if not isinstance(answer, granted):
        raise NoAnswer(f"{address} did not answer within {timeout} s")
    return answer


#: Seconds a query's client waits past the query's own timeout for the peer's word that
#: it ended, before it gives the peer up: a round trip and a turn of a busy loop.
_QUERY_GRACE = 2.0


def query(
    address: str,
    ask: wire.Ask,
    curve: Curve | None = None,
) -> Iterator[wire.Answered | wire.Ended]:
    """Ask the peer at ``address`` to run a query: each member's answer as it comes,
    then the end (who never answered). Raises NoAnswer when the peer refuses, or says
    nothing within the query's timeout and a grace."""
    with zmq.Context() as ctx:
        dealer = _dealer(ctx, address, curve)
        if dealer is None:
            raise NoAnswer(f"no certificate for {address} in {curve.allow if curve else ''}")
        try:
            dealer.send(wire.encode(ask))
            deadline = time.monotonic() + ask.timeout + _QUERY_GRACE
            while (left := deadline - time.monotonic()) > 0:
                message = _receive(dealer, address, left, (wire.Answered, wire.Ended))
                if not isinstance(message, wire.Answered | wire.Ended):
                    break  # none came in time
                yield message
                if isinstance(message, wire.Ended):
                    return
            raise NoAnswer(f"{address} did not end the query within {ask.timeout:g} s")
        finally:
            dealer.close()


#: A monitor says it still watches this often (seconds), and says what it read once it
#: read this many events since it last did: well within the node's ``watch_window``.
_WATCH_EVERY = 1.0
_ACK_EVERY = 1000


def follow(
    address: str,
    events: tuple[str, ...],
    timeout: float,
    curve: Curve | None = None,
) -> Iterator[tuple[int, tuple[tuple[str, str], ...]]]:
    """The events of the node at ``address`` as they happen (those named by ``events``,
    shell patterns; all for ``()``): (how many were lost just before, -1 when unknown: the
    node let this watcher go or restarted; [(JSON line, console text)]), for as long as the
    caller reads. Returns once the node took the watch: the
    events from then on come. Raises NoAnswer (here, or from the iterator) when the node
    refuses, does not answer within ``timeout``, or later stops answering for as long."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        dealer = _dealer(ctx, address, curve)
        if dealer is None:
            raise NoAnswer(f"no certificate for {address} in {curve.allow if curve else ''}")
        dealer.send(wire.encode(wire.Watch(events, 0)))
        first = _receive(dealer, address, timeout, wire.Watched)
        if first is None:
            raise NoAnswer(f"{address} did not answer within {timeout} s")
    except BaseException:
        ctx.destroy()
        raise
    return _follow(ctx, dealer, address, events, timeout, first.seq)


def _follow(
    ctx: zmq.Context[zmq.Socket[bytes]],
    dealer: zmq.Socket[bytes],
    address: str,
    events: tuple[str, ...],
    timeout: float,
    read: int,  # the number of the next event expected
) -> Iterator[tuple[int, tuple[tuple[str, str], ...]]]:
    acked = read
    asked = heard = time.monotonic()
    afresh = False  # attached anew since the last events: some may be lost, unknown how many
    silence = max(timeout, 2 * _WATCH_EVERY)  # the node answers each watch, once a second
    try:
        while True:
            now = time.monotonic()
            if now - heard > silence:
                raise NoAnswer(f"{address} stopped answering for {silence:g} s")
            if now - asked >= _WATCH_EVERY or read - acked >= _ACK_EVERY:
                dealer.send(wire.encode(wire.Watch(events, read)))
                acked, asked = read, now
            message = _receive(dealer, address, asked + _WATCH_EVERY - now, wire.Watched)
            if message is None:
                continue
            heard = time.monotonic()
            if message.seq < read:  # numbered afresh: the node let us go, or restarted
                read = acked = message.seq
                afresh = True
            if message.events:
                lost = -1 if afresh else max(0, message.seq - read)
                read, afresh = max(read, message.seq + len(message.events)), False
                yield lost, message.events
    finally:
        ctx.destroy()


def _receive(
    dealer: zmq.Socket[bytes],
    address: str,
    wait: float,
    kinds: type[M] | tuple[type[M], ...],
) -> M | None:
    """The node's next message of ``kinds`` on ``dealer``, or None when none came within
    ``wait``; NoAnswer when the node refused."""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        if not dealer.poll(max(1, math.ceil(left * 1000))):
            return None
        try:
            message = wire.decode(dealer.recv())
        except wire.WireError:
            continue
        if isinstance(message, wire.Refused):
            raise NoAnswer(f"{address} refused: {message.reason}")
        if isinstance(message, kinds):
            return message
    return None


Paged = TypeVar("Paged", wire.Listing, wire.Roster)
Item = TypeVar("Item")


def _pages(
    seeds: list[str],
    ask: Callable[[int], wire.Message],
    answer: type[Paged],
    items: Callable[[Paged], tuple[Item, ...]],
    timeout: float,
    curve: Curve | None,
) -> dict[str, list[Item] | None]:
    """Every item of each seed's paged answer, page by page (all seeds at once); None for
    a seed that did not answer a page within ``timeout``."""
    got: dict[str, list[Item] | None] = {seed: [] for seed in seeds}
    offsets = dict.fromkeys(seeds, 0)
    while offsets:
        answers = _ask(
            {seed: ask(offset) for seed, offset in offsets.items()}, answer, timeout, curve
        )
        offsets = {}
        for seed, page in answers.items():
            so_far = got[seed]
            if page is None or so_far is None:
                got[seed] = None
                continue
            so_far += items(page)
            more = page.offset + len(items(page))
            if items(page) and more < page.total:
                offsets[seed] = more
    return got


def query_peers(
    seeds: list[str], timeout: float, curve: Curve | None = None
) -> dict[str, tuple[wire.PeerInfo, ...] | None]:
    """Ask every seed for its whole peer list, page by page (all seeds at once); None for a
    seed that did not answer a page in ``timeout``. A peer that registers or leaves while
    the pages come may be missed; none is listed twice."""
    pages = _pages(seeds, wire.Page, wire.Listing, lambda page: page.peers, timeout, curve)
    return {
        seed: None if infos is None else tuple({info.id: info for info in infos}.values())
        for seed, infos in pages.items()
    }


@dataclass(frozen=True, slots=True)
class Standing:
    """A peer as the network sees it: the newest of what the seeds say of it."""

    peer: str
    state: str  # one of wire.STATES
    since: float  # Unix time it came to be so, as the seed that says it saw it
    seeds: tuple[str, ...]  # the seeds that know of it
    tags: tuple[tuple[str, str], ...] = ()  # what it says of itself, as that seed holds it


def query_members(
    seeds: list[str], timeout: float, curve: Curve | None = None
) -> tuple[list[Standing], list[str]]:
    """What became of every peer the seeds know, merged: one row a peer, with the newest
    news of it (a later removal beats an older registration, a registration again beats
    an older removal); and the seeds that did not answer."""
    pages = _pages(seeds, wire.Members, wire.Roster, lambda page: page.members, timeout, curve)
    newest: dict[str, wire.Member] = {}
    known: dict[str, list[str]] = {}
    for seed, members in pages.items():
        for member in members or ():
            known.setdefault(member.peer, []).append(seed)
            held = newest.get(member.peer)
            if held is None or member.since > held.since:
                newest[member.peer] = member
    rows = [
        Standing(peer, m.state, m.since, tuple(sorted(known[peer])), m.tags)
        for peer, m in sorted(newest.items())
    ]
    return rows, [seed for seed, members in pages.items() if members is None]


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
