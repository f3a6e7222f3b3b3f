"""A turn's forwards in frames: one a neighbour, batches within their bounds."""

from __future__ import annotations

from zgossip.protocol import wire
from zgossip.protocol.effects import Publish
from zgossip.protocol.outbox import Outbox

ME, A, B = "10.0.0.1:6000", "10.0.0.2:6000", "10.0.0.3:6000"


def _envelope(seq: int, body: str = "hello") -> bytes:
    return wire.encode(wire.Gossip(ME, seq, 1.7e9, body))


def test_one_message_goes_in_a_frame_of_its_own_and_several_in_one_batch() -> None:
    outbox = Outbox(ME, max_batch=64)
    outbox.add(Publish(_envelope(1), (A, B)))
    outbox.add(Publish(_envelope(2), (A,)))
    frames = {peer: frame for peer, frame, _ in outbox.frames()}
    assert frames[B] == wire.gossip_frame(ME.encode(), _envelope(1))
    assert frames[A] == wire.batch_frame(ME, (_envelope(1), _envelope(2)))
    assert not outbox and list(outbox.frames()) == []


def test_batches_keep_to_max_batch_and_to_half_the_frame_limit() -> None:
    outbox = Outbox(ME, max_batch=3)
    for seq in range(7):
        outbox.add(Publish(_envelope(seq), (A,)))
    assert [len(envelopes) for _, _, envelopes in outbox.frames()] == [3, 3, 1]
    big = "x" * (wire.MAX_BODY - 100)
    for seq in range(20):  # 20 bodies of about 64 KB: over half a MiB
        outbox.add(Publish(_envelope(seq, big), (A,)))
    frames = list(outbox.frames())
    assert all(len(frame) <= wire.MAX_FRAME // 2 + 1024 for _, frame, _ in frames)
    assert sum(len(envelopes) for _, _, envelopes in frames) == 20


def test_each_frame_starts_with_its_neighbours_topic_when_given_one() -> None:
    outbox = Outbox(ME, max_batch=64, topic=wire.topic)
    outbox.add(Publish(_envelope(1), (A,)))
    outbox.add(Publish(_envelope(2), (B,)))
    outbox.add(Publish(_envelope(3), (B,)))
    frames = {peer: frame for peer, frame, _ in outbox.frames()}
    assert frames[A] == wire.topic(A.encode()) + wire.gossip_frame(ME.encode(), _envelope(1))
    batch = wire.batch_frame(ME, (_envelope(2), _envelope(3)))
    assert frames[B] == wire.topic(B.encode()) + batch
