"""Anti-entropy in the simulator (the real peer cores): what gossip, announcements and gap
repair all missed still arrives, and what can no longer be had is said."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zgossip.protocol import records, wire
from zgossip.simulate import Scenario, Simulation

INTERVAL = 1.0  # liveness interval: an anti-entropy round


@dataclass
class Deafness:
    """What the network drops on its way to the ``deaf`` peers: everything that carries
    gossip (PUB frames, announcements, handed-over histories, deltas) but the kinds in
    ``allowed``."""

    deaf: set[str] = field(default_factory=set)
    allowed: tuple[type[wire.Message], ...] = ()

    def __call__(self, node: str, carried: wire.Message | bytes) -> bool:
        if node not in self.deaf:
            return False
        if isinstance(carried, bytes):
            return True
        gossipy = (wire.IHave, wire.History, wire.Delta)
        return isinstance(carried, gossipy) and not isinstance(carried, self.allowed)


def _network(
    nodes: int = 12, **options: Any
) -> tuple[Simulation, Deafness, dict[str, list[records.Event]]]:
    events: dict[str, list[records.Event]] = {}

    def heard(node: str, event: records.Event) -> None:
        events.setdefault(node, []).append(event)

    scenario = Scenario(
        nodes=nodes, messages=0, seed=3, liveness_interval=INTERVAL, options=options
    )
    tap = Deafness()
    sim = Simulation(scenario, listener=heard, deaf_to=tap)
    sim.boot()
    for n in range(nodes):
        sim.at(n * scenario.join_interval, sim.join)
    sim.advance(nodes * scenario.join_interval + scenario.settle)
    return sim, tap, events


def _got(events: dict[str, list[records.Event]], node: str, origin: str) -> list[int]:
    """The numbers of ``origin``'s messages ``node`` received, its first sent counted 1."""
    first = min(
        (e.seq for e in events.get(origin, []) if isinstance(e, records.GossipSent)), default=1
    )
    return [
        e.seq - first + 1
        for e in events.get(node, [])
        if isinstance(e, records.GossipReceived) and e.origin == origin
    ]


def test_an_origins_last_messages_missed_by_a_peer_arrive_within_two_rounds() -> None:
    sim, tap, events = _network()
    origin, deaf = sim.peers()[0].id, sim.peers()[-1].id
    tap.deaf = {deaf}
    start = sim.now
    for k in range(3):  # then it goes quiet: no later message shows the gap
        sim.broadcast(origin, f"last {k}")
        sim.advance(sim.now + 0.05)
    sim.advance(start + 0.5)
    assert _got(events, deaf, origin) == []  # gossip, announcements and grafts all missed
    others = [p.id for p in sim.peers() if p.id not in (origin, deaf)]
    assert all(_got(events, peer, origin) == [1, 2, 3] for peer in others)
    tap.allowed = (wire.Delta,)  # from now on only anti-entropy reaches it
    sim.advance(sim.now + 2 * INTERVAL)
    assert sorted(_got(events, deaf, origin)) == [1, 2, 3]
    assert not any(isinstance(e, records.GossipLost) for e in events[deaf])


def test_a_hole_no_store_still_holds_is_said_lost_with_its_seqs() -> None:
    sim, tap, events = _network(store_age=3.0)
    origin, deaf = sim.peers()[0].id, sim.peers()[-1].id
    sim.broadcast(origin, "heard")
    sim.advance(sim.now + 0.5)
    tap.deaf = {deaf}
    for k in range(3):
        sim.broadcast(origin, f"missed {k}")
        sim.advance(sim.now + 0.05)
    sim.advance(sim.now + 0.5)
    tap.deaf = set()
    tap.allowed = ()
    sim.broadcast(origin, "shows the gap")
    tap.deaf = {deaf}  # gap repair and anti-entropy both refused, until the stores let go
    sim.advance(sim.now + 3.0 + 2 * INTERVAL)
    assert _got(events, deaf, origin) == [1, 5]
    lost = [e for e in events[deaf] if isinstance(e, records.GossipLost)]
    first = next(e.seq for e in events[origin] if isinstance(e, records.GossipSent))
    assert [(e.origin, e.seqs, e.reason, e.count) for e in lost] == [
        (origin, [first + 1, first + 2, first + 3], "expired", 3)
    ]


def test_messages_throttled_past_the_origin_rate_are_repaired_not_lost() -> None:
    sim, _, events = _network(origin_rate=5.0)
    origin = sim.peers()[0].id
    for k in range(20):  # four times the rate others take from it: most are throttled
        sim.broadcast(origin, f"fast {k}")
    sim.advance(sim.now + 3 * INTERVAL)
    throttled = [
        node
        for node, said in events.items()
        if any(isinstance(e, records.GossipThrottled) for e in said)
    ]
    assert throttled  # the rate did bite
    for peer in sim.peers():
        if peer.id != origin:
            assert sorted(_got(events, peer.id, origin)) == list(range(1, 21)), peer.id
    assert not any(isinstance(e, records.GossipLost) for said in events.values() for e in said)


def test_an_announced_message_never_had_is_said_lost_by_id() -> None:
    sim, tap, events = _network(store_age=3.0)
    peers = sim.peers()
    origin = peers[0].id
    for k, other in enumerate(peers[1:]):  # the tree forms: some links turn lazy
        sim.broadcast(other.id, f"warm-up {k}")
        sim.advance(sim.now + 0.1)
    deaf = next(p.id for p in peers[1:] if p.tree.lazy)  # one announces to it
    tap.deaf = {deaf}
    tap.allowed = (wire.IHave,)  # it hears of the message, but gets it by no way
    sim.broadcast(origin, "announced only")
    sim.advance(sim.now + 3.0 + 2 * INTERVAL)
    sent = next(
        e
        for e in events[origin]
        if isinstance(e, records.GossipSent) and e.body == "announced only"
    )
    lost = [e for e in events[deaf] if isinstance(e, records.GossipLost)]
    assert [(e.origin, e.ids, e.reason, e.count) for e in lost] == [(None, [sent.id], "expired", 1)]
    assert _got(events, deaf, origin) == []
