"""Which seeds a peer registers with, and when it asks them again (fake clock)."""

from __future__ import annotations

import random

import pytest

from zgossip.protocol.clock import FakeClock
from zgossip.protocol.deadlines import Deadlines
from zgossip.protocol.registration import Due, Registration

INTERVAL = 10.0
TIMEOUT = 2.0
MISSES = 3


def _seeds(n: int) -> list[str]:
    return [f"10.0.0.{i + 1}:9000" for i in range(n)]


def _registration(
    n: int, clock: FakeClock, rng_seed: int = 1, misses: int = MISSES
) -> Registration:
    return Registration(
        _seeds(n),
        Deadlines(),
        clock,
        interval=INTERVAL,
        timeout=TIMEOUT,
        misses=misses,
        rng=random.Random(rng_seed),
    )


def _register_all(registration: Registration) -> list[str]:
    """Poll, and answer every seed asked: the peer is registered with a full quorum."""
    sent = registration.poll().send
    for seed in sent:
        assert registration.answered(seed) is True
    return sent


# -- the first registration -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_first_poll_asks_exactly_a_quorum_of_distinct_seeds(n: int) -> None:
    registration = _registration(n, FakeClock())
    due = registration.poll()
    assert registration.quorum == n // 2 + 1
    assert len(due.send) == n // 2 + 1
    assert len(set(due.send)) == len(due.send)
    assert set(due.send) <= set(_seeds(n))
    assert due.lost == []
    assert registration.registered() == []


@pytest.mark.parametrize("n", [1, 3, 5])
def test_nothing_more_is_asked_before_the_timeout(n: int) -> None:
    clock = FakeClock()
    registration = _registration(n, clock)
    registration.poll()
    assert registration.poll() == Due()
    clock.advance(TIMEOUT - 0.5)
    assert registration.poll() == Due()
    assert registration.next_deadline() == clock.monotonic() + 0.5


def test_choice_of_seeds_is_random() -> None:
    choices = set()
    for rng_seed in range(40):
        registration = _registration(5, FakeClock(), rng_seed=rng_seed)
        choices.add(frozenset(registration.poll().send))
    assert len(choices) >= 5  # 10 possible choices of 3 out of 5
    assert set().union(*choices) == set(_seeds(5))  # every seed gets picked by someone


def test_same_rng_seed_makes_the_same_choice() -> None:
    first = _registration(5, FakeClock(), rng_seed=3).poll().send
    again = _registration(5, FakeClock(), rng_seed=3).poll().send
    assert first == again


def test_answered_is_true_only_the_first_time() -> None:
    registration = _registration(3, FakeClock())
    seed = registration.poll().send[0]
    assert registration.answered(seed) is True
    assert registration.answered(seed) is False
    assert registration.answered(seed) is False
    assert registration.registered() == [seed]


def test_answer_from_an_unknown_seed_is_ignored() -> None:
    registration = _registration(3, FakeClock())
    registration.poll()
    assert registration.answered("10.9.9.9:1") is False
    assert registration.registered() == []


# -- fallback to other seeds ----------------------------------------------------------------------


def test_seed_that_does_not_answer_in_time_is_replaced_by_another() -> None:
    clock = FakeClock()
    registration = _registration(3, clock)
    silent, answering = registration.poll().send
    registration.answered(answering)
    clock.advance(TIMEOUT)
    due = registration.poll()
    (spare,) = set(_seeds(3)) - {silent, answering}
    # never registered: not "lost", but silent: its next try goes on a fresh connection
    assert due == Due(send=[spare], lost=[], silent=[silent])
    registration.answered(spare)
    assert sorted(registration.registered()) == sorted([answering, spare])


def test_each_silent_seed_is_replaced_while_spares_last() -> None:
    clock = FakeClock()
    registration = _registration(5, clock)
    first = registration.poll().send
    assert len(first) == 3
    registration.answered(first[0])
    clock.advance(TIMEOUT)
    second = registration.poll().send
    assert sorted(second) == sorted(set(_seeds(5)) - set(first))
    clock.advance(TIMEOUT)
    due = registration.poll()
    assert due.send == [] and due.lost == []  # no spare left until the interval has passed
    assert sorted(due.silent) == sorted(second)
    assert registration.registered() == [first[0]]


def test_late_answer_from_a_replaced_seed_still_registers() -> None:
    clock = FakeClock()
    registration = _registration(3, clock)
    slow, other = registration.poll().send
    registration.answered(other)
    clock.advance(TIMEOUT)
    (spare,) = registration.poll().send
    registration.answered(spare)
    clock.advance(0.5)
    assert registration.answered(slow) is True
    assert sorted(registration.registered()) == sorted(_seeds(3))


# -- refreshes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 5])
def test_registered_seeds_are_refreshed_every_interval(n: int) -> None:
    clock = FakeClock()
    registration = _registration(n, clock)
    seeds = _register_all(registration)
    for _ in range(5):
        clock.advance(INTERVAL - 0.5)
        assert registration.poll() == Due()
        assert registration.next_deadline() == clock.monotonic() + 0.5
        clock.advance(0.5)
        due = registration.poll()
        assert sorted(due.send) == sorted(seeds)
        assert due.lost == []
        for seed in due.send:
            assert registration.answered(seed) is False  # a refresh, not a new registration
    assert sorted(registration.registered()) == sorted(seeds)


def test_only_the_active_seeds_are_refreshed() -> None:
    clock = FakeClock()
    registration = _registration(5, clock)
    seeds = _register_all(registration)
    for _ in range(3):
        clock.advance(INTERVAL)
        due = registration.poll()
        assert sorted(due.send) == sorted(seeds)
        for seed in due.send:
            registration.answered(seed)


def test_registered_seed_missing_misses_refreshes_is_lost_and_replaced() -> None:
    clock = FakeClock()
    registration = _registration(3, clock)
    dying, alive = _register_all(registration)
    for miss in range(1, MISSES + 1):
        clock.advance(INTERVAL - TIMEOUT if miss > 1 else INTERVAL)
        due = registration.poll()
        assert sorted(due.send) == sorted([dying, alive])
        registration.answered(alive)
        clock.advance(TIMEOUT - 0.5)
        assert registration.poll() == Due()
        clock.advance(0.5)
        due = registration.poll()
        if miss < MISSES:
            assert due == Due()  # one missed refresh is not the end
            assert dying in registration.registered()
    (spare,) = set(_seeds(3)) - {dying, alive}
    assert due == Due(send=[spare], lost=[dying])
    assert registration.registered() == [alive]
    assert registration.answered(spare) is True


def test_an_answer_clears_earlier_missed_refreshes() -> None:
    clock = FakeClock()
    registration = _registration(1, clock)
    (seed,) = _register_all(registration)
    for round_ in range(4 * MISSES):
        clock.advance(INTERVAL - TIMEOUT if round_ else INTERVAL)
        assert registration.poll().send == [seed]
        if round_ % MISSES == MISSES - 2:  # answer just before the last allowed miss
            registration.answered(seed)
        clock.advance(TIMEOUT)
        assert registration.poll().lost == []
    assert registration.registered() == [seed]


@pytest.mark.parametrize("n", [1, 2])
def test_given_up_seed_is_retried_after_an_interval(n: int) -> None:
    """With no spare seed to fill the quorum, a lost seed is asked again, so a seed
    that restarts gets this peer registered again."""
    clock = FakeClock()
    registration = _registration(n, clock)
    seeds = _register_all(registration)
    restarting = seeds[0]
    lost: list[str] = []
    while not lost:
        clock.advance(registration.next_deadline() - clock.monotonic())
        due = registration.poll()
        lost = due.lost
        for seed in due.send:
            if seed != restarting:
                registration.answered(seed)
    assert lost == [restarting]
    assert restarting not in registration.registered()
    given_up_at = clock.monotonic()
    assert registration.next_deadline() <= given_up_at + INTERVAL
    clock.advance(INTERVAL - 0.5)
    assert restarting not in registration.poll().send
    clock.advance(0.5)
    assert restarting in registration.poll().send
    assert registration.answered(restarting) is True  # the restarted seed has us again
    assert sorted(registration.registered()) == sorted(seeds)


def test_seed_that_never_answers_is_retried_every_interval() -> None:
    clock = FakeClock()
    registration = _registration(1, clock)
    (seed,) = registration.poll().send
    for _ in range(5):
        clock.advance(TIMEOUT)
        assert registration.poll() == Due(silent=[seed])  # never registered: never "lost"
        assert registration.next_deadline() == clock.monotonic() + INTERVAL
        clock.advance(INTERVAL)
        assert registration.poll().send == [seed]
    assert registration.answered(seed) is True


def test_all_seeds_silent_are_all_retried() -> None:
    clock = FakeClock()
    registration = _registration(3, clock)
    asked = set(registration.poll().send)
    clock.advance(TIMEOUT)
    asked |= set(registration.poll().send)
    assert asked == set(_seeds(3))
    clock.advance(TIMEOUT)
    registration.poll()
    for _ in range(3):
        clock.advance(registration.next_deadline() - clock.monotonic())
        asked = set(registration.poll().send)
        assert asked <= set(_seeds(3))
        if asked:
            break
    assert asked
    assert len(asked) <= registration.quorum


# -- the event loop must not spin -----------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_next_deadline_is_in_the_future_once_the_quorum_is_full(n: int) -> None:
    clock = FakeClock()
    registration = _registration(n, clock)
    _register_all(registration)
    for _ in range(20):
        deadline = registration.next_deadline()
        assert deadline > clock.monotonic()
        clock.advance(deadline - clock.monotonic())
        for seed in registration.poll().send:
            registration.answered(seed)


@pytest.mark.parametrize("rng_seed", range(6))
def test_event_loop_with_flaky_seeds_never_spins(rng_seed: int) -> None:
    """Drive poll() as the peer's loop does, with seeds that die, come back and answer late:
    after every poll the next deadline lies ahead, so the loop always sleeps."""
    rng = random.Random(rng_seed)
    n = rng_seed % 5 + 1
    clock = FakeClock()
    registration = _registration(n, clock, rng_seed=rng_seed)
    up = {seed: True for seed in _seeds(n)}
    pending: list[tuple[float, str]] = []  # (answer time, seed)
    polls = 0
    while clock.monotonic() < 1_000.0 + 2_000.0:
        due = registration.poll()
        polls += 1
        assert registration.next_deadline() > clock.monotonic()
        for seed in due.send:
            if up[seed] and rng.random() < 0.9:
                pending.append((clock.monotonic() + rng.uniform(0.0, TIMEOUT * 1.5), seed))
        if rng.random() < 0.05:
            seed = rng.choice(_seeds(n))
            up[seed] = not up[seed]
        wake = min([registration.next_deadline(), *(at for at, _ in pending)])
        clock.advance(max(0.0, wake - clock.monotonic()))
        for at, seed in [p for p in pending if p[0] <= clock.monotonic()]:
            pending.remove((at, seed))
            registration.answered(seed)
    assert polls < 3_000  # a handful of polls per interval, not a spin


def test_lost_seed_is_asked_again_every_interval_even_with_a_full_quorum() -> None:
    clock = FakeClock()
    registration = _registration(3, clock)
    crashed, other = _register_all(registration)
    spare = next(s for s in _seeds(3) if s not in (crashed, other))
    for _ in range(MISSES):  # the crashed seed stops answering refreshes
        clock.advance(INTERVAL)
        registration.poll()
        registration.answered(other)
        clock.advance(TIMEOUT)
        for seed in registration.poll().send:
            registration.answered(seed)
    assert crashed not in registration.registered()
    assert set(registration.registered()) == {other, spare}  # the quorum is full again
    asked = []
    for _ in range(3):  # still down: asked every interval, never more often
        clock.advance(INTERVAL)
        sent = registration.poll().send
        asked.append(crashed in sent)
        for seed in set(sent) - {crashed}:
            registration.answered(seed)
        clock.advance(TIMEOUT)
        registration.poll()
        assert registration.next_deadline() > clock.monotonic()
    assert asked == [True, True, True]
    clock.advance(INTERVAL)
    assert crashed in registration.poll().send
    assert registration.answered(crashed) is True  # back, and empty: registered anew
    assert set(registration.registered()) == set(_seeds(3))
