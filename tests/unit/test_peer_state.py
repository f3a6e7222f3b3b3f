"""The peer's core with no sockets: inputs and the time in, effects out."""

from __future__ import annotations

import random

import pytest

from zgossip.protocol import entropy, records, wire
from zgossip.protocol.config import Address, Config
from zgossip.protocol.core import Client
from zgossip.protocol.effects import Connect, Disconnect, Effect, Publish, Reply, Send
from zgossip.protocol.gossip import message_id
from zgossip.protocol.peer import GOSSIP, ROUND, LinkTimeout, PeerState

SEEDS = [Address("10.255.0.1", 5000), Address("10.255.0.2", 5000), Address("10.255.0.3", 5000)]
ME = Address("10.0.0.1", 6000)
OTHER = "10.0.0.2:6000"
OTHER_PUB = "tcp://10.0.0.2:6001"


def _peer(**options: object) -> tuple[PeerState, list[Effect]]:
    config = Config(seeds=SEEDS, address=ME, **{"gossip_count": 0, **options})  # type: ignore[arg-type]
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


@pytest.mark.parametrize(("misses", "rounds"), [(3, 2), (1, 1), (6, 4)])
def test_a_peer_refreshes_its_registrations_three_times_within_a_seeds_patience(
    misses: int, rounds: int
) -> None:
    """A seed suspects a registration left unrefreshed for two death windows: a refresh
    every third of that (every 2 pings at 3 misses), never more often than a ping."""
    peer, out = _peer(liveness_interval=1.0, liveness_misses=misses)
    refreshed: list[int] = []
    for k in range(4 * rounds + 1):
        for register in _sends(out, wire.Register):
            peer.answer(10.0 + k + 0.1, register.to, _listing(Address.parse(register.to)))
            refreshed.append(k)
        out = peer.timers(10.0 + k + 1.01)
    assert refreshed == [k for k in range(0, 4 * rounds + 1, rounds) for _ in range(2)]


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
    deadline = peer.deadlines.get(LinkTimeout(OTHER))
    assert deadline == 10.1 + peer.config.death_window
    out = peer.timers(deadline)
    assert records.LinkFailed(OTHER) in out and OTHER not in peer.neighbours


def test_a_ping_is_answered_with_its_own_fields_and_whether_we_link() -> None:
    peer, _ = _peer()
    (pong,) = peer.request(11.0, b"asker", wire.Ping(OTHER, 1.7e9 + 3))
    assert pong == Reply(b"asker", wire.Pong(OTHER, 1.7e9 + 3, linked=False))


THIRD, FOURTH = "10.0.0.3:6000", "10.0.0.4:6000"


def _linked(*others: str, **options: object) -> PeerState:
    """A peer whose links to ``others`` are up (each asked us to link)."""
    peer, _ = _peer(**options)
    for other in others:
        peer.request(10.1, b"x", wire.Link(other, f"tcp://{other[:-5]}:6001"))
        peer.subscription(10.2, other, True)
        peer.request(10.3, b"x", wire.Ready(other))
        assert peer.neighbours[other].up
    return peer


def _gossip(sender: str, seq: int = 1, body: str = "hello") -> tuple[bytes, bytes]:
    """A frame of OTHER's message ``seq`` as ``sender`` forwards it, and the message's id."""
    envelope = wire.encode(wire.Gossip(OTHER, seq, 1.7e9, body))
    return wire.gossip_frame(sender.encode(), envelope), message_id(envelope)


def test_a_new_message_is_recorded_forwarded_and_logged_and_a_copy_is_dropped() -> None:
    peer = _linked(OTHER, THIRD, FOURTH, dissemination="flood")
    frame, _ = _gossip(OTHER)
    out = peer.gossip(12.0, frame)
    envelope = bytes(wire.split_gossip(frame)[1])
    # to every neighbour but the one it came from: no echo
    assert Publish(envelope, (THIRD, FOURTH)) in out
    (received,) = [e for e in out if isinstance(e, records.GossipReceived)]
    assert (received.body, received.origin, received.sender) == ("hello", OTHER, OTHER)
    assert peer.gossip(12.1, frame) == ()
    assert peer.gossip(12.1, _gossip(THIRD)[0]) == ()  # flood: a copy prunes nothing


def test_a_copy_pushed_by_a_neighbour_prunes_its_link_off_the_tree() -> None:
    peer = _linked(OTHER, THIRD, FOURTH)
    peer.gossip(12.0, _gossip(OTHER)[0])
    out = peer.gossip(12.1, _gossip(THIRD)[0])
    assert _sends(list(out), wire.Prune) == [Send(THIRD, wire.Prune(str(ME)))]
    assert records.GossipPrune(THIRD) in out
    assert peer.gossip(12.2, _gossip(THIRD)[0]) == ()  # pruned once
    out = peer.gossip(12.3, _gossip(OTHER, 2)[0])  # the next goes to FOURTH only
    (publish,) = [e for e in out if isinstance(e, Publish)]
    assert publish.to == (FOURTH,)
    out = peer.timers(12.3 + peer.config.announce_interval)  # THIRD hears of both, at once
    assert _sends(out, wire.IHave) == [Send(THIRD, wire.IHave(str(ME), (_gossip(OTHER, 2)[1],)))]


def test_a_batch_is_taken_whole_its_copies_dropped_and_its_link_pruned_once() -> None:
    peer = _linked(OTHER, THIRD, FOURTH)
    batch = [_envelope(_gossip(OTHER, seq)[0]) for seq in (1, 2, 3)]
    out = peer.forwarded(12.0, THIRD, batch[1:])
    assert [e.message.seq for e in out if isinstance(e, records.GossipReceived)] == [2, 3]
    assert [e.to for e in out if isinstance(e, Publish)] == [(OTHER, FOURTH)] * 2  # no echo
    out = peer.forwarded(12.1, OTHER, batch)  # one new, two copies: one prune
    assert [e.message.seq for e in out if isinstance(e, records.GossipReceived)] == [1]
    assert _sends(list(out), wire.Prune) == [Send(OTHER, wire.Prune(str(ME)))]
    assert peer.forwarded(12.2, FOURTH, batch[:1]) != ()  # FOURTH's copy prunes it too
    assert peer.forwarded(12.3, FOURTH, batch) == ()  # copies only, from a pruned link
    assert (peer.received, peer.duplicates) == (3, 6)


def test_a_pruned_peer_announces_and_pushes_again_when_grafted() -> None:
    peer = _linked(OTHER, THIRD)
    peer.request(12.0, b"x", wire.Prune(THIRD))
    out = peer.gossip(12.1, _gossip(OTHER)[0])
    assert not [e for e in out if isinstance(e, Publish)]  # THIRD is lazy, OTHER sent it
    out = peer.timers(12.1 + peer.config.announce_interval)
    frame, msg_id = _gossip(OTHER)
    assert _sends(out, wire.IHave) == [Send(THIRD, wire.IHave(str(ME), (msg_id,)))]
    (history,) = peer.request(12.5, b"third", wire.Graft(THIRD, (msg_id,)))
    assert history == Reply(b"third", wire.History(str(ME), (bytes(wire.split_gossip(frame)[1]),)))
    out = peer.gossip(12.6, _gossip(OTHER, 2)[0])
    (publish,) = [e for e in out if isinstance(e, Publish)]
    assert publish.to == (THIRD,)


def test_an_announced_message_that_never_comes_is_grafted_from_each_announcer_in_turn() -> None:
    peer = _linked(OTHER, THIRD)
    frame, msg_id = _gossip(FOURTH)
    peer.request(12.0, b"x", wire.IHave(THIRD, (msg_id,)))
    peer.request(12.01, b"x", wire.IHave(OTHER, (msg_id,)))
    timeout = peer.config.graft_timeout
    out = peer.timers(12.0 + timeout)
    assert _sends(out, wire.Graft) == [Send(THIRD, wire.Graft(str(ME), (msg_id,)))]
    assert records.GossipGraft(THIRD, 1) in out
    out = peer.timers(12.0 + 2 * timeout)  # THIRD did not send it: ask the next
    assert _sends(out, wire.Graft) == [Send(OTHER, wire.Graft(str(ME), (msg_id,)))]
    out = peer.answer(12.0 + 2 * timeout, OTHER, wire.History(OTHER, (_envelope(frame),)))
    assert [e.sender for e in out if isinstance(e, records.GossipReceived)] == [OTHER]
    assert not _sends(peer.timers(20.0), wire.Graft)


def test_a_message_announced_then_received_is_not_asked_for_nor_pushed_to_its_announcer() -> None:
    peer = _linked(OTHER, THIRD, FOURTH)
    frame, msg_id = _gossip(OTHER)
    peer.request(12.0, b"x", wire.IHave(THIRD, (msg_id,)))
    out = peer.gossip(12.01, frame)
    (publish,) = [e for e in out if isinstance(e, Publish)]
    assert publish.to == (FOURTH,)
    assert not _sends(peer.timers(12.0 + peer.config.graft_timeout), wire.Graft)


def _envelope(frame: bytes) -> bytes:
    return bytes(wire.split_gossip(frame)[1])


def test_garbage_on_the_gossip_socket_is_a_bad_message_and_nothing_else() -> None:
    peer, _ = _peer()
    out = peer.gossip(12.0, b"\x05hello")
    assert len(out) == 1 and isinstance(out[0], records.BadMessage)


def test_own_broadcast_is_logged_before_it_is_published() -> None:
    peer = _linked(OTHER)
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


def test_a_peer_logs_its_receipts_and_duplicates_each_liveness_round_they_changed() -> None:
    peer = _linked(OTHER, THIRD)
    peer.gossip(12.0, _gossip(OTHER)[0])
    peer.gossip(12.1, _gossip(THIRD)[0])
    round_at = peer.deadlines.get(ROUND)
    assert round_at is not None
    assert records.GossipCopies(1, 1) in peer.timers(round_at)
    round_at = peer.deadlines.get(ROUND)
    assert round_at is not None
    assert not [e for e in peer.timers(round_at) if isinstance(e, records.GossipCopies)]


def test_a_peer_says_when_it_sent_its_last_automatic_message_and_minus_one_never_ends() -> None:
    for count, messages in ((2, 2), (-1, 12)):
        peer = _linked(OTHER, gossip_count=count)
        done = []
        for _ in range(messages):
            due = peer.deadlines.get(GOSSIP)
            assert due is not None, "the automatic messages stopped early"
            done += [e for e in peer.timers(due) if isinstance(e, records.GossipDone)]
        if count < 0:
            assert not done and GOSSIP in peer.deadlines  # on and on
        else:
            assert done == [records.GossipDone(2)] and GOSSIP not in peer.deadlines


def test_a_received_line_names_the_origin_and_the_forwarder_and_marks_history() -> None:
    message = wire.Gossip(THIRD, 1, 1.7e9, "hi")
    direct = records.GossipReceived("ab", "hi", THIRD, 1, THIRD, message)
    assert direct.text() == f"received hi from {THIRD}"
    forwarded = records.GossipReceived("ab", "hi", THIRD, 1, OTHER, message)
    assert forwarded.text() == f"received hi from {THIRD} via {OTHER}"
    handed = records.GossipReceived("ab", "hi", THIRD, 1, OTHER, message, history=True)
    assert handed.text().endswith("(history: sent before this link)")


def test_an_origin_flooding_past_its_rate_is_dropped_here_and_said_so() -> None:
    peer = _linked(OTHER, THIRD, origin_rate=100.0)
    received = throttled = 0
    for seq in range(1, 151):  # 150 at once: a second's worth goes, the rest is dropped
        out = peer.gossip(12.0, _gossip(THIRD, seq)[0])
        received += sum(isinstance(e, records.GossipReceived) for e in out)
        throttled += sum(isinstance(e, records.GossipThrottled) for e in out)
        if seq > 100:
            assert not [e for e in out if isinstance(e, Publish)]  # not forwarded either
    assert (received, throttled) == (100, 1)  # the first drop is said at once
    copy = peer.gossip(12.0, _gossip(OTHER, 150)[0])  # a copy, still over the rate
    assert not [e for e in copy if isinstance(e, records.GossipReceived | Publish)]
    said = []  # the rest, once the quiet second is over: the core's deadline says when
    deadline = peer.deadline()
    while deadline is not None and deadline <= 13.0:
        out = peer.timers(deadline)
        said += [(deadline, e) for e in out if isinstance(e, records.GossipThrottled)]
        deadline = peer.deadline()
    assert said == [(13.0, records.GossipThrottled(OTHER, 50, 100.0))]
    out = peer.gossip(13.0, _gossip(THIRD, 150)[0])  # a second later: not lost for good
    assert any(isinstance(e, records.GossipReceived) for e in out)


def test_a_batch_frame_is_decoded_in_the_core_and_one_over_max_batch_refused_whole() -> None:
    peer = _linked(OTHER, THIRD, max_batch=2)
    envelopes = tuple(_envelope(_gossip(OTHER, seq)[0]) for seq in (1, 2, 3))
    out = peer.gossip(12.0, wire.batch_frame(THIRD, envelopes[:2]))
    assert [e.message.seq for e in out if isinstance(e, records.GossipReceived)] == [1, 2]
    out = peer.gossip(12.1, wire.batch_frame(THIRD, envelopes))
    assert [e.reason for e in out if isinstance(e, records.BadMessage)] == [
        "batch of 3 messages, over 2"
    ]
    assert peer.received == 2


def test_a_body_no_receiver_would_take_is_refused_before_it_is_sent() -> None:
    peer, _ = _peer()
    with pytest.raises(ValueError, match="at most"):
        peer.broadcast(12.0, "x" * (wire.MAX_BODY + 1))
    assert peer.received == 0 and not peer.ml


def test_send_via_is_gossiped_for_a_local_client_and_refused_for_another() -> None:
    peer = _linked(OTHER)
    out = peer.request(12.0, b"c", wire.Say("hi"), Client("10.9.9.9", local=False))
    assert records.SayRefused("10.9.9.9", _NOT_LOCAL) in out
    assert [e.message for e in out if isinstance(e, Reply)] == [wire.Refused(str(ME), _NOT_LOCAL)]
    out = peer.request(12.1, b"c", wire.Say("hi"), Client("127.0.0.1", local=True))
    (sent,) = [e for e in out if isinstance(e, records.GossipSent)]
    assert Reply(b"c", wire.Said(str(ME), sent.id)) in out
    assert [e.to for e in out if isinstance(e, Publish)] == [(OTHER,)]


_NOT_LOCAL = "only a client on the peer's own host may ask (CurveZMQ is off)"


FIFTH = "10.0.0.5:6000"


def _linked_and_listed(*others: str, listed: tuple[str, ...] = (), **options: object) -> PeerState:
    """Links to ``others`` up, and a majority of the seeds listing ``listed`` too."""
    peer = _linked(*others, **options)
    for seed in SEEDS[:2]:
        pairs = [(p, f"tcp://{p[:-5]}:6001") for p in (*others, *listed)]
        peer.answer(10.4, str(seed), _listing(seed, *pairs))
    return peer


def test_a_closed_connection_is_a_suspicion_at_once_and_a_link_is_made_elsewhere() -> None:
    peer = _linked_and_listed(OTHER, THIRD, listed=(FOURTH,))
    out = peer.disconnected(11.0, OTHER)
    (suspect,) = [e for e in out if isinstance(e, records.NeighbourSuspect)]
    assert suspect.reason == "closed" and suspect.helpers == [THIRD]
    assert [s.to for s in _sends(out, wire.Probe)] == [THIRD]
    assert Connect(FOURTH, "tcp://10.0.0.4:6001") in out  # the lost link replaced now
    assert not [e for e in out if isinstance(e, records.NeighbourDead)]  # no verdict yet
    out = peer.answer(11.1, THIRD, wire.Probed(THIRD, OTHER, suspect_ts(out), False))
    assert records.NeighbourDead(OTHER) in out
    assert {s.to for s in _sends(out, wire.Dead)} <= {str(s) for s in SEEDS}


def test_a_closed_connection_to_a_neighbour_that_lives_evicts_no_one() -> None:
    peer = _linked_and_listed(OTHER, THIRD)
    out = peer.disconnected(11.0, OTHER)
    out = peer.answer(11.1, THIRD, wire.Probed(THIRD, OTHER, suspect_ts(out), True))
    assert records.SuspectRefuted(OTHER, THIRD, "closed") in out
    assert peer.neighbours[OTHER].up and not [e for e in out if isinstance(e, Send)]
    assert peer.disconnected(11.2, FIFTH) == []  # not a neighbour: nothing to do


def test_a_link_whose_port_refuses_fails_at_once_and_another_is_tried() -> None:
    peer = _linked_and_listed(OTHER, listed=(THIRD, FOURTH))
    (trying,) = [n for n in peer.neighbours.values() if not n.up]
    out = peer.disconnected(10.5, trying.id)
    assert records.LinkFailed(trying.id) in out and trying.id not in peer.neighbours
    (other,) = {THIRD, FOURTH} - {trying.id}
    assert other in peer.neighbours  # linked to instead


def suspect_ts(out: list[Effect]) -> float:
    (probe,) = [s.message for s in _sends(out, wire.Probe)]
    assert isinstance(probe, wire.Probe)
    return probe.ts


def _info(peer: str, degree: int = 0) -> wire.PeerInfo:
    return wire.PeerInfo(peer, f"tcp://{peer[:-5]}:6001", degree, 1.7e9)


def test_the_seeds_lists_fill_the_passive_view_within_its_bound() -> None:
    peer, _ = _peer(passive_size=3)
    listed = [f"10.0.1.{n}:6000" for n in range(1, 9)]
    peer.answer(10.1, str(SEEDS[0]), wire.Peers(str(SEEDS[0]), tuple(map(_info, listed))))
    assert len(peer.passive) == 3 and set(peer.passive) <= set(listed)


def test_a_round_shuffles_with_one_neighbour_and_a_shuffle_is_answered_and_kept() -> None:
    peer = _linked(OTHER, THIRD, shuffle_rounds=1)
    out = peer.timers(10.0 + peer.config.liveness_interval)
    (shuffle,) = _sends(out, wire.Shuffle)
    assert shuffle.to in {OTHER, THIRD}
    assert isinstance(shuffle.message, wire.Shuffle) and shuffle.message.peers[0].id == str(ME)
    out = peer.request(14.0, b"n", wire.Shuffle(OTHER, (_info(OTHER), _info(FOURTH, 5))))
    (reply,) = [e for e in out if isinstance(e, Reply)]
    assert isinstance(reply.message, wire.Shuffled) and reply.message.peers[0].id == str(ME)
    assert set(peer.passive) == {FOURTH}  # not a neighbour of ours, not ourselves
    assert peer.request(14.1, b"s", wire.Shuffle(FIFTH, (_info(FIFTH),))) == []  # a stranger


def test_a_lost_link_is_replaced_from_the_passive_view_with_no_seed_list() -> None:
    peer = _linked(OTHER, THIRD)
    peer.answer(10.5, OTHER, wire.Shuffled(OTHER, (_info(FOURTH),)))
    peer.answer(10.6, str(SEEDS[0]), _listing(SEEDS[0]))  # joined, with empty lists
    peer.answer(10.6, str(SEEDS[1]), _listing(SEEDS[1]))
    out = peer.disconnected(11.0, OTHER)
    assert Connect(FOURTH, "tcp://10.0.0.4:6001") in out


def test_with_curve_a_node_the_allow_directory_does_not_name_is_no_backup() -> None:
    peer = _linked(OTHER, THIRD)
    peer.certificates(10.4, {OTHER: b"k2", THIRD: b"k3", FOURTH: b"k4"})
    peer.answer(10.5, OTHER, wire.Shuffled(OTHER, (_info(FOURTH), _info(FIFTH))))
    assert set(peer.passive) == {FOURTH}  # FIFTH has no certificate: it would be refused


def test_a_run_numbers_its_messages_one_by_one_from_its_start_and_a_restart_never_repeats() -> None:
    def seqs(peer: PeerState, now: float) -> list[int]:
        out = [*peer.broadcast(now, "a"), *peer.broadcast(now, "b")]
        return [e.seq for e in out if isinstance(e, records.GossipSent)]

    first, _ = _peer()
    assert seqs(first, 10.0) == [int((10.0 + 1.7e9) * 1e9) + 1, int((10.0 + 1.7e9) * 1e9) + 2]
    config = Config(seeds=SEEDS, address=ME, gossip_count=0)
    again = PeerState(config, rng=random.Random(1), now=10.5, wall_offset=1.7e9)  # restarted
    later = seqs(again, 10.5)
    assert later[0] - seqs(first, 10.5)[-1] > entropy.LEAP  # far past: a new run


def test_a_history_no_one_asked_for_is_throttled_and_one_asked_for_is_not() -> None:
    peer = _linked(OTHER, origin_rate=2.0)
    items = tuple(wire.encode(wire.Gossip(THIRD, seq, 1.7e9, "x")) for seq in range(1, 6))
    late = 10.3 + peer.config.request_timeout + 0.1  # the link's first digest long answered
    out = peer.answer(late, OTHER, wire.History(OTHER, items))  # unasked: a flood like any
    assert len([e for e in out if isinstance(e, records.GossipReceived)]) == 2
    peer.timers(13.0 + peer.config.liveness_interval)  # a round: a digest to OTHER
    later = tuple(wire.encode(wire.Gossip(THIRD, seq, 1.7e9, "x")) for seq in range(6, 11))
    out = peer.answer(13.1 + peer.config.liveness_interval, OTHER, wire.Delta(OTHER, later, False))
    assert len([e for e in out if isinstance(e, records.GossipReceived)]) == 5


def test_a_neighbours_digests_are_answered_spaced_out_but_the_one_after_a_cut_answer() -> None:
    peer = _linked(OTHER)
    for k in range(3):
        peer.broadcast(12.0, f"mine {k}")
    digest = wire.Digest(OTHER, 0.0, (), True)

    def answers(now: float) -> list[wire.Delta]:
        return [
            e.message
            for e in peer.request(now, b"x", digest)
            if isinstance(e, Reply) and isinstance(e.message, wire.Delta)
        ]

    assert len(answers(12.1)[0].items) == 3
    assert answers(12.1 + peer.config.digest_spacing / 2) == []  # too soon: not answered
    assert len(answers(12.1 + peer.config.digest_spacing)) == 1


def test_a_strangers_digest_gets_what_we_held_a_while_and_strangers_are_answered_spaced_out() -> (
    None
):
    peer = _linked(OTHER)
    peer.broadcast(12.0, "old")
    held = 12.0 + peer.config.cross_age
    peer.broadcast(held, "new")  # may still be on its way to the asker: not for a stranger

    def answers(now: float, stranger: str) -> list[wire.Delta]:
        return [
            e.message
            for e in peer.request(now, b"x", wire.Digest(stranger, 0.0, (), True))
            if isinstance(e, Reply) and isinstance(e.message, wire.Delta)
        ]

    (delta,) = answers(held + 0.1, THIRD)
    assert [wire.decode(item).body for item in delta.items] == ["old"]  # type: ignore[union-attr]
    spacing = peer.config.digest_spacing
    assert answers(held + 0.1 + spacing / 2, FOURTH) == []  # another stranger, too soon
    assert len(answers(held + 0.1 + spacing, FOURTH)) == 1


def _crossing() -> tuple[PeerState, float]:
    """A peer with its links (OTHER, THIRD) and FOURTH listed, and the time of its first
    round, at which it sent its digest to FOURTH, the one peer it does not link to."""
    peer = _linked_and_listed(OTHER, THIRD, listed=(FOURTH,), cross_rounds=1)
    first = 10.0 + peer.config.liveness_interval
    out = peer.timers(first)
    assert [s.to for s in _sends(out, wire.Digest) if s.to not in (OTHER, THIRD)] == [FOURTH]
    return peer, first


def test_a_digest_across_that_brings_what_we_never_had_links_to_its_sender() -> None:
    peer, first = _crossing()
    news = wire.encode(wire.Gossip(FOURTH, 1, 1.7e9, "from another part"))
    out = peer.answer(first + 0.1, FOURTH, wire.Delta(FOURTH, (news,), False))
    assert records.NeighbourBridged(FOURTH, 1) in out
    connect = Connect(FOURTH, "tcp://10.0.0.4:6001")
    # the crossing's DEALER, closed before the link opens its own (which watches its
    # connection)
    assert out.index(Disconnect(FOURTH)) < out.index(connect)
    assert [s.to for s in _sends(out, wire.Link)] == [FOURTH]


def test_a_digest_across_that_brings_nothing_new_links_nothing_and_its_dealer_closes() -> None:
    peer, first = _crossing()
    known = wire.encode(wire.Gossip(FOURTH, 1, 1.7e9, "heard already"))
    peer.answer(first + 0.05, OTHER, wire.History(OTHER, (known,)))
    out = peer.answer(first + 0.1, FOURTH, wire.Delta(FOURTH, (known,), False))
    assert out == [Disconnect(FOURTH)]
    assert peer.answer(first + 0.2, FOURTH, wire.Delta(FOURTH, (known,), False)) == []


def _across(peer: PeerState, now: float) -> list[str]:
    """A round at ``now``, its pings answered: where its digests across went."""
    out = peer.timers(now)
    for ping in _sends(out, wire.Ping):
        assert isinstance(ping.message, wire.Ping)
        peer.answer(now + 0.01, ping.to, wire.Pong(ping.message.peer, ping.message.ts, True))
    return [s.to for s in _sends(out, wire.Digest) if s.to not in (OTHER, THIRD)]


def test_a_digest_across_left_unanswered_closes_its_dealer_at_the_next_round() -> None:
    peer, first = _crossing()
    assert Disconnect(FOURTH) in peer.timers(first + peer.config.liveness_interval)


def test_at_rest_each_ask_across_waits_twice_as_long_and_a_message_brings_them_back() -> None:
    peer, first = _crossing()  # cross_rounds 1: max_cross_rounds 4 at 13 s
    interval = peer.config.liveness_interval
    asked = [k for k in range(1, 16) if _across(peer, first + k * interval)]
    assert asked == [2, 6, 10, 14]  # rounds 3, 7, 11, 15: 2, then 4 apart
    peer.broadcast(first + 14.5 * interval, "news")
    assert _across(peer, first + 15 * interval) == []
    assert _across(peer, first + 16 * interval) == []
    assert _across(peer, first + 17 * interval) == []
    assert _across(peer, first + 18 * interval) == [FOURTH]  # the 4 set before the news
    assert _across(peer, first + 19 * interval) == [FOURTH]  # and 1 apart again after


@pytest.mark.parametrize("query_for", [5.0, 20.0])  # ends before the crossing / after it
def test_a_dealer_a_query_and_a_digest_across_share_is_closed_by_the_last_to_end(
    query_for: float,
) -> None:
    peer, first = _crossing()
    fourth = wire.Fact(FOURTH, 1, 0, "alive", 1.7e9 + 10, ())
    peer.request(first + 0.1, b"x", wire.Facts(OTHER, (fourth,), False, False))
    _, out = peer.query(first + 0.2, "info", "", (), query_for)
    assert FOURTH in [s.to for s in _sends(out, wire.Query)]
    ends = sorted([first + 0.3 + query_for, first + peer.config.liveness_interval])
    assert Disconnect(FOURTH) not in peer.timers(ends[0])
    assert Disconnect(FOURTH) in peer.timers(ends[1])


def test_a_strangers_digest_holding_what_we_lack_brings_our_own_ask_across_forward() -> None:
    peer, first = _crossing()
    interval = peer.config.liveness_interval
    lacked = wire.Holding("10.0.0.5:6000", 1, 5, ())
    peer.request(first + 0.5, b"x", wire.Digest("10.0.0.5:6000", 0.0, (lacked,), True))
    assert _across(peer, first + interval) == [FOURTH]  # not two rounds later


def test_member_facts_or_sums_from_a_stranger_are_refused_each_a_bad_message() -> None:
    peer = _linked(OTHER)
    stranger = "10.9.9.9:6000"
    forged = wire.Fact(OTHER, 1, 0, "dead", 1.7e9 + 10, ())
    outs = [
        peer.request(11.0 + k / 100, b"s", wire.Facts(stranger, (forged,), False, False))
        for k in range(5)
    ]
    outs.append(peer.request(11.1, b"s", wire.Sums(stranger, bytes(2048), False)))
    bad = [e for out in outs for e in out if isinstance(e, records.BadMessage)]
    # each counted; the event sink says them once a while (bad_quiet)
    assert len(bad) == 6 and all("not a neighbour" in e.reason for e in bad)
    assert peer.members.get(OTHER) is None or peer.members.get(OTHER).state != "dead"  # type: ignore[union-attr]
    assert not [e for out in outs for e in out if isinstance(e, Send)]


def test_a_query_from_a_stranger_is_refused_and_an_answer_over_the_limit_sent_as_toolarge() -> None:
    peer = _linked(OTHER)
    peer.handlers.add("q")
    out = peer.request(11.0, b"s", wire.Query("10.9.9.9:6000", 1, "q", ""))
    assert [e for e in out if isinstance(e, records.BadMessage)]
    assert not [e for e in out if isinstance(e, Reply)]
    (answer,) = peer.answered(11.1, b"s", OTHER, 4, "x" * (peer.config.max_answer + 1))
    assert isinstance(answer, Reply) and isinstance(answer.message, wire.Answer)
    assert (answer.message.status, answer.message.id) == ("toolarge", 4)


def test_a_clients_query_flood_is_refused_each_time_and_said_once_a_second() -> None:
    peer = _linked(OTHER, max_queries=1)
    alive = wire.Fact(OTHER, 1, 0, "alive", 1.7e9 + 10, ())
    peer.request(10.9, b"x", wire.Facts(OTHER, (alive,), False, False))  # asked, never answers
    local = Client("127.0.0.1", local=True)
    outs = [
        peer.request(11.0 + k / 1000, b"c", wire.Ask("q", "", (), 5.0), local) for k in range(50)
    ]
    refusals = [e for out in outs for e in out if isinstance(e, Reply)]
    refusals = [r for r in refusals if isinstance(r.message, wire.Refused)]
    assert len(refusals) == 49
    said = [e for out in outs for e in out if isinstance(e, records.QueryRefused)]
    assert [(e.address, e.count) for e in said] == [("127.0.0.1", 1)]
    later = peer.timers(12.5)
    assert [e.count for e in later if isinstance(e, records.QueryRefused)] == [48]


def test_a_neighbours_sums_are_answered_a_digest_spacing_apart_at_most() -> None:
    peer = _linked(OTHER)
    empty = wire.Sums(OTHER, bytes(2048), False)  # it holds nothing: everything differs
    answers = [_sends(peer.request(11.0 + k / 1000, b"x", empty), wire.Facts) for k in range(20)]
    assert sum(len(a) for a in answers) == 1
    later = peer.request(11.0 + peer.config.digest_spacing, b"x", empty)
    assert len(_sends(later, wire.Facts)) == 1


def test_the_member_list_and_what_it_turned_away_are_gauges() -> None:
    peer = _linked(OTHER, max_members=2)
    facts = tuple(wire.Fact(f"10.0.0.{k}:6000", 1, 0, "alive", 1.7e9 + 10, ()) for k in (2, 3))
    peer.request(11.0, b"x", wire.Facts(OTHER, facts, False, False))
    assert (peer.gauges()["members"], peer.gauges()["members_refused"]) == (2, 1)


def test_a_link_up_brings_our_fact_and_our_sums_on_every_link() -> None:
    peer, _ = _peer()
    outs = []
    for other in (OTHER, THIRD):
        peer.request(10.1, b"x", wire.Link(other, f"tcp://{other[:-5]}:6001"))
        peer.subscription(10.2, other, True)
        outs.append(peer.request(10.3, b"x", wire.Ready(other)))
    for out, other in zip(outs, (OTHER, THIRD), strict=True):
        (facts,) = _sends(out, wire.Facts)
        assert isinstance(facts.message, wire.Facts) and facts.to == other
        assert facts.message.facts == (peer.members.own,)
        # on every link, not the first only: a first link may be to a newcomer that knows
        # as little as we do (the lists then waited for a liveness round, 11 s at 600
        # simulated peers)
        assert [s.to for s in _sends(out, wire.Sums)] == [other]


def test_a_buckets_facts_go_to_a_neighbour_once_a_digest_spacing_whatever_sums_cross() -> None:
    peer = _linked(OTHER)
    facts = tuple(wire.Fact(f"10.0.1.{k}:6000", 1, 0, "alive", 1.7e9 + 10, ()) for k in range(50))
    peer.request(10.9, b"x", wire.Facts(OTHER, facts, False, False))
    empty = bytes(2048)  # a joiner's: everything differs
    first = peer.request(11.0, b"x", wire.Sums(OTHER, empty, False))
    (sent,) = _sends(first, wire.Facts)
    assert isinstance(sent.message, wire.Facts) and len(sent.message.facts) == 51  # and ours
    assert len(_sends(first, wire.Sums)) == 1  # ours, for what it holds newer
    # its answer to our link-up sums, sent before ours reached it: nothing again
    crossed = peer.request(11.01, b"x", wire.Sums(OTHER, empty, True))
    assert _sends(crossed, wire.Facts) == []
    later = peer.request(11.01 + peer.config.digest_spacing, b"x", wire.Sums(OTHER, empty, True))
    assert len(_sends(later, wire.Facts)) == 1
