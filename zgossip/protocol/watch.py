"""Who watches a node's events from outside (``zgossip monitor``), and what each is sent.

A client attaches by sending ``watch`` to the node's ROUTER, and stays attached by sending
it again at least every ``Config.watch_for`` seconds; each ``watch`` says how many of the
node's events the client has read. The node numbers the events each watcher wants and
sends them in ``watched`` frames, one a turn, but never more than ``Config.watch_window``
ahead of what the watcher said it read: past that, events are skipped, and the numbers
of the next frame tell the watcher how many it lost. So a slow or vanished monitor costs
the node a bounded queue, never a wait, and a node no one watches does no work for it.

A plain object the core holds (:meth:`zgossip.protocol.core.Core.watched`): it is handed
the time and the events, and says what to send.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from zgossip.protocol import wire

#: The bytes of events one frame holds at most: well within the frame limit.
_FRAME_BYTES = wire.MAX_FRAME // 2
#: One event as a watcher gets it: its name, its JSON line and its console text.
Line = tuple[str, str, str]


@dataclass(slots=True)
class _Watcher:
    address: str  # where it connects from, as the node's logs name it
    patterns: tuple[str, ...]  # event names, or shell patterns such as gossip.*; () for all
    until: float  # attached until then, unless it says watch again
    read: int  # events it said it read
    sent: int = 0  # the number after the last event sent to it
    next: int = 0  # the number the next event it wants gets

    def wants(self, name: str) -> bool:
        return not self.patterns or any(fnmatch.fnmatchcase(name, p) for p in self.patterns)


class Watchers:
    def __init__(self, node: str, *, limit: int, window: int, ttl: float) -> None:
        self.node = node
        self._limit = limit
        self._window = window
        self._ttl = ttl
        self._watchers: dict[bytes, _Watcher] = {}

    def __len__(self) -> int:
        return len(self._watchers)

    def __contains__(self, who: bytes) -> bool:
        return who in self._watchers

    def watch(
        self, now: float, who: bytes, request: wire.Watch, address: str
    ) -> wire.Watched | wire.Refused:
        """A ``watch`` from ``who`` (a ROUTER routing id): attach or stay attached. The
        answer: nothing new (the events go as they come), or why not. Call :meth:`expire`
        first."""
        watcher = self._watchers.get(who)
        if watcher is None:
            if len(self._watchers) >= self._limit:
                return wire.Refused(self.node, f"{self._limit} monitors watch already")
            # numbered from 0 again, whatever it read before (it was let go, or the node
            # restarted): the answer's number tells it so
            watcher = _Watcher(address, request.events, now, read=0)
            self._watchers[who] = watcher
        watcher.until = now + self._ttl
        watcher.patterns = request.events
        watcher.read = max(watcher.read, min(request.read, watcher.next))
        return wire.Watched(self.node, watcher.next, ())

    def frames(self, lines: list[Line]) -> list[tuple[bytes, wire.Watched]]:
        """What to send each watcher of ``lines``, the events since the last call (in frames
        of at most half the frame limit). Call :meth:`expire` first."""
        out: list[tuple[bytes, wire.Watched]] = []
        for who, watcher in self._watchers.items():
            first = watcher.next
            events: list[tuple[str, str]] = []
            size = 0
            for name, json, text in lines:
                if not watcher.wants(name):
                    continue
                watcher.next += 1
                if watcher.sent - watcher.read >= self._window:
                    continue  # too far ahead of what it read: skipped, and it will see so
                if size + len(json) + len(text) > _FRAME_BYTES and events:
                    out.append((who, wire.Watched(self.node, first, tuple(events))))
                    first, events, size = watcher.next - 1, [], 0
                events.append((json, text))
                size += len(json) + len(text)
                watcher.sent = watcher.next
            if events:
                out.append((who, wire.Watched(self.node, first, tuple(events))))
        return out

    def expire(self, now: float) -> list[str]:
        """Let go of the watchers silent for too long; where they were."""
        gone = [who for who, watcher in self._watchers.items() if watcher.until <= now]
        return [self._watchers.pop(who).address for who in gone]
