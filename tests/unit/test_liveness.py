"""Liveness bookkeeping: unanswered pings become liveness.missed, then neighbour.dead."""

from __future__ import annotations

import pytest

from zgossip.protocol.clock import FakeClock
from zgossip.protocol.deadlines import Deadlines
from zgossip.protocol.liveness import (
    Liveness,
    Probes,
    ProbeTimeout,
    Round,
    Suspicions,
    SuspicionTimeout,
)

A = "10.0.0.1:5000"
B = "10.0.0.2:5000"
C = "10.0.0.3:5000"


class Rounds:
    """Runs liveness rounds with timestamps 1, 2, 3, ... as a peer does every interval."""

    def __init__(self, liveness: Liveness) -> None:
        self.liveness = liveness
        self.ts = 0.0

    def next(self) -> Round:
        self.ts += 1.0
        return self.liveness.round(self.ts)

    def answer(self, neighbour: str, ts: float | None = None) -> None:
        self.liveness.answered(neighbour, self.ts if ts is None else ts)


def _watching(*neighbours: str, limit: int = 3) -> Rounds:
    liveness = Liveness(limit)
    for neighbour in neighbours:
        liveness.watch(neighbour)
    return Rounds(liveness)


def test_every_watched_neighbour_is_pinged_each_round() -> None:
    rounds = _watching(A, B, C)
    first = rounds.next()
    assert sorted(first.ping) == [A, B, C]
    assert first.missed == []
    assert first.dead == []


def test_dead_neighbour_reported_after_three_missed_pings() -> None:
    rounds = _watching(A)
    assert rounds.next() == Round(ping=[A])  # the first ping
    # liveness.missed: misses 1, 2, 3 in the rounds that follow; neighbour.dead on the 3rd.
    assert rounds.next() == Round(ping=[A], missed=[(A, 1)])
    assert rounds.next() == Round(ping=[A], missed=[(A, 2)])
    assert rounds.next() == Round(ping=[], missed=[(A, 3)], dead=[A])
    assert A not in rounds.liveness
    assert rounds.next() == Round()  # reported once, then no longer watched


def test_dead_after_exactly_limit_missed_pings_for_any_limit() -> None:
    for limit in (1, 2, 5):
        rounds = _watching(A, limit=limit)
        rounds.next()
        for miss in range(1, limit):
            result = rounds.next()
            assert result.missed == [(A, miss)]
            assert result.dead == []
        result = rounds.next()
        assert result.missed == [(A, limit)]
        assert result.dead == [A]


def test_neighbour_that_answers_every_ping_is_never_missed() -> None:
    rounds = _watching(A)
    for _ in range(50):
        result = rounds.next()
        assert result == Round(ping=[A])
        rounds.answer(A)


def test_answer_resets_the_misses() -> None:
    rounds = _watching(A)
    rounds.next()
    rounds.next()
    assert rounds.next().missed == [(A, 2)]
    rounds.answer(A)
    assert rounds.next() == Round(ping=[A])
    assert rounds.next().missed == [(A, 1)]  # counting starts again from one
    assert rounds.next().missed == [(A, 2)]
    assert rounds.next().dead == [A]


def test_late_pong_echoing_an_older_ping_still_resets_the_misses() -> None:
    rounds = _watching(A)
    rounds.next()
    first_ping = rounds.ts
    rounds.next()
    assert rounds.next().missed == [(A, 2)]
    rounds.answer(A, ts=first_ping)  # the first ping's pong, two rounds late
    result = rounds.next()
    assert result.missed == [(A, 1)]  # the current ping is still unanswered ...
    assert result.dead == []  # ... but the neighbour is alive: no third miss
    assert rounds.next().missed == [(A, 2)]
    assert rounds.next().dead == [A]


def test_neighbour_whose_pongs_are_always_a_round_late_stays_alive() -> None:
    rounds = _watching(A)
    rounds.next()
    for _ in range(30):
        previous = rounds.ts
        result = rounds.next()
        assert result.dead == []
        rounds.answer(A, ts=previous)


def test_only_the_silent_neighbour_dies() -> None:
    rounds = _watching(A, B, C)
    dead: list[str] = []
    for _ in range(6):
        dead += rounds.next().dead
        rounds.answer(A)
        rounds.answer(C)
    assert dead == [B]
    assert A in rounds.liveness
    assert C in rounds.liveness


def test_forget_stops_watching() -> None:
    rounds = _watching(A, B)
    rounds.next()
    rounds.liveness.forget(A)
    assert A not in rounds.liveness
    for _ in range(5):
        result = rounds.next()
        assert A not in result.ping
        assert all(neighbour != A for neighbour, _ in result.missed)
        assert A not in result.dead
        rounds.answer(B)


def test_forget_of_an_unknown_neighbour_is_harmless() -> None:
    rounds = _watching(A)
    rounds.liveness.forget(B)
    assert A in rounds.liveness


def test_answer_from_an_unwatched_neighbour_is_ignored() -> None:
    rounds = _watching(A)
    rounds.next()
    rounds.answer(B)
    assert B not in rounds.liveness
    assert rounds.next().missed == [(A, 1)]


def test_forgotten_then_watched_again_starts_afresh() -> None:
    rounds = _watching(A)
    rounds.next()
    rounds.next()
    rounds.next()
    rounds.liveness.forget(A)
    rounds.liveness.watch(A)
    assert rounds.next() == Round(ping=[A])
    assert rounds.next().missed == [(A, 1)]


def test_watching_twice_keeps_the_count() -> None:
    rounds = _watching(A)
    rounds.next()
    rounds.next()
    rounds.liveness.watch(A)
    assert rounds.next().missed == [(A, 2)]


def test_neighbour_watched_between_rounds_is_first_pinged_not_missed() -> None:
    rounds = _watching(A)
    rounds.next()
    rounds.answer(A)
    rounds.liveness.watch(B)
    result = rounds.next()
    assert sorted(result.ping) == [A, B]
    assert result.missed == []


def test_a_late_round_judges_no_one_but_still_pings() -> None:
    liveness = Liveness(limit=1)
    liveness.watch("10.0.0.2:5000")
    liveness.round(1.0)  # pinged, no answer yet
    late = liveness.round(2.0, judge=False)  # this peer stalled: the pong may be unread
    assert late.missed == [] and late.dead == [] and late.ping == ["10.0.0.2:5000"]
    liveness.answered("10.0.0.2:5000", 2.0)
    assert liveness.round(3.0).dead == []


# -- probes and indirect probes --------------------------------------------------------------


def test_a_probe_is_sent_once_and_its_answer_serves_every_waiter() -> None:
    clock, deadlines = FakeClock(), Deadlines[ProbeTimeout]()
    probes: Probes[str] = Probes(deadlines, clock, timeout=2.0)
    assert probes.open(A, "seed") is True
    assert probes.open(A, "helper") is False  # one ping out is enough
    assert A in probes and deadlines.next() == clock.monotonic() + 2.0
    assert probes.answered(A) == ["seed", "helper"]
    assert probes.answered(A) == [] and A not in probes and deadlines.next() is None


def test_an_unanswered_probe_fails_exactly_at_its_timeout() -> None:
    clock, deadlines = FakeClock(), Deadlines[ProbeTimeout]()
    probes: Probes[str] = Probes(deadlines, clock, timeout=2.0)
    probes.open(A, "first")
    clock.advance(1.0)
    probes.open(B, "second")
    clock.advance(0.999)
    assert deadlines.due(clock.monotonic()) == []
    clock.advance(0.001)
    assert deadlines.due(clock.monotonic()) == [ProbeTimeout(A)]
    assert probes.expired(A) == ["first"] and A not in probes
    clock.advance(1.0)
    assert deadlines.due(clock.monotonic()) == [ProbeTimeout(B)]
    assert probes.expired(B) == ["second"]


def _suspicions(
    clock: FakeClock | None = None,
) -> tuple[Suspicions, Deadlines[SuspicionTimeout]]:
    deadlines = Deadlines[SuspicionTimeout]()
    return Suspicions(deadlines, clock or FakeClock(), timeout=1.0), deadlines


def test_one_helper_reaching_the_suspect_refutes_the_suspicion() -> None:
    suspicions, deadlines = _suspicions()
    suspicions.open(C, [A, B])
    assert suspicions.result(C, A, alive=True) is True
    assert C not in suspicions and deadlines.next() is None
    assert suspicions.result(C, B, alive=False) is None  # closed already


def test_the_suspect_is_dead_only_when_every_helper_failed_to_reach_it() -> None:
    suspicions, _ = _suspicions()
    suspicions.open(C, [A, B])
    assert suspicions.result(C, A, alive=False) is None
    assert suspicions.result(C, "10.9.9.9:1", alive=False) is None  # not asked: not counted
    assert suspicions.result(C, A, alive=False) is None  # counted once
    assert suspicions.result(C, B, alive=False) is False
    assert C not in suspicions


def test_helpers_silent_until_the_timeout_leave_the_suspect_dead() -> None:
    clock = FakeClock()
    suspicions, deadlines = _suspicions(clock)
    suspicions.open(C, [A])
    assert deadlines.next() == clock.monotonic() + 1.0
    clock.advance(0.5)
    assert deadlines.due(clock.monotonic()) == []
    clock.advance(0.5)
    assert deadlines.due(clock.monotonic()) == [SuspicionTimeout(C)]
    assert suspicions.expired(C) is True and C not in suspicions
    assert suspicions.expired(C) is False


def test_the_suspect_answering_itself_closes_its_suspicion() -> None:
    suspicions, deadlines = _suspicions()
    suspicions.open(C, [A])
    assert suspicions.refute(C) is True
    assert suspicions.refute(C) is False
    assert suspicions.result(C, A, alive=False) is None
    assert deadlines.next() is None


def test_an_indirect_probe_needs_a_helper() -> None:
    with pytest.raises(ValueError, match="helper"):
        _suspicions()[0].open(C, [])
