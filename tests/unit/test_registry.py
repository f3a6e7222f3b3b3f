"""The seed's peer list: registrations, and the silence of peers that stopped refreshing."""

from __future__ import annotations

import random

import pytest

from zgossip.protocol.clock import FakeClock
from zgossip.protocol.deadlines import Deadlines
from zgossip.protocol.registry import Registry, SilenceTimeout
from zgossip.protocol.wire import PeerInfo

A = "10.0.0.1:5000"
B = "10.0.0.2:5000"
C = "10.0.0.3:5000"
STRANGER = "10.9.9.9:1"
TTL = 78.0  # what a seed uses by default: 2 * liveness-misses * liveness-interval


def _pub(peer: str) -> str:
    return f"tcp://{peer.rpartition(':')[0]}:40000"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def deadlines() -> Deadlines[SilenceTimeout]:
    return Deadlines()


@pytest.fixture
def empty(clock: FakeClock, deadlines: Deadlines[SilenceTimeout]) -> Registry:
    return Registry(deadlines, clock, ttl=TTL)


def _silent(deadlines: Deadlines[SilenceTimeout], clock: FakeClock) -> list[str]:
    """The peers whose silence came due, as the seed's core reads them."""
    return [key.peer for key in deadlines.due(clock.monotonic())]


@pytest.fixture
def registry(empty: Registry) -> Registry:
    for peer in (A, B, C):
        empty.register(peer, _pub(peer), ())
    return empty


def _ids(registry: Registry) -> set[str]:
    return {info.id for info in registry.snapshot()}


# -- the list -------------------------------------------------------------------------------------


def test_registering_a_new_peer_adds_it(empty: Registry) -> None:
    assert len(empty) == 0
    assert empty.register(A, _pub(A), ()) is True
    assert A in empty
    assert len(empty) == 1


def test_registering_again_refreshes_pub_and_degree_but_keeps_since(
    empty: Registry, clock: FakeClock
) -> None:
    empty.register(A, "tcp://10.0.0.1:40000", ())
    since = clock.time()
    clock.advance(30.0)
    empty.register(B, _pub(B), (A,))  # B names A: a link, once A names B too
    assert empty.register(A, "tcp://10.0.0.1:40001", (B, C)) is False  # C does not
    assert len(empty) == 2
    assert empty.snapshot()[0] == PeerInfo(A, "tcp://10.0.0.1:40001", 1, since)


def test_a_degree_counts_only_the_links_both_ends_name(empty: Registry) -> None:
    empty.register(A, _pub(A), (B, C, A))  # C never registers; a peer is not its own link
    empty.register(B, _pub(B), (A,))
    empty.register(A, _pub(A), (B, C, A))
    degrees = {info.id: info.degree for info in empty.snapshot()}
    assert degrees == {A: 1, B: 1}
    empty.remove(B)
    empty.register(A, _pub(A), (B, C))
    assert empty.snapshot()[0].degree == 0


def test_snapshot_lists_every_peer_with_its_advertised_fields(
    empty: Registry, clock: FakeClock
) -> None:
    empty.register(A, _pub(A), ())
    first = clock.time()
    clock.advance(1.5)
    empty.register(B, _pub(B), ())
    assert set(empty.snapshot()) == {
        PeerInfo(A, _pub(A), 0, first),
        PeerInfo(B, _pub(B), 0, first + 1.5),
    }


def test_snapshot_since_is_unix_time(registry: Registry, clock: FakeClock) -> None:
    assert all(info.since == clock.time() for info in registry.snapshot())
    assert clock.time() > 1_600_000_000  # wall time, not monotonic


def test_snapshot_is_a_copy(registry: Registry) -> None:
    before = registry.snapshot()
    registry.remove(A)
    assert len(before) == 3
    assert len(registry.snapshot()) == 2


def test_remove_drops_a_listed_peer(registry: Registry) -> None:
    assert registry.remove(A) is True
    assert A not in registry
    assert _ids(registry) == {B, C}


def test_remove_of_an_unknown_peer_says_so(registry: Registry) -> None:
    assert registry.remove(STRANGER) is False
    assert registry.remove(A) is True
    assert registry.remove(A) is False
    assert len(registry) == 2


def test_a_removed_peer_can_register_again(registry: Registry) -> None:
    registry.remove(A)
    assert registry.register(A, _pub(A), ()) is True
    assert A in registry


# -- silence ---------------------------------------------------------------------------------------


def test_empty_registry_has_no_deadline(
    empty: Registry, deadlines: Deadlines[SilenceTimeout], clock: FakeClock
) -> None:
    assert deadlines.next() is None
    assert _silent(deadlines, clock) == []


def test_peer_not_heard_from_for_ttl_is_silent_exactly_then_and_stays_listed(
    empty: Registry, clock: FakeClock, deadlines: Deadlines[SilenceTimeout]
) -> None:
    empty.register(A, _pub(A), ())
    assert deadlines.next() == clock.monotonic() + TTL
    clock.advance(TTL - 0.5)
    assert _silent(deadlines, clock) == []
    clock.advance(0.5)
    assert _silent(deadlines, clock) == [A]
    assert A in empty  # the seeds decide its death together; the list never does alone
    assert deadlines.next() is None


def test_a_silent_peer_is_reported_once_until_it_shows_life(
    empty: Registry, clock: FakeClock, deadlines: Deadlines[SilenceTimeout]
) -> None:
    empty.register(A, _pub(A), ())
    clock.advance(TTL)
    assert _silent(deadlines, clock) == [A]
    clock.advance(TTL)
    assert _silent(deadlines, clock) == []
    empty.touch(A)  # e.g. its probe was answered
    clock.advance(TTL)
    assert _silent(deadlines, clock) == [A]


def test_refreshing_a_registration_postpones_its_silence(
    empty: Registry, clock: FakeClock, deadlines: Deadlines[SilenceTimeout]
) -> None:
    empty.register(A, _pub(A), ())
    empty.register(B, _pub(B), ())
    silent: list[str] = []
    for _ in range(10):
        clock.advance(TTL / 2)
        empty.register(A, _pub(A), ())
        silent += _silent(deadlines, clock)
    assert silent == [B]
    assert deadlines.next() == clock.monotonic() + TTL


def test_silent_peers_come_oldest_first(
    empty: Registry, clock: FakeClock, deadlines: Deadlines[SilenceTimeout]
) -> None:
    empty.register(A, _pub(A), ())
    clock.advance(1.0)
    empty.register(B, _pub(B), ())
    clock.advance(1.0)
    empty.register(C, _pub(C), ())
    clock.advance(1.0)
    empty.register(A, _pub(A), ())  # A is now the freshest
    start = clock.monotonic() - 3.0
    assert deadlines.next() == start + 1.0 + TTL  # B's
    clock.advance(TTL - 0.5)
    assert _silent(deadlines, clock) == [B, C]


def test_a_peer_that_left_is_never_silent(
    registry: Registry, clock: FakeClock, deadlines: Deadlines[SilenceTimeout]
) -> None:
    registry.remove(A)
    clock.advance(TTL)
    assert _silent(deadlines, clock) == [B, C]


def test_a_sample_of_a_small_list_is_everyone_but_the_asker(registry: Registry) -> None:
    sample = registry.sample(32, random.Random(1), without=A)
    assert {info.id for info in sample} == {B, C}


def test_a_sample_of_a_large_list_is_bounded_distinct_and_never_the_asker(
    empty: Registry,
) -> None:
    peers = [f"10.0.{n // 250}.{n % 250 + 1}:5000" for n in range(1000)]
    for peer in peers:
        empty.register(peer, _pub(peer), ())
    rng = random.Random(2)
    seen: set[str] = set()
    for _ in range(200):
        ids = [info.id for info in empty.sample(32, rng, without=peers[0])]
        assert len(ids) == 32 == len(set(ids))
        assert peers[0] not in ids
        seen.update(ids)
    assert len(seen) > 900  # uniform: over many answers, almost everyone comes up


def test_sampling_goes_on_right_after_removals(empty: Registry) -> None:
    peers = [f"10.0.1.{n}:5000" for n in range(1, 101)]
    for peer in peers:
        empty.register(peer, _pub(peer), ())
    for peer in peers[::2]:
        assert empty.remove(peer)
    rng = random.Random(3)
    ids = {info.id for _ in range(50) for info in empty.sample(10, rng, without=STRANGER)}
    assert ids <= set(peers[1::2]) and len(ids) > 40
