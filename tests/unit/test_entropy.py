"""What a peer holds of each origin, for anti-entropy digests (zgossip.protocol.entropy)."""

from __future__ import annotations

import msgpack
import pytest

from zgossip.protocol import wire
from zgossip.protocol.entropy import LEAP, Holdings, Lost, lacks

A = "10.0.0.1:5000"
B = "10.0.0.2:5000"
C = "10.0.0.3:5000"


def _holdings(max_holes: int = 8, max_origins: int = 100, forget: float = 600.0) -> Holdings:
    return Holdings(max_holes=max_holes, max_origins=max_origins, forget=forget)


def _entry(held: Holdings, origin: str = A) -> wire.Holding:
    entries, _ = held.digest(0.0, 100, 1 << 20)
    return next(entry for entry in entries if entry.origin == origin)


def test_seqs_in_order_are_one_range_with_no_holes() -> None:
    held = _holdings()
    for seq in range(3, 8):
        assert held.took(A, seq, 1.0) == []
    assert _entry(held) == wire.Holding(A, 3, 7, ())
    assert held.holds(A, 5) and not held.holds(A, 2) and not held.holds(A, 8)


def test_skipped_seqs_are_holes_and_filling_one_splits_it() -> None:
    held = _holdings()
    for seq in (1, 2, 9):
        held.took(A, seq, 1.0)
    assert _entry(held).holes == (3, 8)
    held.took(A, 5, 2.0)
    assert _entry(held).holes == (3, 4, 6, 8)
    for seq in (3, 4, 6, 8):
        held.took(A, seq, 3.0)
    assert _entry(held).holes == (7, 7)
    held.took(A, 7, 3.0)
    assert _entry(held) == wire.Holding(A, 1, 9, ())


def test_an_older_seq_than_the_lowest_moves_low_down_and_opens_a_hole() -> None:
    held = _holdings()
    held.took(A, 10, 1.0)
    held.took(A, 4, 1.0)
    assert _entry(held) == wire.Holding(A, 4, 10, (5, 9))


def test_a_seq_held_already_changes_nothing() -> None:
    held = _holdings()
    for seq in (2, 4, 4, 2):
        held.took(A, seq, 1.0)
    assert _entry(held).holes == (3, 3)


def test_past_max_holes_the_oldest_hole_is_given_up_and_said() -> None:
    held = _holdings(max_holes=2)
    for seq in (1, 3, 5):
        assert held.took(A, seq, 1.0) == []
    assert held.took(A, 7, 1.0) == [Lost(A, 2, 2, "too many gaps")]
    assert _entry(held).holes == (4, 4, 6, 6)
    assert held.holds(A, 2)  # given up: no longer asked for


def test_holes_older_than_the_stores_age_are_given_up_as_expired() -> None:
    held = _holdings()
    held.took(A, 1, 0.0)
    held.took(A, 5, 0.0)  # hole 2..4 seen at 0
    held.took(A, 9, 50.0)  # hole 6..8 seen at 50
    assert held.expire(119.0, 120.0) == []
    assert held.expire(120.0, 120.0) == [Lost(A, 2, 4, "expired")]
    assert held.expire(170.0, 120.0) == [Lost(A, 6, 8, "expired")]
    assert _entry(held).holes == ()


def test_a_split_hole_keeps_the_time_it_was_first_seen() -> None:
    held = _holdings()
    held.took(A, 1, 0.0)
    held.took(A, 9, 0.0)
    held.took(A, 5, 100.0)
    assert held.expire(120.0, 120.0) == [Lost(A, 2, 4, "expired"), Lost(A, 6, 8, "expired")]


def test_an_origin_silent_for_forget_is_forgotten_with_its_holes_said() -> None:
    held = _holdings(forget=600.0)
    held.took(A, 1, 0.0)
    held.took(A, 3, 0.0)
    assert held.expire(600.0, 1000.0) == [Lost(A, 2, 2, "expired")]
    assert len(held) == 0


def test_past_max_origins_the_longest_silent_is_forgotten() -> None:
    held = _holdings(max_origins=2)
    held.took(A, 1, 0.0)
    held.took(A, 3, 0.0)
    held.took(B, 1, 1.0)
    assert held.took(C, 1, 2.0) == [Lost(A, 2, 2, "too many origins")]
    assert sorted(entry.origin for entry in held.digest(0.0, 10, 1 << 20)[0]) == [B, C]


def test_the_digest_lists_the_recently_heard_most_recent_first_when_cut() -> None:
    held = _holdings()
    held.took(A, 1, 1.0)
    held.took(B, 1, 3.0)
    held.took(C, 1, 2.0)
    entries, complete = held.digest(0.0, 3, 1 << 20)
    assert complete and {entry.origin for entry in entries} == {A, B, C}
    entries, complete = held.digest(0.0, 2, 1 << 20)
    assert not complete and [entry.origin for entry in entries] == [B, C]
    entries, complete = held.digest(2.0, 3, 1 << 20)  # A not heard since: what any store keeps of
    assert complete and {entry.origin for entry in entries} == {B, C}  # it, it lacks


@pytest.mark.parametrize(
    ("seq", "lacked"), [(1, True), (2, False), (3, True), (4, True), (5, False), (6, True)]
)
def test_lacks_reads_a_digest_entry(seq: int, lacked: bool) -> None:
    assert lacks(wire.Holding(A, 2, 5, (3, 4)), seq) is lacked


def test_a_digest_goes_over_the_wire_and_back() -> None:
    digest = wire.Digest(A, 1.7e9, (wire.Holding(B, 1, 9, (2, 3, 5, 5)),), True)
    assert wire.decode(wire.encode(digest)) == digest
    delta = wire.Delta(A, (b"frame",), False)
    assert wire.decode(wire.encode(delta)) == delta


@pytest.mark.parametrize(
    "holes",
    [[1, 3], [2, 9], [3, 2], [2, 3, 4, 5], [2, 3, 3, 5], [2], [5, 4], ["2", "3"]],
)
def test_a_digest_with_holes_out_of_order_or_out_of_range_is_refused(holes: list[object]) -> None:
    envelope = msgpack.unpackb(wire.encode(wire.Digest(A, 1.7e9, (), True)))
    envelope["origins"] = [[B, 1, 9, []]]
    assert wire.decode(msgpack.packb(envelope)).origins == (wire.Holding(B, 1, 9, ()),)
    envelope["origins"][0][3] = holes
    with pytest.raises(wire.WireError):
        wire.decode(msgpack.packb(envelope))


def test_a_number_far_past_the_highest_is_a_new_run_its_old_holes_said() -> None:
    held = _holdings()
    for seq in (1, 2, 5):
        held.took(A, seq, 1.0)
    restart = 5 + LEAP + 1
    assert held.took(A, restart, 2.0) == [Lost(A, 3, 4, "origin restarted")]
    assert _entry(held) == wire.Holding(A, restart, restart, ())
    assert held.took(A, 3, 3.0) == []  # a late copy of the run gone by: not this run's
    assert _entry(held) == wire.Holding(A, restart, restart, ())
    assert held.took(A, restart + LEAP, 3.0) == []  # far, but within reach: a hole
    assert _entry(held).holes == (restart + 1, restart + LEAP - 1)


def test_the_digest_is_cut_to_its_size() -> None:
    held = _holdings()
    for origin in (A, B, C):
        held.took(origin, 1, 1.0)
    entries, complete = held.digest(0.0, 10, max_bytes=100)
    assert len(entries) == 2 and not complete


def test_after_origins_are_forgotten_for_room_a_digest_is_not_complete_for_a_while() -> None:
    held = _holdings(max_origins=2)
    held.took(A, 1, 0.0)
    held.took(B, 1, 1.0)
    held.took(C, 1, 2.0)  # A forgotten at 2
    assert held.digest(1.0, 10, 1 << 20)[1] is False
    assert held.digest(2.5, 10, 1 << 20)[1] is True
