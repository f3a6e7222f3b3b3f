"""What one turn of a peer forwards, in frames: one a neighbour however many messages (pure).

A core says, for each message, which neighbours it goes to
(:class:`~zgossip.protocol.effects.Publish`); an executor collects a turn's worth here
(the input one poll found, or one simulated delivery) and sends what
:meth:`Outbox.frames` makes of it once the turn is over. A neighbour that gets one
message gets it in a frame of its own (:func:`wire.gossip_frame`); one that gets several
gets them in batches (:func:`wire.batch_frame`) of at most ``max_batch`` messages and
half the frame limit, which the receiving core takes whole
(:meth:`zgossip.protocol.peer.PeerState.gossip`): one send and one wake-up instead of one a
message.
"""

from __future__ import annotations

from collections.abc import Callable

from zgossip.protocol import wire
from zgossip.protocol.effects import Publish

#: A batch frame holds at most this many bytes of envelopes: well within the frame limit.
BATCH_BYTES = wire.MAX_FRAME // 2


class Outbox:
    def __init__(
        self, sender: str, max_batch: int, topic: Callable[[bytes], bytes] | None = None
    ) -> None:
        """``topic``: what each frame to a neighbour starts with, given its id (a PUB's
        addressing, :func:`wire.topic`); none by default."""
        self._sender = sender
        self._prefix = wire.gossip_frame(sender.encode(), b"")  # what a single frame starts with
        self._topic = topic
        # neighbour -> its topic, and the topic then the prefix (a single frame's head)
        self._heads: dict[str, tuple[bytes, bytes]] = {}
        self._max_batch = max_batch
        self._waiting: dict[str, list[bytes]] = {}  # neighbour -> envelopes of this turn

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def add(self, publish: Publish) -> None:
        """Forward ``publish``'s envelope to its neighbours at the end of the turn."""
        waiting = self._waiting
        for peer in publish.to:
            envelopes = waiting.get(peer)
            if envelopes is None:
                waiting[peer] = [publish.envelope]
            else:
                envelopes.append(publish.envelope)

    def forget(self, peer: str) -> None:
        """``peer`` is no longer a neighbour."""
        self._heads.pop(peer, None)

    def frames(self) -> list[tuple[str, bytes, list[bytes]]]:
        """The turn's frames, and the box emptied: (neighbour, frame, its envelopes)."""
        waiting, self._waiting = self._waiting, {}
        out = []
        heads = self._heads
        for peer, envelopes in waiting.items():
            known = heads.get(peer)
            if known is None:
                topic = b"" if self._topic is None else self._topic(peer.encode())
                known = heads[peer] = (topic, topic + self._prefix)
            topic, head = known
            if len(envelopes) == 1:  # most turns: one message, in a frame of its own
                out.append((peer, head + envelopes[0], envelopes))
                continue
            chunk: list[bytes] = []
            size = 0
            for envelope in envelopes:
                if chunk and (len(chunk) == self._max_batch or size + len(envelope) > BATCH_BYTES):
                    out.append((peer, self._frame(topic, head, chunk), chunk))
                    chunk, size = [], 0
                chunk.append(envelope)
                size += len(envelope)
            out.append((peer, self._frame(topic, head, chunk), chunk))
        return out

    def _frame(self, topic: bytes, head: bytes, envelopes: list[bytes]) -> bytes:
        if len(envelopes) == 1:
            return head + envelopes[0]
        return topic + wire.batch_frame(self._sender, tuple(envelopes))
