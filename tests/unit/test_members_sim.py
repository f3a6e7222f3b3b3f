"""Member lists in the simulator (the real peer and seed cores): every live peer comes to
hold every member, with its latest tags, and hears of each leave and death."""

from __future__ import annotations

from tests.support import Heard, simulated
from zgossip.protocol import records
from zgossip.simulate import Simulation

INTERVAL = 1.0  # liveness interval: a sums round


def _network(nodes: int = 30, **options: object) -> tuple[Simulation, Heard]:
    return simulated(nodes, 7, INTERVAL, **options)


def _states(sim: Simulation, member: str) -> dict[str, str | None]:
    """What each live peer's list says of ``member``."""
    out: dict[str, str | None] = {}
    for peer in sim.peers():
        fact = peer.members.get(member)
        out[peer.id] = None if fact is None else fact.state
    return out


def test_every_live_peer_lists_every_member_alive_once_joined() -> None:
    sim, _ = _network()
    everyone = {peer.id for peer in sim.peers()}
    for peer in sim.peers():
        assert {fact.peer for fact in peer.members if fact.state == "alive"} == everyone


def test_a_tag_change_reaches_every_list_and_each_peer_hears_of_it_once() -> None:
    sim, heard = _network()
    tagged = sim.peers()[5].id
    start = len(heard)
    sim.tag(tagged, [("role", "db")])
    sim.advance(sim.now + 0.5)
    for peer in sim.peers():
        assert peer.members.get(tagged).tags == (("role", "db"),)  # type: ignore[union-attr]
    updates = [node for _, node, e in heard[start:] if isinstance(e, records.MemberUpdated)]
    assert sorted(updates) == sorted(p.id for p in sim.peers() if p.id != tagged)


def test_a_peer_that_leaves_is_left_everywhere_at_once() -> None:
    sim, heard = _network()
    leaver = sim.peers()[3].id
    sim.leave([leaver])
    sim.advance(sim.now + 0.5)
    assert set(_states(sim, leaver).values()) == {"left"}
    lefts = [e for _, _, e in heard if isinstance(e, records.MemberLeft) and e.member == leaver]
    assert len(lefts) == len(sim.peers())


def test_a_killed_peer_is_failed_everywhere_soon_after_the_seeds_decide() -> None:
    sim, heard = _network()
    victim = sim.peers()[7].id
    sim.kill([victim])
    sim.advance(sim.now + 5 * INTERVAL)
    assert set(_states(sim, victim).values()) == {"dead"}
    decided = min(t for t, _, e in heard if isinstance(e, records.PeerRemoved) and e.peer == victim)
    failed = [t for t, _, e in heard if isinstance(e, records.MemberFailed) and e.member == victim]
    assert len(failed) == len(sim.peers())
    assert max(failed) - decided < 0.5


def test_a_peer_restarted_on_its_address_is_alive_again_everywhere() -> None:
    sim, _ = _network()
    victim = sim.peers()[7].id
    sim.kill([victim])
    sim.advance(sim.now + 5 * INTERVAL)
    sim.restart([victim])
    sim.advance(sim.now + 3 * INTERVAL)
    assert set(_states(sim, victim).values()) == {"alive"}


def test_a_peer_given_up_for_dead_while_stopped_refutes_it_and_is_alive_everywhere() -> None:
    sim, heard = _network()
    victim = sim.peers()[4].id
    sim.stall([victim], 10 * INTERVAL)  # SIGSTOP: the seeds decide it dead meanwhile
    sim.advance(sim.now + 9 * INTERVAL)
    assert any(isinstance(e, records.PeerRemoved) and e.peer == victim for _, _, e in heard)
    assert "dead" in _states(sim, victim).values()
    sim.advance(sim.now + 6 * INTERVAL)  # SIGCONT, and a few rounds
    assert any(isinstance(e, records.MemberRefuted) and n == victim for _, n, e in heard)
    assert set(_states(sim, victim).values()) == {"alive"}


def test_a_late_joiner_gets_the_whole_list_from_the_sums() -> None:
    sim, _ = _network(nodes=60)
    gone = [p.id for p in sim.peers()[10:15]]
    sim.kill(gone)
    sim.advance(sim.now + 5 * INTERVAL)
    late = sim.join()
    sim.advance(sim.now + 4 * INTERVAL)
    newcomer = next(p for p in sim.peers() if p.id == late)
    assert {f.peer for f in newcomer.members if f.state == "alive"} == {p.id for p in sim.peers()}
    assert {f.peer for f in newcomer.members if f.state == "dead"} == set(gone)


def test_peers_without_member_lists_keep_only_their_own_fact() -> None:
    sim, _ = simulated(20, 7, INTERVAL, member_list=False)
    assert all([f.peer for f in peer.members] == [peer.id] for peer in sim.peers())
