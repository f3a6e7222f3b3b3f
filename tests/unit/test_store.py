"""The store of whole messages: bounded by bytes and by age; found by seq, id, recency, and
by what an anti-entropy digest lacks."""

from __future__ import annotations

import math

import pytest

from zgossip.protocol import wire
from zgossip.protocol.gossip import message_id
from zgossip.protocol.store import ENTRY_COST, Store

A = "10.0.0.1:5000"
B = "10.0.0.2:5000"
BIG = 1 << 30
ALL = math.inf  # taken by any time


def _frame(i: int, size: int = 10) -> bytes:
    return f"{i:0{size}d}".encode()[:size]


def _store(max_bytes: int = BIG, max_age: float = 120.0) -> Store:
    return Store(max_bytes=max_bytes, max_age=max_age)


def _keep(
    store: Store, origin: str, seq: int, frame: bytes | None = None, now: float = 0.0
) -> bytes:
    frame = _frame(seq) if frame is None else frame
    store.keep(now, message_id(frame + origin.encode()), origin, seq, frame)
    return frame


def test_kept_frames_are_found_by_origin_and_seq_in_the_order_asked() -> None:
    store = _store()
    for seq in range(1, 5):
        _keep(store, A, seq)
    assert store.by_seq(A, [4, 9, 2], BIG) == [_frame(4), _frame(2)]
    assert store.by_seq(B, [2], BIG) == []
    assert store.by_seq(A, [4, 3, 2], max_bytes=25) == [_frame(4), _frame(3)]  # 10 bytes each


def test_kept_frames_are_found_by_id() -> None:
    store = _store()
    frame = _keep(store, A, 1)
    assert store.by_id([message_id(frame + A.encode()), b"x" * 16], BIG) == [frame]


def test_the_store_is_bounded_by_bytes_counting_what_each_entry_costs() -> None:
    store = _store(max_bytes=3 * (ENTRY_COST + 10))
    for seq in range(1, 11):
        _keep(store, A, seq)
    assert len(store) == 3 and store.bytes == 3 * (ENTRY_COST + 10)
    assert store.by_seq(A, range(1, 11), BIG) == [_frame(8), _frame(9), _frame(10)]


def test_the_store_is_bounded_by_age_even_at_rest() -> None:
    store = _store(max_age=60.0)
    _keep(store, A, 1, now=0.0)
    _keep(store, A, 2, now=30.0)
    store.trim(60.0)  # 1 is exactly 60 s old: kept
    assert store.by_seq(A, [1, 2], BIG) == [_frame(1), _frame(2)]
    store.trim(60.5)
    assert store.by_seq(A, [1, 2], BIG) == [_frame(2)]
    store.trim(120.5)
    assert len(store) == 0 and store.bytes == 0


def test_a_store_of_no_bytes_keeps_nothing() -> None:
    store = _store(max_bytes=0)
    _keep(store, A, 1)
    assert len(store) == 0


def test_recent_gives_the_newest_since_oldest_first_and_stops_at_what_does_not_fit() -> None:
    store = _store()
    _keep(store, A, 1, b"old", now=0.0)
    since = 10.0
    for seq, frame in enumerate((b"s", b"L" * 100, b"t", b"u"), start=2):
        _keep(store, A, seq, frame, now=since)
    assert store.recent(BIG, since) == [b"s", b"L" * 100, b"t", b"u"]
    assert store.recent(50, since) == [b"t", b"u"]  # never skips over one
    assert store.recent(BIG, since + 1.0) == []
    assert store.recent(BIG, 0.0)[0] == b"old"


@pytest.mark.parametrize("count", [0, 1, 7])
def test_recent_of_a_fresh_store(count: int) -> None:
    store = _store()
    for seq in range(count):
        _keep(store, A, seq)
    assert len(store.recent(BIG, 0.0)) == count


def _holding(origin: str, low: int, high: int, *holes: int) -> wire.Holding:
    return wire.Holding(origin, low, high, holes)


def test_lacking_sends_the_listed_origins_seqs_the_digest_lacks_in_order() -> None:
    store = _store()
    for seq in (5, 1, 2, 3, 4, 6, 7):
        _keep(store, A, seq)
    digest = {A: _holding(A, 2, 5, 3, 3)}  # holds 2, 4, 5: lacks 1, 3, 6, 7
    frames, more = store.lacking(digest, True, 0.0, ALL, BIG)
    assert frames == [_frame(1), _frame(3), _frame(6), _frame(7)] and not more
    frames, more = store.lacking(digest, True, 0.0, ALL, max_bytes=25)
    assert frames == [_frame(1), _frame(3)] and more


def test_lacking_sends_an_unlisted_origin_whole_only_when_the_digest_is_complete() -> None:
    store = _store()
    _keep(store, A, 1)
    _keep(store, B, 1)
    digest = {A: _holding(A, 1, 1)}
    assert store.lacking(digest, True, 0.0, ALL, BIG) == ([_frame(1)], False)  # B's
    assert store.lacking(digest, False, 0.0, ALL, BIG) == ([], False)  # B left out for room


def test_lacking_sends_nothing_taken_before_the_asker_started() -> None:
    store = _store()
    _keep(store, A, 1, now=0.0)
    started = 5.0
    _keep(store, A, 2, now=started)
    assert store.lacking({}, True, started, ALL, BIG) == ([_frame(2)], False)


def test_lacking_sends_nothing_taken_after_until() -> None:
    store = _store()
    _keep(store, A, 1, now=1.0)
    _keep(store, A, 2, now=3.0)  # taken since: maybe still on its way to the asker
    assert store.lacking({}, True, 0.0, 2.0, BIG) == ([_frame(1)], False)


def test_an_origin_a_digest_holds_all_of_is_skipped_but_a_late_low_seq_is_not() -> None:
    store = _store()
    for seq in (5, 6, 7):
        _keep(store, A, seq)
    assert store.lacking({A: _holding(A, 5, 7)}, True, 0.0, ALL, BIG) == ([], False)
    _keep(store, A, 2)  # below what the digest holds
    assert store.lacking({A: _holding(A, 5, 7)}, True, 0.0, ALL, BIG) == ([_frame(2)], False)
