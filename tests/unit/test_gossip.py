"""The Message List: first-receipt detection, bounded memory, and recent history (fake clock)."""

from __future__ import annotations

import hashlib

import pytest

from zgossip.protocol.clock import FakeClock
from zgossip.protocol.deadlines import Deadlines
from zgossip.protocol.gossip import Entry, GapDue, Gaps, MessageList, message_id

MAX_AGE = 600.0
A = "10.0.0.1:5000"
B = "10.0.0.2:5000"
C = "10.0.0.3:5000"


def _frame(i: int, size: int = 10) -> bytes:
    return f"{i:0{size}d}".encode()[:size]


def _ml(
    clock: FakeClock, max_entries: int = 1000, max_age: float = MAX_AGE, history: int = 100
) -> MessageList:
    return MessageList(clock, max_entries=max_entries, max_age=max_age, history=history)


def _record(ml: MessageList, frame: bytes, sender: str = A) -> bytes:
    msg_id = message_id(frame)
    ml.record(msg_id, sender, frame, sender, len(ml) + 1)
    return msg_id


# -- ids ------------------------------------------------------------------------------------------


def test_message_id_is_sixteen_stable_bytes() -> None:
    frame = b"\x85\xa1v\x01\xa4type\xa6gossip"
    msg_id = message_id(frame)
    assert isinstance(msg_id, bytes)
    assert len(msg_id) == 16
    assert message_id(frame) == msg_id
    assert message_id(bytes(bytearray(frame))) == msg_id
    assert msg_id == hashlib.blake2b(frame, digest_size=16).digest()  # the same on every peer


def test_message_id_of_the_empty_frame_is_fixed() -> None:
    assert message_id(b"").hex() == "cae66941d9efbd404e4d88758ea67670"


def test_different_frames_have_different_ids() -> None:
    ids = {message_id(_frame(i)) for i in range(10_000)}
    assert len(ids) == 10_000
    assert message_id(b"a") != message_id(b"a\x00")


# -- record and look up ---------------------------------------------------------------------------


def test_recorded_message_is_contained_with_sender_and_time() -> None:
    clock = FakeClock()
    ml = _ml(clock)
    msg_id = _record(ml, b"frame one", sender=B)
    assert msg_id in ml
    assert ml.get(msg_id) == Entry(B, clock.monotonic())
    assert len(ml) == 1


def test_unknown_message_is_not_contained() -> None:
    ml = _ml(FakeClock())
    _record(ml, b"frame one")
    assert message_id(b"frame two") not in ml
    assert ml.get(message_id(b"frame two")) is None


def test_entry_keeps_the_time_of_first_receipt() -> None:
    clock = FakeClock()
    ml = _ml(clock)
    first = _record(ml, b"first")
    clock.advance(5.0)
    _record(ml, b"second")
    entry = ml.get(first)
    assert entry is not None
    assert entry.when == clock.monotonic() - 5.0


# -- bounded memory -------------------------------------------------------------------------------


def test_message_list_never_holds_more_than_max_entries() -> None:
    clock = FakeClock()
    ml = _ml(clock, max_entries=100)
    ids = []
    for i in range(5_000):
        ids.append(_record(ml, _frame(i)))
        assert len(ml) <= 100
        clock.advance(0.001)
    assert len(ml) == 100
    assert all(msg_id in ml for msg_id in ids[-100:])  # the newest are kept
    assert not any(msg_id in ml for msg_id in ids[:-100])


def test_entries_older_than_max_age_are_evicted_on_the_next_record() -> None:
    clock = FakeClock()
    ml = _ml(clock, max_age=60.0)
    old = _record(ml, b"old")
    clock.advance(30.0)
    middle = _record(ml, b"middle")
    clock.advance(30.5)  # "old" is now 60.5 s old, "middle" 30.5 s
    assert old in ml  # nothing is evicted until the next record
    new = _record(ml, b"new")
    assert old not in ml
    assert middle in ml
    assert new in ml
    assert len(ml) == 2


def test_entry_exactly_max_age_old_is_kept() -> None:
    clock = FakeClock()
    ml = _ml(clock, max_age=60.0)
    old = _record(ml, b"old")
    clock.advance(60.0)
    _record(ml, b"new")
    assert old in ml


def test_long_silence_then_one_record_evicts_everything_old() -> None:
    clock = FakeClock()
    ml = _ml(clock, max_age=60.0)
    for i in range(500):
        _record(ml, _frame(i))
    clock.advance(3600.0)
    latest = _record(ml, b"after an hour")
    assert len(ml) == 1
    assert latest in ml


def test_steady_gossip_keeps_memory_bounded_by_age() -> None:
    clock = FakeClock()
    ml = _ml(clock, max_entries=1_000_000, max_age=60.0)
    for i in range(10_000):  # one message a second for almost three hours
        _record(ml, _frame(i))
        clock.advance(1.0)
        assert len(ml) <= 61


# -- recent history for a new neighbour -----------------------------------------------------------


def test_recent_returns_frames_oldest_first() -> None:
    clock = FakeClock()
    ml = _ml(clock)
    frames = [_frame(i) for i in range(5)]
    for frame in frames:
        _record(ml, frame)
        clock.advance(1.0)
    assert ml.recent(max_bytes=10_000) == frames


def test_recent_returns_only_frames_younger_than_half_max_age() -> None:
    clock = FakeClock()
    ml = _ml(clock, max_age=60.0)
    _record(ml, b"too old")
    clock.advance(0.5)
    _record(ml, b"just old enough")
    clock.advance(10.0)
    _record(ml, b"young")
    clock.advance(19.75)  # now: 30.25 s, 29.75 s and 19.75 s old
    assert ml.recent(max_bytes=10_000) == [b"just old enough", b"young"]
    clock.advance(10.5)
    assert ml.recent(max_bytes=10_000) == []


def test_recent_respects_the_byte_budget_and_keeps_the_newest() -> None:
    clock = FakeClock()
    ml = _ml(clock)
    frames = [_frame(i, size=10) for i in range(10)]
    for frame in frames:
        _record(ml, frame)
    assert ml.recent(max_bytes=35) == frames[-3:]
    assert ml.recent(max_bytes=30) == frames[-3:]  # an exact fit
    assert ml.recent(max_bytes=29) == frames[-2:]
    assert ml.recent(max_bytes=9) == []
    assert ml.recent(max_bytes=0) == []
    assert sum(map(len, ml.recent(max_bytes=55))) <= 55


def test_recent_stops_at_the_first_frame_that_does_not_fit() -> None:
    clock = FakeClock()
    ml = _ml(clock)
    for frame in (b"s", b"L" * 100, b"t", b"u"):
        _record(ml, frame)
    assert ml.recent(max_bytes=50) == [b"t", b"u"]  # never skips over a gap


def test_history_length_is_bounded() -> None:
    clock = FakeClock()
    ml = _ml(clock, history=5)
    frames = [_frame(i) for i in range(1000)]
    for frame in frames:
        _record(ml, frame)
    assert ml.recent(max_bytes=1 << 30) == frames[-5:]


def test_history_is_bounded_apart_from_the_message_list() -> None:
    clock = FakeClock()
    ml = _ml(clock, max_entries=3, history=10)
    frames = [_frame(i) for i in range(10)]
    for frame in frames:
        _record(ml, frame)
    assert ml.recent(max_bytes=1 << 30) == frames  # history is its own bound
    assert len(ml) == 3


def test_no_history_kept_when_history_is_zero() -> None:
    ml = _ml(FakeClock(), history=0)
    _record(ml, b"frame")
    assert ml.recent(max_bytes=1 << 20) == []
    assert len(ml) == 1


@pytest.mark.parametrize("count", [0, 1, 7])
def test_recent_of_a_fresh_list(count: int) -> None:
    clock = FakeClock()
    ml = _ml(clock)
    for i in range(count):
        _record(ml, _frame(i))
    assert len(ml.recent(max_bytes=1 << 20)) == count


# -- kept frames and gaps ---------------------------------------------------------------------


def test_kept_frames_are_found_by_origin_and_sequence_until_the_ring_drops_them() -> None:
    ml = _ml(FakeClock(), history=3)
    for seq in range(1, 5):
        ml.record(message_id(_frame(seq)), B, _frame(seq), A, seq)
    assert ml.kept(A, [1, 2, 3, 4, 9], 1 << 20) == [_frame(2), _frame(3), _frame(4)]  # 1 fell off
    assert ml.kept(B, [2], 1 << 20) == []
    assert ml.kept(A, [4, 3, 2], max_bytes=25) == [_frame(4), _frame(3)]  # 10 bytes each


class _Timed:
    """Gaps and their deadlines, asked as the peer's core asks them."""

    def __init__(self, clock: FakeClock, **options: int | float) -> None:
        self.clock = clock
        self.deadlines = Deadlines[GapDue]()
        self.gaps = Gaps(self.deadlines, clock, **{"delay": 1.0, "tries": 3, **options})  # type: ignore[arg-type]
        self.seen, self.missing = self.gaps.seen, self.gaps.missing

    def due(self, neighbours: list[str]) -> dict[str, dict[str, list[int]]]:
        keys = self.deadlines.due(self.clock.monotonic())
        return self.gaps.ask([(key.origin, key.seq) for key in keys], neighbours)

    def next_deadline(self) -> float | None:
        return self.deadlines.next()


def _gaps(clock: FakeClock, tries: int = 3, max_missing: int = 100, **options: float) -> _Timed:
    return _Timed(clock, tries=tries, max_missing=max_missing, **options)


def test_a_skipped_number_is_a_gap_asked_of_the_revealer_once_it_lasted_the_delay() -> None:
    clock = FakeClock()
    gaps = _gaps(clock)
    gaps.seen(A, 1, B)
    gaps.seen(A, 4, B)  # 2 and 3 skipped
    assert gaps.missing(A) == [2, 3]
    assert gaps.due([B, C]) == {}  # it may yet come by another path
    assert gaps.next_deadline() == clock.monotonic() + 1.0
    clock.advance(1.0)
    assert gaps.due([B, C]) == {B: {A: [2, 3]}}


def test_a_gap_filled_by_a_late_copy_is_never_asked_for() -> None:
    clock = FakeClock()
    gaps = _gaps(clock)
    gaps.seen(A, 1, B)
    gaps.seen(A, 3, B)
    gaps.seen(A, 2, C)
    clock.advance(5.0)
    assert gaps.missing(A) == [] and gaps.due([B, C]) == {}
    assert gaps.next_deadline() is None


def test_an_unfilled_gap_is_asked_of_another_neighbour_then_given_up() -> None:
    clock = FakeClock()
    gaps = _gaps(clock, tries=2)
    gaps.seen(A, 1, B)
    gaps.seen(A, 3, B)
    clock.advance(1.0)
    assert gaps.due([B, C]) == {B: {A: [2]}}
    clock.advance(1.0)
    assert gaps.due([B, C]) == {C: {A: [2]}}  # B did not have it
    clock.advance(1.0)
    assert gaps.due([B, C]) == {}  # two tries: lost here
    assert gaps.missing(A) == []


def test_a_revealer_that_is_no_longer_a_neighbour_is_not_asked() -> None:
    clock = FakeClock()
    gaps = _gaps(clock)
    gaps.seen(A, 1, B)
    gaps.seen(A, 3, B)
    clock.advance(1.0)
    assert gaps.due([C]) == {C: {A: [2]}}


def test_an_early_message_arriving_late_is_no_restart_and_opens_no_gap() -> None:
    clock = FakeClock()
    gaps = _gaps(clock)
    gaps.seen(A, 2, B)
    gaps.seen(A, 1, C)  # by a slower path, or in a new neighbour's history
    gaps.seen(A, 3, B)
    assert gaps.missing(A) == []


def test_an_origin_silent_for_long_starts_afresh() -> None:
    clock = FakeClock()
    gaps = _gaps(clock, forget=60.0)
    gaps.seen(A, 1, B)
    gaps.seen(A, 5, B)
    clock.advance(60.0)
    gaps.seen(A, 1, B)  # restarted long after: its old numbers mean nothing now
    assert gaps.missing(A) == []
    gaps.seen(A, 2, B)
    assert gaps.missing(A) == []


def test_beyond_max_origins_the_longest_silent_origin_is_forgotten() -> None:
    clock = FakeClock()
    gaps = _gaps(clock, max_origins=2)
    gaps.seen(A, 1, B)
    gaps.seen(A, 3, B)
    gaps.seen(B, 1, C)
    gaps.seen(C, 1, B)  # A, silent the longest, goes
    assert gaps.missing(A) == []
    assert gaps.next_deadline() is None  # and its gaps with it
    clock.advance(1.0)
    assert gaps.due([B, C]) == {}


def test_gaps_are_bounded_per_origin_the_oldest_given_up_first() -> None:
    clock = FakeClock()
    gaps = _gaps(clock, max_missing=5)
    gaps.seen(A, 1, B)
    gaps.seen(A, 6, B)
    assert gaps.missing(A) == [2, 3, 4, 5]
    gaps.seen(A, 9, B)
    assert gaps.missing(A) == [3, 4, 5, 7, 8]


def test_the_first_message_heard_from_an_origin_reveals_no_gap() -> None:
    gaps = _gaps(FakeClock())
    gaps.seen(A, 40, B)  # we joined late: 1 to 39 are history, not gaps
    gaps.seen(A, 41, B)
    assert gaps.missing(A) == []


def test_a_leap_no_loss_explains_opens_no_gaps_and_leaves_repair_working() -> None:
    gaps = _gaps(FakeClock(), max_missing=1000)
    gaps.seen(A, 1, B)
    gaps.seen(A, 10**15, B)  # a forged sequence number
    assert gaps.missing(A) == [] and gaps.next_deadline() is None
    gaps.seen(A, 3, B)  # the origin's real next messages still show their gaps
    assert gaps.missing(A) == [2]


def test_a_leap_borne_out_by_the_next_message_is_followed() -> None:
    gaps = _gaps(FakeClock(), max_missing=1000)
    gaps.seen(A, 1, B)
    gaps.seen(A, 5000, B)  # it restarted its numbering, or we were cut off for long
    gaps.seen(A, 5001, B)
    gaps.seen(A, 5003, B)
    assert gaps.missing(A) == [5002]
