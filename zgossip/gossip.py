"""The Message List: first-receipt detection with bounded memory (pure).

A message's id is a hash of its whole frame, taken once on receipt; since a
forward sends the very same bytes, every peer computes the same id, and a
duplicate is dropped before it is even decoded. Entries are forgotten past
``max_entries`` or ``max_age`` seconds, whichever comes first, so memory stays
bounded however long a peer runs. The newest ``history`` frames are also kept
whole, to hand to a new neighbour.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass

from zgossip.clock import Clock


def message_id(frame: bytes | memoryview) -> bytes:
    """The id of a gossip frame: 16 bytes of BLAKE2b."""
    return hashlib.blake2b(frame, digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class Entry:
    sender: str  # the neighbour it came from (ourselves for our own messages)
    when: float  # monotonic time of first receipt


class MessageList:
    def __init__(self, clock: Clock, *, max_entries: int, max_age: float, history: int) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._max_age = max_age
        self._entries: dict[bytes, Entry] = {}  # insertion order is receipt order
        self._history: deque[tuple[float, bytes]] = deque(maxlen=history)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, msg_id: bytes) -> bool:
        return msg_id in self._entries

    def get(self, msg_id: bytes) -> Entry | None:
        return self._entries.get(msg_id)

    def record(self, msg_id: bytes, sender: str, frame: bytes) -> None:
        """Remember a first receipt, and forget what is now too old or too many."""
        now = self._clock.monotonic()
        entries = self._entries
        entries[msg_id] = Entry(sender, now)
        self._history.append((now, frame))
        oldest = now - self._max_age
        while len(entries) > self._max_entries or entries[next(iter(entries))].when < oldest:
            del entries[next(iter(entries))]

    def recent(self, max_bytes: int) -> list[bytes]:
        """The newest kept frames, oldest first, that fit in ``max_bytes`` and are young
        enough that no peer has forgotten their ids."""
        oldest = self._clock.monotonic() - self._max_age / 2
        frames: list[bytes] = []
        for when, frame in reversed(self._history):
            max_bytes -= len(frame)
            if when < oldest or max_bytes < 0:
                break
            frames.append(frame)
        frames.reverse()
        return frames
