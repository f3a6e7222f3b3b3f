"""What a protocol core asks its executor to do: plain records, no sockets.

A core (:class:`zgossip.protocol.peer.PeerState`, :class:`zgossip.protocol.seed.SeedState`)
takes an input and the time and returns a list of these, in order. The executor
(:mod:`zgossip.node`) maps them onto ZeroMQ; the simulator (:mod:`zgossip.simulate`)
onto its simulated network. Events (:mod:`zgossip.protocol.records`) come in the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

from zgossip.protocol import wire
from zgossip.protocol.records import Event


@dataclass(slots=True)
class Send:
    """Send ``message`` to the ROUTER of node ``to`` (a seed or a peer), over the DEALER
    this node keeps for it (opened on first use). Answers come back as ``answer(to, ...)``.
    A full queue drops it: the node is not reading, and liveness will tell."""

    to: str
    message: wire.Message


@dataclass(slots=True)
class Reply:
    """Answer the request that came on this node's ROUTER with routing id ``to``."""

    to: bytes
    message: wire.Message


@dataclass(slots=True)
class Publish:
    """Forward a gossip envelope, exactly as its origin encoded it, on our PUB to each
    neighbour in ``to``: each copy addressed to its SUB (:func:`wire.topic`), in a frame
    of its own (:func:`wire.gossip_frame`) or with the others of the same turn for the
    same neighbour (:func:`wire.batch_frame`)."""

    envelope: bytes
    to: tuple[str, ...]


@dataclass(slots=True)
class Connect:
    """Open the link's sockets towards ``peer``: a DEALER to its ROUTER and our SUB to
    its PUB at ``pub`` (the SUB only once the DEALER could connect). Its connection is
    watched: when it closes or is refused, say ``disconnected(peer)``."""

    peer: str
    pub: str


@dataclass(slots=True)
class Disconnect:
    """Close the DEALER towards ``peer`` (what it still queues is dropped) and, given
    ``pub``, take our SUB off that PUB."""

    peer: str
    pub: str | None = None


@dataclass(slots=True)
class Dial:
    """Open the DEALER towards node ``to``'s ROUTER now, before anything is sent on it (a
    seed's to the other seeds: connected before they are needed)."""

    to: str


@dataclass(slots=True)
class OpenProbe:
    """Send ``ping`` once to ``target``'s ROUTER from a fresh DEALER; hand what comes back
    to ``probe_answer(target, ...)``, and say ``probe_refused(target)`` at once when its
    port refuses the connection (``probe_failed`` when the probe cannot be opened)."""

    target: str
    ping: wire.Ping


@dataclass(slots=True)
class CloseProbe:
    """The probe of ``target`` is over (answered or timed out): close its sockets."""

    target: str


@dataclass(slots=True)
class RunQuery:
    """Run this node's handler of query ``name`` on ``payload`` (a query of ``querier``,
    numbered ``id`` there), and hand what it returns to ``answered(to, querier, id, ...)``:
    ``to`` routes the answer back (None: our own query)."""

    to: bytes | None
    querier: str
    id: int
    name: str
    payload: str | bytes


Effect = (
    Send | Reply | Publish | Connect | Disconnect | Dial | OpenProbe | CloseProbe | RunQuery
    | Event
)  # fmt: skip
