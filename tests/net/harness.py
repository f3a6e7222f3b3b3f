"""The harness of the in-process network tests: seeds and peers on loopback, each with a
seam (:class:`Faults`) a test breaks it through, all reporting to one :class:`Events`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zmq

from tests.support import Events, free_ports
from zgossip import Config, Peer, Seed
from zgossip.node import Node, Tap
from zgossip.protocol import wire
from zgossip.protocol.config import Address
from zgossip.protocol.effects import Effect, Send


class Faults(Tap):
    """What a test breaks in a node, through the node's seam: input it drops, and whether
    it sends anything at all."""

    def __init__(self) -> None:
        self.deaf_to: Callable[[wire.Message | bytes, str | None], bool] = lambda m, s: False
        self.mute = False  # sends nothing: what a crash looks like to the others

    def inbound(self, message: wire.Message | bytes, sender: str | None) -> bool:
        return not self.deaf_to(message, sender)

    def outbound(self, effect: Effect) -> bool:
        return not (self.mute and isinstance(effect, Send))


class Net:
    """A network under test: every node reports to one Events, and is stopped at the end;
    ``faults[node.id]`` is each node's seam. Nodes run :meth:`Config.local`'s timers, but
    for ``options`` (every node's)."""

    def __init__(self, seeds: int, spare_seeds: int = 0, **options: Any) -> None:
        self.options = options
        self.events = Events()
        self.nodes: list[Node] = []
        self.faults: dict[str, Faults] = {}
        ports = free_ports(seeds + spare_seeds)
        self.seed_addresses = [Address("127.0.0.1", port) for port in ports]
        self.seeds = [
            self._start(Seed(self.config(a), tap=self._faults(a)))
            for a in self.seed_addresses[:seeds]
        ]

    def _faults(self, address: Address) -> Faults:
        faults = self.faults[str(address)] = Faults()
        return faults

    def config(self, address: Address, **overrides: Any) -> Config:
        options = {"gossip_count": 5, **self.options, **overrides}
        return Config.local(seeds=self.seed_addresses, address=address, **options)

    def _start(self, node: Node) -> Any:
        node.events.listen(self.events)
        self.nodes.append(node)
        return node.start()

    def peer(self, **overrides: Any) -> Peer:
        address = Address("127.0.0.1", free_ports(1)[0])
        peer: Peer = self._start(Peer(self.config(address, **overrides), tap=self._faults(address)))
        return peer

    def die_silently(self, peer: Peer) -> None:
        """Stop ``peer`` without its goodbyes: what a crash looks like to the others."""
        self.faults[peer.id].mute = True
        peer.stop()

    def linked(self, peer: Peer) -> None:
        self.events.wait_event("neighbour.added", node=peer.id)

    def removed_everywhere(self, peer: str, timeout: float = 20.0) -> None:
        """Wait until every seed that registered ``peer`` has removed it: the seeds decide
        on their own, so one seed's removal says nothing of the others' (one may still hold
        it as a suspect, its own case open)."""

        def seeds_of(name: str) -> set[str]:
            return {e["node"] for e in self.events.of(name) if e.get("peer") == peer}

        self.events.wait_for(
            lambda: seeds_of("peer.registered") <= seeds_of("peer.removed"),
            timeout=timeout,
            what=f"{peer} removed by every seed that registered it",
        )

    def received(self, peer: Peer) -> set[str]:
        return {e["id"] for e in self.events.of("gossip.received", peer.id)}

    def everyone_hears_everyone(self, peers: list[Peer], words: str, timeout: float) -> None:
        """Each of ``peers`` broadcasts ``words``; wait until each heard every other's."""
        for peer in peers:
            peer.broadcast(f"{words}, from {peer.id}")
        bodies = {f"{words}, from {p.id}" for p in peers}
        self.events.wait_for(
            lambda: all(
                bodies - {f"{words}, from {p.id}"}
                <= {e["body"] for e in self.events.of("gossip.received", p.id)}
                for p in peers
            ),
            timeout=timeout,
            what=f"{words!r} from every peer at every other",
        )

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        assert not self.events.of("internal.error"), self.events.of("internal.error")


def dealer(ctx: zmq.Context[zmq.Socket[bytes]], address: str) -> zmq.Socket[bytes]:
    """A DEALER connected to the node at ``address``: a client of our own making."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://{address}")
    return sock
