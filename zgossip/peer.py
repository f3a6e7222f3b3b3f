"""The peer's sockets: ROUTER (its identity address), XPUB + SUB for gossip, DEALERs.

The protocol is :class:`zgossip.protocol.peer.PeerState`; this module wires it to
ZeroMQ and offers the library API (:meth:`Peer.on_message`, :meth:`Peer.broadcast`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import queue
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import zmq

from zgossip.feed import Feeds, Stream
from zgossip.node import Node, Tap
from zgossip.protocol import records, wire
from zgossip.protocol.clock import Clock
from zgossip.protocol.config import Config
from zgossip.protocol.effects import Connect, Disconnect, Effect, Publish, RunQuery
from zgossip.protocol.liveness import Liveness
from zgossip.protocol.outbox import Outbox
from zgossip.protocol.peer import Neighbour, PeerState, check_body
from zgossip.protocol.registration import Registration

T = TypeVar("T")
#: XPUB subscription notices carry this prefix before the subscriber's id.
_SUBSCRIBED = b"\x01\x00"
_UNSUBSCRIBED = b"\x00\x00"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A gossip message on its first receipt, as :meth:`Peer.on_message` hands it over."""

    id: str  # hex of the message's hash: the same at every peer
    body: str | bytes  # as the origin broadcast it
    origin: str  # the peer that created it
    sender: str  # the neighbour it came from
    sent: float  # Unix time the origin sent it


MessageHandler = Callable[[Delivery], None]


@dataclass(frozen=True, slots=True)
class Member:
    """A peer of the network as this peer's member list holds it (:meth:`Peer.members`)."""

    peer: str  # its IP:PORT
    state: str  # alive, suspect, left or dead
    since: float  # Unix time it came to be so (its join, for one alive)
    tags: dict[str, str]  # what it says of itself

    @classmethod
    def of(cls, fact: wire.Fact) -> Member:
        return cls(fact.peer, fact.state, fact.since, dict(fact.tags))


@dataclass(frozen=True, slots=True)
class MemberChange:
    """A change of the member list (:meth:`Peer.on_member`, :meth:`Peer.member_changes`):
    ``change`` is ``joined``, ``updated`` (tags, or suspect), ``left`` or ``failed``."""

    change: str
    member: Member


MemberHandler = Callable[[MemberChange], None]
_NEWS = (records.MemberJoined, records.MemberUpdated, records.MemberLeft, records.MemberFailed)
#: The member events, by record type, as a change's name.
_CHANGES: dict[type[records.Event], str] = {
    records.MemberJoined: "joined",
    records.MemberUpdated: "updated",
    records.MemberLeft: "left",
    records.MemberFailed: "failed",
}


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A query a member asked of this peer, as an :meth:`Peer.on_query` handler gets it."""

    name: str
    payload: str | bytes
    querier: str  # the member that asks


#: A query's handler: the answer (text or bytes, ``Config.max_answer`` at most; None:
#: empty); what it raises is answered ``failed``.
QueryHandler = Callable[[QueryRequest], str | bytes | None]


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    """One member's answer to a query of this peer (:meth:`Peer.query`)."""

    peer: str
    status: str  # ok, nohandler, busy, toolarge or failed
    payload: str | bytes  # the handler's answer (for ok)
    took: float  # seconds from the query's start


class QueryRun:
    """The answers to one query, as they come: ``for answer in run`` (or ``async for``)
    ends when the query does; then :attr:`missing` names the members asked that never
    answered, :attr:`gone` those that died or left first, :attr:`timed_out` whether it
    waited out its timeout. RuntimeError from the iteration when the peer refused to run
    it (too many at once, or too wide)."""

    def __init__(self) -> None:
        self._items: queue.SimpleQueue[QueryAnswer | records.QueryEnded | str] = queue.SimpleQueue()
        self.missing: list[str] = []
        self.gone: list[str] = []
        self.timed_out = False
        self._over = False

    def __iter__(self) -> Iterator[QueryAnswer]:
        while (answer := self._next(self._items.get())) is not None:
            yield answer

    async def __aiter__(self) -> AsyncIterator[QueryAnswer]:
        while (answer := self._next(await asyncio.to_thread(self._items.get))) is not None:
            yield answer

    def _next(self, item: QueryAnswer | records.QueryEnded | str) -> QueryAnswer | None:
        if isinstance(item, QueryAnswer):
            return item
        self._over = True
        if isinstance(item, str):
            raise RuntimeError(item)
        self.missing, self.gone, self.timed_out = item.missing, item.gone, item.timed_out
        return None

    def _put(self, item: QueryAnswer | records.QueryEnded | str) -> None:
        self._items.put(item)


class _Pace:
    """A peer's own messages at most ``rate`` a second, in bursts of a tenth of a second.
    A caller past it waits, in real time whatever the node's clock: this is about CPU."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._burst = max(1.0, rate / 10)
        self._tokens = self._burst
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Wait until one more message may go; the seconds waited."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            wait = max(0.0, -self._tokens / self.rate)
        if wait:
            time.sleep(wait)
        return wait


class Peer(Node):
    """A peer node. ``Peer(config).start()`` serves in a thread; ``.run()`` in this one."""

    role = "peer"
    state: PeerState

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        console: bool = False,
        tap: Tap | None = None,
    ) -> None:
        super().__init__(config, clock=clock, rng=rng, console=console, tap=tap)
        self._handlers_of_messages: list[MessageHandler] = []
        self._streams: Feeds[Delivery] = Feeds("messages", self.events.behind)
        self._handlers_of_members: list[MemberHandler] = []
        self._handlers_of_queries: dict[str, QueryHandler] = {}
        self._queries: dict[int, QueryRun] = {}  # our program's queries under way, by id
        self._member_streams: Feeds[MemberChange] = Feeds("members", self.events.behind)
        self._pace = _Pace(config.max_rate)
        self._held = 0  # broadcasts that had to wait since it was last said
        self._held_said = -math.inf  # when that was (monotonic, real time)
        self._outbox = Outbox(self.id, config.max_batch, wire.topic)  # what this turn forwards
        self._forwarded_bytes = self._forwarded_frames = 0  # gossip sent on the PUB

    def _core(self, now: float, wall_offset: float) -> PeerState:
        return PeerState(self.config, rng=self.rng, now=now, wall_offset=wall_offset)

    # -- the library API ---------------------------------------------------------

    def on_message(self, handler: MessageHandler) -> MessageHandler:
        """Call ``handler`` with each message on its first receipt, in the peer's thread.

        Keep it quick: the peer forwards nothing while it runs. Usable as a decorator.
        """
        self._handlers_of_messages.append(handler)
        return handler

    def messages(self, size: int | None = None) -> Stream[Delivery]:
        """``async for message in peer.messages()``: each message on its first receipt
        from now on, in an asyncio loop (call it in that loop). The peer never waits for
        the consumer: at most ``size`` (``Config.stream_size``) messages wait for one that
        is behind, and older ones are dropped, counted in the stream's ``dropped`` and
        said in a ``consumer.behind`` event. It ends when the peer stops."""
        return Stream(self._streams, size or self.config.stream_size)

    def broadcast(self, body: str | bytes) -> None:
        """Gossip ``body`` to the whole network (thread-safe). Sent once this peer runs;
        kept and handed to every neighbour that links later, like every recent message.

        Backpressure: past ``Config.max_rate`` messages a second, or while the peer is
        behind (``Config.max_pending``), the call waits; a ``broadcast.paced`` event says so,
        at most once a second. Called from an ``on_message`` handler it never waits.
        """
        check_body(body)  # here too: the caller hears of it, not the node's thread
        if not self.loop.in_loop() and self._pace.take():
            self._held += 1
            now = time.monotonic()
            if now - self._held_said >= 1.0:
                held, self._held, self._held_said = self._held, 0, now
                paced = records.BroadcastPaced(self._pace.rate, held)
                self._call_soon(lambda: self._say(paced))
        self._call_soon(lambda: self._apply(self.state.broadcast(self.clock.monotonic(), body)))

    def set_tags(self, tags: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Say ``tags`` of this peer from now on, replacing the ones it had (thread-safe);
        the seeds that hold its registration show them at once (``zgossip members``).
        ValueError, here, for tags no peer would take: keys of 1 to 128 characters with no
        ``=``, values text, 4 KiB in all."""
        pairs = list(tags.items()) if isinstance(tags, Mapping) else list(tags)
        checked = wire.check_tags(pairs)  # a WireError is a ValueError: the caller hears of it
        self._call_soon(lambda: self._apply(self.state.set_tags(self.clock.monotonic(), checked)))

    @property
    def tags(self) -> dict[str, str]:
        """What this peer says of itself now."""
        return dict(self.state.tags)

    def members(self) -> list[Member]:
        """Every peer this peer knows of, itself included, by address: alive, suspect, or
        left or dead within ``Config.member_keep`` (thread-safe)."""
        return self._read(
            lambda: sorted((Member.of(f) for f in self.state.members), key=lambda m: m.peer)
        )

    def on_member(self, handler: MemberHandler) -> MemberHandler:
        """Call ``handler`` with each change of the member list (a peer joined, updated its
        tags, left or failed), in the peer's thread. Keep it quick. Usable as a decorator."""
        self._handlers_of_members.append(handler)
        return handler

    def member_changes(self, size: int | None = None) -> Stream[MemberChange]:
        """``async for change in peer.member_changes()``: each change of the member list
        from now on, in an asyncio loop, as :meth:`messages` hands over messages (bounded
        by ``size``, ``Config.stream_size``; the oldest dropped for a consumer behind)."""
        return Stream(self._member_streams, size or self.config.stream_size)

    def on_query(self, name: str) -> Callable[[QueryHandler], QueryHandler]:
        """``@peer.on_query("NAME")``: the handler answers the members' queries of that
        name, in the peer's thread (keep it quick), at most ``Config.query_rate`` a second
        from any one querier. A name without a handler is answered ``nohandler``."""

        def register(handler: QueryHandler) -> QueryHandler:
            self._handlers_of_queries[name] = handler
            self._read(lambda: self.state.handlers.add(name))
            return handler

        return register

    def query(
        self,
        name: str,
        payload: str | bytes = "",
        *,
        tags: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> QueryRun:
        """Ask every alive member whose tags match ``tags`` (values may be patterns such
        as ``db*``; this peer too, if it matches) to answer query ``name``; iterate the
        result for the answers as they come (thread-safe). It ends as soon as every
        member asked answered or is gone, or at ``timeout`` seconds. ValueError for a
        name, payload, tags or timeout no peer would take."""
        ask = wire.Ask(name, payload, wire.check_tags(list((tags or {}).items())), timeout)
        wire.decode(wire.encode(ask))  # the limits a client's would meet: raised here
        run = QueryRun()

        def start() -> None:
            query, effects = self.state.query(
                self.clock.monotonic(), name, payload, ask.tags, timeout
            )
            if query:
                self._queries[query] = run
            else:
                ended = [e for e in effects if isinstance(e, records.QueryEnded)]
                run._put(ended[0].refused or "refused" if ended else "refused")
            self._apply(effects)

        self._call_soon(start)
        return run

    # -- what the core holds, for those who look ---------------------------------

    @property
    def neighbours(self) -> dict[str, Neighbour]:
        return self.state.neighbours

    @property
    def registration(self) -> Registration:
        return self.state.registration

    @property
    def liveness(self) -> Liveness:
        return self.state.liveness

    @property
    def pub_endpoint(self) -> str:
        return self.state.pub

    # -- sockets -----------------------------------------------------------------

    def _bind(self) -> list[str]:
        host = self.config.address.host
        self._router = self._socket(zmq.ROUTER)
        router_endpoint = self._bind_socket(self._router, host, self.config.address.port)
        self._pub = self._socket(zmq.XPUB)
        self._pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self._pub.setsockopt(zmq.SNDHWM, self.config.gossip_hwm)
        self._pub.setsockopt(zmq.MAXMSGSIZE, self.config.max_subscription)  # all it reads
        self._pub_endpoint = self._bind_socket(self._pub, host, None)
        self._sub = self._socket(zmq.SUB)
        self._sub.setsockopt(zmq.RCVHWM, self.config.gossip_hwm)
        self._topic = wire.topic(self.id.encode())  # what our neighbours address us by
        self._sub.setsockopt(zmq.SUBSCRIBE, self._topic)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"\x00" + self.id.encode())
        self.loop.watch_router(self._router, self._on_router)
        self.loop.watch(self._pub, self._on_subscription)
        self.loop.watch(self._sub, self._on_gossip)
        return [router_endpoint, self._pub_endpoint]

    def _begin(self) -> list[Effect]:
        return self.state.start(self.clock.monotonic(), self._pub_endpoint)

    def _do_publish(self, effect: Publish) -> None:
        """Kept for the end of the turn (see :meth:`_end_turn`)."""
        self._outbox.add(effect)

    def _end_turn(self) -> None:
        """Send what this turn forwarded: one frame a neighbour (see
        :mod:`zgossip.protocol.outbox`), each addressed to the neighbour's SUB."""
        if not self._outbox:
            return
        send = self._pub.send
        for _, frame, _ in self._outbox.frames():
            send(frame)
            self._forwarded_bytes += len(frame)
            self._forwarded_frames += 1
        self.loop.touched(self._pub)

    def figures(self) -> dict[str, float]:
        return {
            **super().figures(),
            "forwarded_bytes": self._forwarded_bytes,
            "forwarded_frames": self._forwarded_frames,
        }

    def _do_connect(self, effect: Connect) -> None:
        if effect.peer not in self._dealers:
            self._open_dealer(effect.peer, link=True)
        if effect.peer in self._connected:  # else the link never comes up, and fails in time
            self._connect(self._sub, effect.peer, effect.pub)  # a CURVE client of its XPUB

    def _do_disconnect(self, effect: Disconnect) -> None:
        super()._do_disconnect(effect)
        self._outbox.forget(effect.peer)
        if effect.pub is not None:
            with contextlib.suppress(zmq.ZMQError):  # never connected
                self._sub.disconnect(effect.pub)
            self.loop.touched(self._sub)

    def _event(self, event: records.Event) -> None:
        self.events.emit(event)
        if type(event) is records.GossipReceived:  # the hot path: one test, as before
            if self._handlers_of_messages or self._streams.active:
                self._deliver(event)
        elif self._queries and isinstance(event, records.QueryAnswered | records.QueryEnded):
            self._tell_query(event)
        elif isinstance(event, _NEWS) and (
            self._handlers_of_members or self._member_streams.active
        ):
            self._tell_member(_CHANGES[type(event)], event.member)

    def _tell_query(self, event: records.QueryAnswered | records.QueryEnded) -> None:
        run = self._queries.get(event.id)
        if run is None:
            return  # a client's query, not our program's
        if isinstance(event, records.QueryAnswered):
            run._put(QueryAnswer(event.peer, event.status, event.payload, event.took))
        else:
            del self._queries[event.id]
            run._put(event)

    def _do_run_query(self, effect: RunQuery) -> None:
        """Our handler's answer to a member's query (or to our own)."""
        handler = self._handlers_of_queries[effect.name]
        answer: str | bytes | None = None
        failure = None
        try:
            answer = handler(QueryRequest(effect.name, effect.payload, effect.querier))
            if not isinstance(answer, str | bytes | None):
                failure = f"the handler returned {type(answer).__name__}, not text or bytes"
        except Exception as exc:  # the user's code: answered failed, and said
            failure = repr(exc)
            self._say(records.HandlerError(failure))
        now = self.clock.monotonic()
        self._apply(self.state.answered(now, effect.to, effect.querier, effect.id, answer, failure))

    def answer_info(self) -> None:
        """Answer the query ``info`` (as every peer started from the command line does):
        this peer's version, uptime, neighbours and tags, as JSON."""
        from zgossip import __version__

        started = time.monotonic()

        @self.on_query("info")
        def info(request: QueryRequest) -> str:
            up = sorted(n.id for n in self.state.neighbours.values() if n.up)
            uptime = round(time.monotonic() - started, 3)
            return json.dumps(
                {"version": __version__, "uptime": uptime, "neighbours": up, "tags": self.tags}
            )

    def _tell_member(self, change: str, member: str) -> None:
        fact = self.state.members.get(member)
        if fact is None:
            return
        self._hand_over(
            MemberChange(change, Member.of(fact)), self._handlers_of_members, self._member_streams
        )

    def _deliver(self, event: records.GossipReceived) -> None:
        message = event.message
        delivery = Delivery(event.id, message.body, event.origin, event.sender, message.ts)
        self._hand_over(delivery, self._handlers_of_messages, self._streams)

    def _hand_over(self, item: T, handlers: list[Callable[[T], None]], feeds: Feeds[T]) -> None:
        """``item`` to each handler (what one raises is said, and the peer goes on) and to
        the async consumers."""
        for handler in handlers:
            try:
                handler(item)
            except Exception as exc:  # the user's code: report it, keep gossiping
                self._say(records.HandlerError(repr(exc)))
        if feeds.active:
            feeds.put(item)

    def _release(self) -> None:
        super()._release()
        self._streams.close()
        self._member_streams.close()
        for run in self._queries.values():  # they end with the peer
            run._put(f"peer {self.id} stopped before the query ended")
        self._queries.clear()

    # -- input -------------------------------------------------------------------

    def _on_subscription(self, frames: list[bytes]) -> None:
        notice = frames[0]
        if notice.startswith(_SUBSCRIBED):
            peer, subscribed = notice[len(_SUBSCRIBED) :], True
        elif notice.startswith(_UNSUBSCRIBED):
            peer, subscribed = notice[len(_UNSUBSCRIBED) :], False
        else:
            return  # "" (all gossip), or someone else's topic
        now = self.clock.monotonic()
        self._apply(self.state.subscription(now, peer.decode(errors="replace"), subscribed))

    def _on_gossip(self, frames: list[bytes]) -> None:
        if len(frames) != 1:
            self._bad(f"expected 1 gossip frame, got {len(frames)}")
            return
        frame = frames[0][len(self._topic) :]  # addressed to us: our SUB reads nothing else
        if self._tap is not None and not self._tap.inbound(frame, None):
            return
        effects = self.state.gossip(self.clock.monotonic(), frame)
        if effects:  # a duplicate has none
            self._apply(effects)
