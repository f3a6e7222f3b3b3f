"""The seed's core with no sockets: inputs and the time in, effects out."""

from __future__ import annotations

import random

from zgossip.protocol import records, wire
from zgossip.protocol.config import Address, Config
from zgossip.protocol.core import Client
from zgossip.protocol.effects import Dial, Effect, OpenProbe, Reply, Send
from zgossip.protocol.seed import SeedState

SEEDS = [Address("10.255.0.1", 5000), Address("10.255.0.2", 5000), Address("10.255.0.3", 5000)]
ME = str(SEEDS[0])


def _seed(**options: object) -> SeedState:
    config = Config(seeds=SEEDS, address=SEEDS[0], **options)  # type: ignore[arg-type]
    return SeedState(config, rng=random.Random(1), now=100.0, wall_offset=1.7e9)


def _peer(n: int) -> str:
    return f"10.0.0.{n}:6000"


def _register(seed: SeedState, n: int, now: float = 100.0) -> list[Effect]:
    return seed.request(now, b"who", wire.Register(_peer(n), f"tcp://10.0.0.{n}:6001", ()))


def test_a_registration_is_answered_with_the_others_and_logged() -> None:
    seed = _seed()
    _register(seed, 1)
    out = _register(seed, 2)
    assert records.PeerRegistered(_peer(2)) in out
    (reply,) = [e for e in out if isinstance(e, Reply)]
    assert reply.to == b"who" and isinstance(reply.message, wire.Peers)
    assert [info.id for info in reply.message.peers] == [_peer(1)]


def test_a_registration_answer_is_bounded_however_many_peers_there_are() -> None:
    seed = _seed(sample_size=8)
    for n in range(1, 200):
        _register(seed, n)
    (reply,) = [e for e in _register(seed, 7) if isinstance(e, Reply)]
    assert isinstance(reply.message, wire.Peers)
    ids = [info.id for info in reply.message.peers]
    assert len(ids) == 8 == len(set(ids)) and _peer(7) not in ids


def test_the_whole_list_comes_page_by_page() -> None:
    seed = _seed(page_size=3)
    for n in range(1, 9):
        _register(seed, n)
    listed, offset, total = [], 0, None
    while total is None or offset < total:
        (reply,) = seed.request(101.0, b"asker", wire.Page(offset))
        assert isinstance(reply, Reply) and isinstance(reply.message, wire.Listing)
        page = reply.message
        assert page.offset == offset and len(page.peers) <= 3
        listed += [info.id for info in page.peers]
        offset, total = offset + len(page.peers), page.total
    assert listed == [_peer(n) for n in range(1, 9)]
    (first,) = seed.request(101.0, b"old client", wire.ListPeers())
    assert isinstance(first, Reply) and isinstance(first.message, wire.Peers)
    assert len(first.message.peers) == 3  # the old query: the first page, never a huge frame


def test_a_dead_report_opens_a_case_the_other_seeds_hear_of_and_a_probe() -> None:
    seed = _seed()
    _register(seed, 1), _register(seed, 2)
    out = seed.request(101.0, b"r", wire.Dead(_peer(2), 1.7e9, _peer(1)))
    (probe,) = [e for e in out if isinstance(e, OpenProbe)]
    assert probe.target == _peer(2) and probe.ping == wire.Ping(ME, seed.clock.time())
    told = {e.to for e in out if isinstance(e, Send) and isinstance(e.message, wire.Suspect)}
    assert told == {str(s) for s in SEEDS[1:]}


def test_a_probe_that_fails_is_a_dead_vote_and_a_majority_removes_the_peer() -> None:
    seed = _seed()
    _register(seed, 1), _register(seed, 2)
    seed.request(101.0, b"r", wire.Dead(_peer(2), 1.7e9, _peer(1)))
    seed.probe_refused(101.5, _peer(2))  # our own vote: dead
    out = seed.request(101.6, b"s", wire.Vote(str(SEEDS[1]), _peer(2), True, _peer(1)))
    removed = [e for e in out if isinstance(e, records.PeerRemoved)]
    assert removed == [records.PeerRemoved(_peer(2), "dead", _peer(1), sorted([ME, str(SEEDS[1])]))]
    assert _peer(2) not in seed.registry


def test_a_probe_not_answered_in_time_ends_by_the_clock() -> None:
    seed = _seed(liveness_interval=1.0)
    _register(seed, 1), _register(seed, 2)
    seed.request(101.0, b"r", wire.Dead(_peer(2), 1.7e9, _peer(1)))
    deadline = seed.deadline()
    assert deadline is not None and deadline <= 101.0 + seed.config.request_timeout
    out = seed.timers(deadline)
    assert any(isinstance(e, Send) and isinstance(e.message, wire.Vote) for e in out)


def test_a_probe_that_could_not_be_opened_is_no_vote_for_death() -> None:
    seed = _seed()
    _register(seed, 1), _register(seed, 2)
    seed.request(101.0, b"r", wire.Dead(_peer(2), 1.7e9, _peer(1)))
    out = seed.probe_failed(101.0, _peer(2), "Too many open files")  # it tells nothing
    assert not [e for e in out if isinstance(e, Send) and isinstance(e.message, wire.Vote)]
    out = seed.request(101.6, b"s", wire.Vote(str(SEEDS[1]), _peer(2), True, _peer(1)))
    assert not [e for e in out if isinstance(e, records.PeerRemoved)]  # one dead vote: not ours
    assert _peer(2) in seed.registry
    later = seed.timers(101.0 + seed.config.death_window)
    assert records.ReportUndecided(_peer(2)) in later


def test_a_seed_believes_only_the_links_both_ends_name() -> None:
    seed = _seed(max_degree=100)
    for n in range(1, 6):
        _register(seed, n)
    everyone = tuple(_peer(n) for n in range(1, 300))  # a Sybil claims every peer, and more
    seed.request(100.0, b"sybil", wire.Register(_peer(9), "tcp://10.0.0.9:6001", everyone))
    seed.request(100.0, b"a", wire.Register(_peer(1), "tcp://10.0.0.1:6001", (_peer(2),)))
    seed.request(100.0, b"b", wire.Register(_peer(2), "tcp://10.0.0.2:6001", (_peer(1),)))
    (reply,) = [e for e in _register(seed, 3) if isinstance(e, Reply)]
    assert isinstance(reply.message, wire.Peers)
    degrees = {info.id: info.degree for info in reply.message.peers}
    assert degrees[_peer(9)] == 0  # no one names it
    assert (degrees[_peer(1)], degrees[_peer(2)]) == (0, 1)  # 2 named 1 after 1 named 2
    seed.request(101.0, b"a", wire.Register(_peer(1), "tcp://10.0.0.1:6001", (_peer(2),)))
    assert {i.id: i.degree for i in seed.registry.snapshot()}[_peer(1)] == 1  # its refresh
    seed.request(102.0, b"x", wire.Leave(_peer(2)))
    seed.request(103.0, b"a", wire.Register(_peer(1), "tcp://10.0.0.1:6001", (_peer(2),)))
    assert {i.id: i.degree for i in seed.registry.snapshot()}[_peer(1)] == 0  # it left


def _roster(seed: SeedState, now: float) -> dict[str, tuple[str, float]]:
    (reply,) = seed.request(now, b"asker", wire.Members(0))
    assert isinstance(reply, Reply) and isinstance(reply.message, wire.Roster)
    return {m.peer: (m.state, m.since) for m in reply.message.members}


def test_members_say_what_became_of_each_peer_and_since_when() -> None:
    seed = _seed(max_departed=2, departed_for=60.0)
    for n in range(1, 6):
        _register(seed, n)
    seed.request(110.0, b"r", wire.Leave(_peer(1)))
    seed.request(111.0, b"r", wire.Dead(_peer(2), 1.7e9, _peer(3)))  # a case: a suspect
    assert _roster(seed, 112.0) == {
        _peer(1): ("left", 1.7e9 + 110.0),
        _peer(2): ("suspect", 1.7e9 + 111.0),
        **{_peer(n): ("alive", 1.7e9 + 100.0) for n in (3, 4, 5)},
    }
    seed.certificates(112.5, {_peer(n): b"key %d" % n for n in (4, 5)})  # at start
    seed.certificates(113.0, {_peer(5): b"key 5"})  # 4's key went: revoked
    seed.request(114.0, b"r", wire.Leave(_peer(5)))  # the third departed: the first forgotten
    roster = _roster(seed, 115.0)
    assert _peer(1) not in roster
    assert roster[_peer(4)] == ("revoked", 1.7e9 + 113.0)
    assert roster[_peer(5)] == ("left", 1.7e9 + 114.0)
    _register(seed, 5, now=116.0)  # back: alive again, since it registered anew
    assert _roster(seed, 116.0)[_peer(5)] == ("alive", 1.7e9 + 116.0)
    assert _peer(4) not in _roster(seed, 174.0)  # past departed_for


def test_a_pong_on_a_probe_is_a_vote_for_life_and_anything_else_is_bad() -> None:
    seed = _seed()
    _register(seed, 1), _register(seed, 2)
    seed.request(101.0, b"r", wire.Dead(_peer(2), 1.7e9, _peer(1)))
    out = seed.probe_answer(101.1, _peer(2), wire.Links(_peer(2), ()))
    assert [e.reason for e in out if isinstance(e, records.BadMessage)] == [
        "unexpected links answer to a probe"
    ]
    out = seed.probe_answer(101.2, _peer(2), wire.Pong(ME, 1.7e9, linked=False))
    votes = [e.message for e in out if isinstance(e, Send) and isinstance(e.message, wire.Vote)]
    assert votes and not any(vote.dead for vote in votes)


def test_a_seed_dials_the_other_seeds_when_it_starts_and_refuses_to_gossip() -> None:
    seed = _seed()
    out = seed.start(100.0)
    assert [e.to for e in out if isinstance(e, Dial)] == [str(s) for s in SEEDS[1:]]
    (refused,) = seed.request(100.1, b"c", wire.Say("hello"))
    assert isinstance(refused, Reply) and refused.message == wire.Refused(
        ME, "a seed does not gossip"
    )


def test_a_key_that_changes_or_goes_revokes_its_node_and_the_first_reading_no_one() -> None:
    seed = _seed()
    for n in (1, 2, 3):
        _register(seed, n)
    keys = {_peer(n): b"key %d" % n for n in (1, 2, 3)}
    assert not [e for e in seed.certificates(101.0, keys) if isinstance(e, records.PeerRevoked)]
    out = seed.certificates(102.0, {_peer(1): b"key 1", _peer(2): b"new key"})
    revoked = {e.peer for e in out if isinstance(e, records.PeerRevoked)}
    assert revoked == {_peer(2), _peer(3)} and _peer(1) in seed.registry


def test_a_monitor_is_attached_sent_the_events_it_wants_and_let_go_when_silent() -> None:
    seed = _seed(watch_for=3.0)
    out = seed.request(101.0, b"m", wire.Watch(("peer.*",), 0), Client("127.0.0.1", True))
    assert records.MonitorAttached("127.0.0.1", ["peer.*"]) in out and seed.watching
    assert Reply(b"m", wire.Watched(ME, 0, ())) in out
    lines = [("peer.registered", '{"event":"peer.registered"}', "p"), ("stopped", "{}", "")]
    (sent,) = seed.watched(102.0, lines)
    assert sent == Reply(b"m", wire.Watched(ME, 0, (('{"event":"peer.registered"}', "p"),)))
    out = seed.watched(104.5, [])  # silent past watch_for: let go
    assert out == [records.MonitorDetached("127.0.0.1")] and not seed.watching
