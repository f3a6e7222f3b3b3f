"""The Message List: first-receipt detection and bounded memory; gaps (fake clock)."""

from __future__ import annotations

import hashlib

from zgossip.protocol.clock import FakeClock
from zgossip.protocol.deadlines import Deadlines
from zgossip.protocol.gossip import Entry, GapDue, Gaps, MessageList, message_id

MAX_AGE = 600.0
A = "10.0.0.1:5000"
B = "10.0.0.2:5000"
C = "10.0.0.3:5000"


def _frame(i: int, size: int = 10) -> bytes:
    return f"{i:0{size}d}".encode()[:size]


def _ml(clock: FakeClock, max_entries: int = 1000, max_age: float = MAX_AGE) -> MessageList:
    return MessageList(clock, max_entries=max_entries, max_age=max_age)


def _record(ml: MessageList, frame: bytes, sender: str = A) -> bytes:
    msg_id = message_id(frame)
    ml.record(msg_id, sender)
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


# -- gaps ------------------------------------------------------------------------------------


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
