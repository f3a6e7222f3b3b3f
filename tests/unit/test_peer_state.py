"""The peer's core with no sockets: inputs and the time in, effects out."""

from __future__ import annotations

import random

from zgossip import records, wire
from zgossip.config import Address, Config
from zgossip.effects import Connect, Effect, Publish, Reply, Send
from zgossip.peer_state import PeerState

SEEDS = [Address("10.255.0.1", 5000), Address("10.255.0.2", 5000), Address("10.255.0.3", 5000)]
ME = Address("10.0.0.1", 6000)
OTHER = "10.0.0.2:6000"
OTHER_PUB = "tcp://10.0.0.2:6001"


def _peer(**options: object) -> tuple[PeerState, list[Effect]]:
    config = Config(seeds=SEEDS, address=ME, gossip_count=0, **options)  # type: ignore[arg-type]
    peer = PeerState(config, rng=random.Random(1), now=10.0, wall_offset=1.7e9)
    return peer, peer.start(10.0, "tcp://10.0.0.1:6001")


def _sends(effects: list[Effect], kind: type) -> list[Send]:
    return [e for e in effects if isinstance(e, Send) and isinstance(e.message, kind)]


def _listing(seed: Address, *peers: tuple[str, str]) -> wire.Peers:
    return wire.Peers(str(seed), tuple(wire.PeerInfo(p, pub, 0, 1.7e9) for p, pub in peers))


def _joined() -> PeerState:
    """A peer registered with a majority of the seeds, told of OTHER, linking to it."""
    peer, _ = _peer()
    for seed in SEEDS[:2]:
        peer.answer(10.1, str(seed), _listing(seed, (OTHER, OTHER_PUB)))
    return peer


def test_a_peer_starts_by_registering_with_a_majority_of_the_seeds() -> None:
    _, out = _peer()
    registers = _sends(out, wire.Register)
    assert len(registers) == 2 and {s.to for s in registers} <= {str(s) for s in SEEDS}


def test_a_peer_links_only_once_a_majority_of_the_seeds_hold_its_registration() -> None:
    peer, _ = _peer()
    first = peer.answer(10.1, str(SEEDS[0]), _listing(SEEDS[0], (OTHER, OTHER_PUB)))
    assert not [e for e in first if isinstance(e, Connect)]
    second = peer.answer(10.2, str(SEEDS[1]), _listing(SEEDS[1], (OTHER, OTHER_PUB)))
    assert Connect(OTHER, OTHER_PUB) in second
    assert [s.to for s in _sends(second, wire.Link)] == [OTHER]


def test_a_link_is_up_once_both_sides_subscribed_and_said_ready() -> None:
    peer = _joined()
    out = peer.subscription(10.3, OTHER, True)  # its SUB reached our PUB
    assert [s.to for s in _sends(out, wire.Ready)] == [OTHER]
    assert not peer.neighbours[OTHER].up
    out = peer.request(10.4, b"x", wire.Ready(OTHER))
    assert peer.neighbours[OTHER].up
    assert records.NeighbourAdded(OTHER) in out


def test_a_link_that_never_comes_up_fails_when_its_time_is_up() -> None:
    peer = _joined()
    deadline = peer.deadlines.get(("link", OTHER))
    assert deadline == 10.1 + peer.config.death_window
    out = peer.timers(deadline)
    assert records.LinkFailed(OTHER) in out and OTHER not in peer.neighbours


def test_a_ping_is_answered_with_its_own_fields_and_whether_we_link() -> None:
    peer, _ = _peer()
    (pong,) = peer.request(11.0, b"asker", wire.Ping(OTHER, 1.7e9 + 3))
    assert pong == Reply(b"asker", wire.Pong(OTHER, 1.7e9 + 3, linked=False))


def test_a_new_message_is_recorded_forwarded_and_logged_and_a_copy_is_dropped() -> None:
    peer, _ = _peer()
    envelope = wire.encode(wire.Gossip(OTHER, 1, 1.7e9, "hello"))
    frame = wire.gossip_frame(OTHER.encode(), envelope)
    out = peer.gossip(12.0, frame)
    assert Publish(wire.gossip_frame(str(ME).encode(), envelope)) in out
    (received,) = [e for e in out if isinstance(e, records.GossipReceived)]
    assert (received.body, received.origin, received.sender) == ("hello", OTHER, OTHER)
    assert peer.gossip(12.1, frame) == ()


def test_garbage_on_the_gossip_socket_is_a_bad_message_and_nothing_else() -> None:
    peer, _ = _peer()
    out = peer.gossip(12.0, b"\x05hello")
    assert len(out) == 1 and isinstance(out[0], records.BadMessage)


def test_own_broadcast_is_logged_before_it_is_published() -> None:
    peer, _ = _peer()
    out = peer.broadcast(13.0, "mine")
    assert isinstance(out[0], records.GossipSent) and out[0].body == "mine"
    assert isinstance(out[1], Publish)


def test_a_peer_that_cannot_join_says_why_and_again_until_it_joins() -> None:
    peer, _ = _peer()
    patience = peer.config.join_patience
    out = peer.timers(10.0 + patience)  # no seed ever answered
    assert records.JoinWaiting(0, 2, 3) in out
    assert "no seed answers" in records.JoinWaiting(0, 2, 3).text()
    peer.answer(10.0 + patience, str(SEEDS[0]), _listing(SEEDS[0]))
    out = peer.timers(10.0 + 2 * patience)
    assert records.JoinWaiting(1, 2, 3) in out  # one of the two needed
    peer.answer(10.0 + 2 * patience, str(SEEDS[1]), _listing(SEEDS[1]))
    out = peer.timers(10.0 + 4 * patience)
    assert not [e for e in out if isinstance(e, records.JoinWaiting)]  # joined: quiet
