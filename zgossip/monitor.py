"""A node's monitors (``zgossip monitor``): the part of the node that serves them, around
:class:`zgossip.protocol.watch.Watchers`, which says what each is sent."""

from __future__ import annotations

from collections.abc import Callable

from zgossip.events import EventLog
from zgossip.protocol import records, wire
from zgossip.protocol.clock import Clock
from zgossip.protocol.config import Config
from zgossip.protocol.watch import Watchers


class Monitors:
    """A node's part that serves its monitors: it attaches them (:meth:`watch`), sends
    them the events of each turn (:meth:`send`) and lets the silent ones go. While none
    watches, the event log keeps nothing for them. Replies and events go through the
    node's callbacks (its ROUTER, and its effects)."""

    def __init__(
        self,
        node: str,
        config: Config,
        clock: Clock,
        events: EventLog,
        *,
        reply: Callable[[bytes, wire.Message], None],
        say: Callable[[records.Event], None],
    ) -> None:
        self._watchers = Watchers(
            node, limit=config.max_watchers, window=config.watch_window, ttl=config.watch_for
        )
        self._clock = clock
        self._events = events
        self._reply = reply
        self._say = say

    def __len__(self) -> int:
        return len(self._watchers)

    def watch(self, who: bytes, request: wire.Watch, address: str) -> None:
        """A monitor attaches, or says it still watches."""
        self._let_go()
        attached = who in self._watchers
        answer = self._watchers.watch(self._clock.monotonic(), who, request, address)
        if not attached and who in self._watchers:
            self._events.keep_watched(True)
            self._say(records.MonitorAttached(address, list(request.events)))
        self._reply(who, answer)

    def send(self) -> None:
        """Send the monitors the events since the last time; once none watches, the log
        keeps no more events for them."""
        if not self._events.watching:
            return
        self._let_go()
        for who, frame in self._watchers.frames(self._events.take_watched()):
            self._reply(who, frame)
        if not self._watchers:
            self._events.keep_watched(False)

    def _let_go(self) -> None:
        for address in self._watchers.expire(self._clock.monotonic()):
            self._say(records.MonitorDetached(address))
