"""Who watches a node's events, and what each is sent: bounded, numbered, let go when silent."""

from __future__ import annotations

from zgossip.protocol import wire
from zgossip.protocol.watch import Line, Watchers

NODE = "127.0.0.1:6001"


def _lines(*names: str) -> list[Line]:
    return [(name, f'{{"event":"{name}"}}', f"text of {name}") for name in names]


def _watchers(limit: int = 2, window: int = 100) -> Watchers:
    return Watchers(NODE, limit=limit, window=window, ttl=3.0)


def test_a_watcher_gets_the_events_it_asked_for_numbered_from_zero() -> None:
    watchers = _watchers()
    assert not watchers
    answer = watchers.watch(0.0, b"a", wire.Watch(("gossip.*",), 0), "127.0.0.1")
    assert answer == wire.Watched(NODE, 0, ())
    assert watchers
    frames = watchers.frames(_lines("gossip.sent", "liveness.missed", "gossip.received"))
    assert [(who, f.seq, [json for json, _ in f.events]) for who, f in frames] == [
        (b"a", 0, ['{"event":"gossip.sent"}', '{"event":"gossip.received"}'])
    ]
    (_, frame), *_ = watchers.frames(_lines("gossip.sent"))
    assert frame.seq == 2


def test_a_watcher_too_far_behind_is_skipped_and_sees_the_gap_by_the_numbers() -> None:
    watchers = _watchers(window=3)
    watchers.watch(0.0, b"a", wire.Watch((), 0), "127.0.0.1")
    (_, first), *_ = watchers.frames(_lines(*["e"] * 5))
    assert (first.seq, len(first.events)) == (0, 3)  # the window: the other two skipped
    assert watchers.frames(_lines("e")) == []  # it still said it read nothing
    watchers.watch(0.3, b"a", wire.Watch((), 5), "127.0.0.1")  # it read through the gap
    (_, later), *_ = watchers.frames(_lines("e", "e"))
    assert (later.seq, len(later.events)) == (6, 2)  # 3, 4 and 5 lost: 6 - 3


def test_a_silent_watcher_is_let_go_and_no_more_than_the_limit_attach() -> None:
    watchers = _watchers(limit=1)
    watchers.watch(0.0, b"a", wire.Watch((), 0), "127.0.0.1")
    refused = watchers.watch(1.0, b"b", wire.Watch((), 0), "127.0.0.1")
    assert isinstance(refused, wire.Refused) and "1 monitors" in refused.reason
    watchers.watch(2.0, b"a", wire.Watch((), 0), "127.0.0.1")  # a stays attached until 5.0
    assert watchers.expire(4.9) == []
    assert watchers.frames(_lines("e"))
    assert watchers.expire(5.0) == ["127.0.0.1"]
    assert watchers.frames(_lines("e")) == []
    assert not watchers
    assert isinstance(watchers.watch(5.1, b"b", wire.Watch((), 0), "127.0.0.1"), wire.Watched)


def test_many_events_go_in_frames_within_the_frame_limit() -> None:
    watchers = _watchers(window=10_000)
    watchers.watch(0.0, b"a", wire.Watch((), 0), "127.0.0.1")
    big = [("e", "x" * 1000, "y" * 1000)] * 600  # 1.2 MB of events
    frames = watchers.frames(big)
    assert len(frames) == 3
    assert all(len(wire.encode(frame)) < wire.MAX_FRAME for _, frame in frames)
    assert [f.seq for _, f in frames] == [0, 262, 524]
    assert sum(len(f.events) for _, f in frames) == 600


def test_a_watcher_let_go_and_back_is_numbered_afresh_and_bounded_by_the_window() -> None:
    watchers = _watchers(window=3)
    watchers.watch(0.0, b"a", wire.Watch((), 0), "127.0.0.1")
    watchers.frames(_lines(*["e"] * 3))
    watchers.expire(10.0)  # silent for too long: let go
    answer = watchers.watch(10.0, b"a", wire.Watch((), 50), "127.0.0.1")  # it says it read 50
    assert isinstance(answer, wire.Watched) and answer.seq == 0  # afresh: it sees so
    ((_, frame),) = watchers.frames(_lines(*["e"] * 10))
    assert (frame.seq, len(frame.events)) == (0, 3)  # the window holds from 0, not from 50
