"""The seed's peer list: registrations that expire, and dead-node reports weighed by a probe."""

from __future__ import annotations

import pytest

from zgossip.clock import FakeClock
from zgossip.registry import Registry, Suspect
from zgossip.wire import PeerInfo

A = "10.0.0.1:5000"
B = "10.0.0.2:5000"
C = "10.0.0.3:5000"
STRANGER = "10.9.9.9:1"
PROBE = 13.0
TTL = 78.0  # what a seed uses by default: 2 * liveness-misses * liveness-interval

Expired = tuple[list[Suspect], list[str]]
NOTHING: Expired = ([], [])


def _pub(peer: str) -> str:
    return f"tcp://{peer.rpartition(':')[0]}:40000"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def empty(clock: FakeClock) -> Registry:
    return Registry(clock, probe_timeout=PROBE, ttl=TTL)


@pytest.fixture
def registry(empty: Registry) -> Registry:
    for peer in (A, B, C):
        empty.register(peer, _pub(peer), 1)
    return empty


def _ids(registry: Registry) -> set[str]:
    return {info.id for info in registry.snapshot()}


# -- the list -------------------------------------------------------------------------------------


def test_registering_a_new_peer_adds_it(empty: Registry) -> None:
    assert len(empty) == 0
    assert empty.register(A, _pub(A), 0) is True
    assert A in empty
    assert len(empty) == 1


def test_registering_again_refreshes_pub_and_degree_but_keeps_since(
    empty: Registry, clock: FakeClock
) -> None:
    empty.register(A, "tcp://10.0.0.1:40000", 0)
    since = clock.time()
    clock.advance(30.0)
    assert empty.register(A, "tcp://10.0.0.1:40001", 4) is False
    assert len(empty) == 1
    assert empty.snapshot() == (PeerInfo(A, "tcp://10.0.0.1:40001", 4, since),)


def test_snapshot_lists_every_peer_with_its_advertised_fields(
    empty: Registry, clock: FakeClock
) -> None:
    empty.register(A, _pub(A), 0)
    first = clock.time()
    clock.advance(1.5)
    empty.register(B, _pub(B), 7)
    assert set(empty.snapshot()) == {
        PeerInfo(A, _pub(A), 0, first),
        PeerInfo(B, _pub(B), 7, first + 1.5),
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
    assert registry.register(A, _pub(A), 0) is True
    assert A in registry


# -- registrations expire -------------------------------------------------------------------------


def test_empty_registry_has_no_deadline(empty: Registry) -> None:
    assert empty.next_deadline() is None
    assert empty.expire() == NOTHING


def test_peer_not_heard_from_for_ttl_is_removed_exactly_then(
    empty: Registry, clock: FakeClock
) -> None:
    empty.register(A, _pub(A), 0)
    assert empty.next_deadline() == clock.monotonic() + TTL
    clock.advance(TTL - 0.5)
    assert empty.expire() == NOTHING
    assert A in empty
    clock.advance(0.5)
    assert empty.expire() == ([], [A])
    assert A not in empty
    assert empty.next_deadline() is None


def test_refreshing_a_registration_postpones_its_expiry(empty: Registry, clock: FakeClock) -> None:
    empty.register(A, _pub(A), 0)
    empty.register(B, _pub(B), 0)
    silent: list[str] = []
    for _ in range(10):
        clock.advance(TTL / 2)
        empty.register(A, _pub(A), 1)
        unanswered, expired = empty.expire()
        assert unanswered == []
        silent += expired
    assert silent == [B]
    assert A in empty
    assert empty.next_deadline() == clock.monotonic() + TTL


def test_silent_peers_expire_oldest_first(empty: Registry, clock: FakeClock) -> None:
    empty.register(A, _pub(A), 0)
    clock.advance(1.0)
    empty.register(B, _pub(B), 0)
    clock.advance(1.0)
    empty.register(C, _pub(C), 0)
    clock.advance(1.0)
    empty.register(A, _pub(A), 0)  # A is now the freshest
    start = clock.monotonic() - 3.0
    assert empty.next_deadline() == start + 1.0 + TTL  # B's
    clock.advance(TTL - 0.5)
    assert empty.expire() == ([], [B, C])
    assert _ids(empty) == {A}


def test_a_peer_that_left_does_not_expire_later(registry: Registry, clock: FakeClock) -> None:
    registry.remove(A)
    clock.advance(TTL)
    assert registry.expire() == ([], [B, C])


# -- reports that are refused ---------------------------------------------------------------------


def test_a_peer_cannot_report_itself(registry: Registry, clock: FakeClock) -> None:
    assert registry.report(A, A, 1.0) is not None
    assert registry.next_deadline() == clock.monotonic() + TTL  # no probe opened


def test_report_from_an_unregistered_reporter_is_refused(
    registry: Registry, clock: FakeClock
) -> None:
    why = registry.report(A, STRANGER, 1.0)
    assert why is not None
    assert STRANGER in why
    assert registry.next_deadline() == clock.monotonic() + TTL


def test_report_about_an_unregistered_peer_is_refused(registry: Registry, clock: FakeClock) -> None:
    why = registry.report(STRANGER, A, 1.0)
    assert why is not None
    assert STRANGER in why
    assert registry.next_deadline() == clock.monotonic() + TTL


def test_second_report_while_probing_is_refused_and_first_reporter_kept(
    registry: Registry, clock: FakeClock
) -> None:
    assert registry.report(C, A, 1.0) is None
    deadline = registry.next_deadline()
    clock.advance(5.0)
    why = registry.report(C, B, 2.0)
    assert why is not None
    assert "probed" in why
    assert registry.next_deadline() == deadline  # the second report did not extend the probe
    assert registry.answered(C) == Suspect(C, A, 1.0)


def test_refused_reports_remove_nothing(registry: Registry, clock: FakeClock) -> None:
    registry.report(A, A, 1.0)
    registry.report(A, STRANGER, 1.0)
    registry.report(STRANGER, A, 1.0)
    clock.advance(PROBE * 2)
    assert registry.expire() == NOTHING
    assert len(registry) == 3


# -- probes ---------------------------------------------------------------------------------------


def test_report_opens_a_probe_and_removes_nothing_yet(registry: Registry) -> None:
    assert registry.report(C, A, 1.0) is None
    assert C in registry
    assert registry.expire() == NOTHING
    assert C in registry


def test_answered_probe_removes_nothing(registry: Registry, clock: FakeClock) -> None:
    registry.report(C, A, 42.0)
    clock.advance(PROBE / 2)
    assert registry.answered(C) == Suspect(C, A, 42.0)
    clock.advance(PROBE * 2)
    assert registry.expire() == NOTHING
    assert C in registry
    assert len(registry) == 3


def test_answer_without_an_open_probe_is_nothing(registry: Registry) -> None:
    assert registry.answered(C) is None
    assert registry.answered(STRANGER) is None


def test_refuted_peer_can_be_reported_again(registry: Registry, clock: FakeClock) -> None:
    registry.report(C, A, 1.0)
    registry.answered(C)
    clock.advance(1.0)
    assert registry.report(C, B, 2.0) is None
    assert registry.next_deadline() == clock.monotonic() + PROBE


def test_unanswered_probe_removes_the_suspect_exactly_at_probe_timeout(
    registry: Registry, clock: FakeClock
) -> None:
    registry.report(C, A, 7.0)
    clock.advance(PROBE - 0.5)
    assert registry.expire() == NOTHING
    assert C in registry
    clock.advance(0.25)
    assert registry.expire() == NOTHING
    assert C in registry
    clock.advance(0.25)  # now exactly probe_timeout after the report
    assert registry.expire() == ([Suspect(C, A, 7.0)], [])
    assert C not in registry
    assert _ids(registry) == {A, B}
    assert registry.expire() == NOTHING


def test_suspect_removed_by_its_probe_does_not_expire_again(
    registry: Registry, clock: FakeClock
) -> None:
    registry.report(C, A, 7.0)
    clock.advance(PROBE)
    registry.expire()
    clock.advance(TTL)
    assert registry.expire() == ([], [A, B])


def test_reporter_removed_after_reporting_does_not_cancel_the_probe(
    registry: Registry, clock: FakeClock
) -> None:
    registry.report(C, A, 1.0)
    registry.remove(A)
    clock.advance(PROBE)
    assert registry.expire() == ([Suspect(C, A, 1.0)], [])
    assert _ids(registry) == {B}


def test_suspect_that_leaves_during_its_probe_is_not_removed_twice(
    registry: Registry, clock: FakeClock
) -> None:
    registry.report(C, A, 1.0)
    assert registry.remove(C) is True
    assert registry.next_deadline() == clock.monotonic() + TTL
    clock.advance(PROBE)
    assert registry.expire() == NOTHING
    assert len(registry) == 2


def test_report_after_removal_is_refused(registry: Registry, clock: FakeClock) -> None:
    registry.report(C, A, 1.0)
    clock.advance(PROBE)
    registry.expire()
    assert registry.report(C, B, 2.0) is not None


def test_only_expired_probes_are_closed(registry: Registry, clock: FakeClock) -> None:
    registry.report(C, A, 1.0)
    clock.advance(5.0)
    registry.report(B, A, 2.0)
    clock.advance(PROBE - 5.0)
    assert registry.expire() == ([Suspect(C, A, 1.0)], [])
    assert B in registry
    assert registry.next_deadline() == clock.monotonic() + 5.0
    clock.advance(5.0)
    assert registry.expire() == ([Suspect(B, A, 2.0)], [])
    assert _ids(registry) == {A}


def test_next_deadline_is_the_earliest_open_probe(registry: Registry, clock: FakeClock) -> None:
    start = clock.monotonic()
    assert registry.next_deadline() == start + TTL
    registry.report(C, A, 1.0)
    assert registry.next_deadline() == start + PROBE
    clock.advance(3.0)
    registry.report(B, A, 1.0)
    assert registry.next_deadline() == start + PROBE
    registry.answered(C)
    assert registry.next_deadline() == start + 3.0 + PROBE
    registry.answered(B)
    assert registry.next_deadline() == start + TTL


def test_next_deadline_is_monotonic_time_not_unix_time(
    registry: Registry, clock: FakeClock
) -> None:
    registry.report(C, A, 1.0)
    deadline = registry.next_deadline()
    assert deadline is not None
    assert deadline == clock.monotonic() + PROBE
    assert deadline < clock.time()


def test_silent_suspect_expires_before_its_probe_ends(empty: Registry, clock: FakeClock) -> None:
    empty.register(C, _pub(C), 1)
    clock.advance(TTL - 1.0)
    empty.register(A, _pub(A), 1)
    empty.report(C, A, 1.0)
    assert empty.next_deadline() == clock.monotonic() + 1.0  # C's registration, not the probe
    clock.advance(1.0)
    assert empty.expire() == ([], [C])
    assert empty.next_deadline() == clock.monotonic() + TTL - 1.0  # A's; the probe went with C
    assert empty.answered(C) is None
