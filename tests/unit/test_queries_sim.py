"""Queries in the simulator (the real peer cores): a query asks the alive members whose
tags match, ends as soon as all answered or are gone, and at its timeout names the rest;
its bounds are said, not silent."""

from __future__ import annotations

from tests.support import Heard, simulated
from zgossip.protocol import records
from zgossip.protocol.peer import PeerState
from zgossip.simulate import Simulation

INTERVAL = 1.0


def _network(nodes: int = 20, **options: object) -> tuple[Simulation, Heard]:
    sim, heard = simulated(nodes, 11, INTERVAL, **options)
    for k, peer in enumerate(sim.peers()):
        sim.tag(peer.id, [("role", "db" if k % 4 == 0 else "web")])
        peer.handlers.add("ping")
    sim.advance(sim.now + 1.0)
    return sim, heard


def _query(sim: Simulation, querier: PeerState, timeout: float = 5.0, **tags: str) -> int:
    return sim.query(querier.id, "ping", tuple(sorted(tags.items())), timeout)


def _of(heard: list[tuple[float, str, records.Event]], node: str, kind: type) -> list:  # type: ignore[type-arg]
    return [(t, e) for t, n, e in heard if n == node and isinstance(e, kind)]


def test_a_query_asks_only_the_matching_members_and_ends_as_soon_as_all_answered() -> None:
    sim, heard = _network()
    querier = sim.peers()[1]
    start = sim.now
    query = _query(sim, querier, role="db")
    sim.advance(sim.now + 6.0)
    answers = [e for _, e in _of(heard, querier.id, records.QueryAnswered) if e.id == query]
    ((ended_at, ended),) = [(t, e) for t, e in _of(heard, querier.id, records.QueryEnded)]
    dbs = {p.id for k, p in enumerate(sim.peers()) if k % 4 == 0}
    assert {e.peer for e in answers} == dbs and {e.status for e in answers} == {"ok"}
    assert (ended.answered, ended.missing, ended.gone, ended.timed_out) == (len(dbs), [], [], False)
    assert ended_at - start < 0.1  # not at its 5 s timeout


def test_a_member_killed_first_is_named_gone_as_soon_as_it_is_known_dead() -> None:
    sim, heard = _network()
    querier, victim = sim.peers()[1], sim.peers()[4]  # 4: a db
    sim.stall([victim.id], 30.0)  # it answers nothing from now on ...
    _query(sim, querier, timeout=30.0, role="db")
    sim.advance(sim.now + 0.5)
    sim.kill([victim.id])  # ... and then dies
    sim.advance(sim.now + 20.0)
    ((ended_at, ended),) = _of(heard, querier.id, records.QueryEnded)
    failed = min(
        t for t, e in _of(heard, querier.id, records.MemberFailed) if e.member == victim.id
    )
    assert ended.gone == [victim.id] and ended.missing == [] and not ended.timed_out
    assert ended_at == failed


def test_a_query_times_out_naming_the_members_that_never_answered() -> None:
    sim, heard = _network()
    querier, silent = sim.peers()[1], sim.peers()[8]  # 8: a db
    sim.stall([silent.id], 10.0)
    start = sim.now
    _query(sim, querier, timeout=2.0, role="db")
    sim.advance(sim.now + 3.0)
    ((ended_at, ended),) = _of(heard, querier.id, records.QueryEnded)
    assert ended.missing == [silent.id] and ended.timed_out
    assert abs(ended_at - start - 2.0) < 0.01


def test_no_handler_answers_at_once_and_too_wide_or_too_many_queries_are_refused() -> None:
    sim, heard = _network(query_reach=5, max_queries=1)
    querier = sim.peers()[1]
    sim.peers()[0].handlers.discard("ping")
    assert _query(sim, querier, role="web") == 0  # 15 members: over the reach of 5
    assert "over the 5 one query may ask" in str(
        _of(heard, querier.id, records.QueryEnded)[-1][1].refused
    )
    assert _query(sim, querier, timeout=5.0, role="db") != 0
    assert _query(sim, querier, role="db") == 0  # one already runs
    sim.advance(sim.now + 1.0)
    statuses = {e.peer: e.status for _, e in _of(heard, querier.id, records.QueryAnswered)}
    assert statuses[sim.peers()[0].id] == "nohandler"


def test_a_querier_past_the_rate_is_answered_busy_and_told_once() -> None:
    sim, heard = _network(query_rate=2.0)
    querier, db = sim.peers()[1], sim.peers()[0]
    for _ in range(3):
        _query(sim, querier, role="db")
        sim.advance(sim.now + 0.05)
    statuses = [
        e.status for _, e in _of(heard, querier.id, records.QueryAnswered) if e.peer == db.id
    ]
    assert statuses == ["ok", "ok", "busy"]
    sim.advance(sim.now + 2.0)
    assert [e.refused for _, e in _of(heard, db.id, records.QueryBusy)] == [1]
