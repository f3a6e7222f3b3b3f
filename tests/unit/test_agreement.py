"""Seeds agree on a death by majority: a forged or mistaken report evicts no one alone."""

from __future__ import annotations

import pytest

from zgossip.protocol.agreement import Agreement, AgreementKey, CaseTimeout, VerdictExpiry
from zgossip.protocol.clock import FakeClock
from zgossip.protocol.deadlines import Deadlines

S1, S2, S3, S4 = "10.0.1.1:5001", "10.0.1.2:5001", "10.0.1.3:5001", "10.0.1.4:5001"
P, REPORTER = "10.0.0.7:6000", "10.0.0.8:6000"
PATIENCE = 39.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _agreement(
    clock: FakeClock,
    *seeds: str,
    deadlines: Deadlines[AgreementKey] | None = None,
    max_cases: int = 256,
) -> Agreement:
    return Agreement(
        seeds or (S1, S2, S3),
        S1,
        Deadlines() if deadlines is None else deadlines,
        clock,
        patience=PATIENCE,
        max_cases=max_cases,
    )


def _expire(
    agreement: Agreement, deadlines: Deadlines[AgreementKey], clock: FakeClock
) -> list[str]:
    """Act on the keys due, as the seed's core does; the peers whose cases closed undecided."""
    undecided = []
    for key in deadlines.due(clock.monotonic()):
        match key:
            case CaseTimeout(peer=peer):
                if agreement.expired(peer):
                    undecided.append(peer)
            case VerdictExpiry(peer=peer):
                agreement.forget(peer)
    return undecided


def test_quorum_is_a_majority_of_the_seeds_this_one_included(clock: FakeClock) -> None:
    assert _agreement(clock).quorum == 2
    assert _agreement(clock, S1, S2, S3, S4).quorum == 3
    unlisted = Agreement([S2, S3], S1, Deadlines(), clock, patience=1.0)
    assert unlisted.seeds == {S1, S2, S3}  # itself, though unlisted


def test_one_vote_of_three_decides_nothing(clock: FakeClock) -> None:
    agreement = _agreement(clock)
    assert agreement.open(P, REPORTER) is True
    assert agreement.vote(P, S1, True) is None
    assert P in agreement and agreement.verdict(P) is None


def test_a_majority_for_death_decides_it_and_names_the_reporter(clock: FakeClock) -> None:
    agreement = _agreement(clock)
    agreement.open(P, REPORTER)
    agreement.vote(P, S2, True)
    decision = agreement.vote(P, S1, True)
    assert decision is not None and decision.dead
    assert decision.reporter == REPORTER and decision.votes == {S1: True, S2: True}
    assert P not in agreement and agreement.verdict(P) is True


def test_a_seed_that_reaches_the_peer_makes_death_out_of_reach_with_another(
    clock: FakeClock,
) -> None:
    agreement = _agreement(clock)
    agreement.open(P, REPORTER)
    assert agreement.vote(P, S1, True) is None  # this seed cannot reach it
    assert agreement.vote(P, S2, False) is None
    decision = agreement.vote(P, S3, False)
    assert decision is not None and not decision.dead
    assert agreement.verdict(P) is False


def test_with_four_seeds_two_alive_votes_already_refute(clock: FakeClock) -> None:
    agreement = _agreement(clock, S1, S2, S3, S4)
    agreement.open(P, REPORTER)
    assert agreement.vote(P, S2, False) is None
    decision = agreement.vote(P, S3, False)
    assert decision is not None and not decision.dead  # 3 dead votes are no longer possible


def test_a_changed_vote_counts_once(clock: FakeClock) -> None:
    agreement = _agreement(clock)
    agreement.open(P, REPORTER)
    agreement.vote(P, S2, False)
    assert agreement.vote(P, S2, True) is None  # still one vote, now for death
    decision = agreement.vote(P, S1, True)
    assert decision is not None and decision.dead


def test_the_other_seeds_votes_alone_never_remove_a_peer(clock: FakeClock) -> None:
    agreement = _agreement(clock)
    agreement.open(P, REPORTER)
    assert agreement.vote(P, S2, True) is None
    assert agreement.vote(P, S3, True) is None  # a majority, but forged votes look like this
    decision = agreement.vote(P, S1, True)  # this seed's own probe failed too
    assert decision is not None and decision.dead


def test_a_peer_this_seed_reaches_is_kept_whatever_the_others_vote(clock: FakeClock) -> None:
    agreement = _agreement(clock)
    agreement.open(P, REPORTER)
    agreement.vote(P, S2, True)
    agreement.vote(P, S3, True)
    decision = agreement.vote(P, S1, False)
    assert decision is not None and not decision.dead
    assert agreement.verdict(P) is False


def test_votes_of_strangers_and_on_closed_cases_count_for_nothing(clock: FakeClock) -> None:
    agreement = _agreement(clock)
    assert agreement.vote(P, S2, True) is None  # no case open
    agreement.open(P, REPORTER)
    assert agreement.vote(P, S4, True) is None  # S4 is not a seed of the config
    assert agreement.vote(P, S2, True) is None
    assert agreement.reporter(P) == REPORTER


def test_a_decided_case_is_not_reopened_while_remembered(clock: FakeClock) -> None:
    deadlines = Deadlines[AgreementKey]()
    agreement = _agreement(clock, deadlines=deadlines)
    agreement.open(P, REPORTER)
    agreement.vote(P, S1, True)
    agreement.vote(P, S2, True)
    clock.advance(PATIENCE - 1)
    _expire(agreement, deadlines, clock)
    assert agreement.open(P, S3) is False and agreement.verdict(P) is True
    clock.advance(1)
    _expire(agreement, deadlines, clock)
    assert agreement.verdict(P) is None
    assert agreement.open(P, S3) is True  # forgotten: a new suspicion is a new case


def test_a_case_no_majority_decides_closes_undecided_at_its_deadline(clock: FakeClock) -> None:
    deadlines = Deadlines[AgreementKey]()
    agreement = _agreement(clock, deadlines=deadlines)
    agreement.open(P, REPORTER)
    agreement.vote(P, S1, True)  # the other seeds are down
    assert deadlines.next() == clock.monotonic() + PATIENCE
    clock.advance(PATIENCE - 0.1)
    assert _expire(agreement, deadlines, clock) == []
    clock.advance(0.1)
    assert _expire(agreement, deadlines, clock) == [P]
    assert P not in agreement and agreement.verdict(P) is None
    assert deadlines.next() is None


def test_opening_twice_keeps_the_first_reporter(clock: FakeClock) -> None:
    agreement = _agreement(clock)
    assert agreement.open(P, REPORTER) is True
    assert agreement.open(P, S2) is False
    assert agreement.reporter(P) == REPORTER


def test_a_seed_takes_on_a_bounded_number_of_cases(clock: FakeClock) -> None:
    deadlines = Deadlines[AgreementKey]()
    agreement = _agreement(clock, deadlines=deadlines, max_cases=2)
    assert agreement.open("10.0.0.1:1", REPORTER) and agreement.open("10.0.0.2:1", REPORTER)
    assert agreement.full
    assert agreement.open("10.0.0.3:1", REPORTER) is False  # a flood of forged suspicions
    clock.advance(PATIENCE)
    _expire(agreement, deadlines, clock)
    assert not agreement.full
