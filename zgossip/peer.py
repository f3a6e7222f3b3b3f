"""The peer: ROUTER (its identity address), XPUB + SUB for gossip, DEALERs to seeds and neighbours.

Linking A to B, without losing gossip to ZeroMQ's slow-joiner effect:

1. A connects its SUB to B's PUB and a DEALER to B's ROUTER, and sends ``link``.
2. B does the same towards A (links are symmetric).
3. Each SUB subscribes, besides "" (all gossip), to a topic naming its own peer,
   ``\\x00<id>``, which never matches a message. When B's XPUB reports A's topic,
   B knows A's SUB is live on B's PUB, and tells A so with ``ready``.
4. A side counts the link as up, logs ``neighbour.added``, starts pinging and
   hands over its recent gossip once it has both seen the other's subscription
   and received the other's ``ready``.

A peer's own messages start one gossip interval after its first link is up.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass

import zmq

from zgossip import wire
from zgossip.clock import Clock, earliest
from zgossip.config import Config
from zgossip.gossip import Gaps, MessageList, message_id
from zgossip.liveness import Liveness, Suspicions
from zgossip.node import Node
from zgossip.overlay import pick_neighbours
from zgossip.registration import Registration

#: XPUB subscription notices carry this prefix before the subscriber's id.
_SUBSCRIBED = b"\x01\x00"
_UNSUBSCRIBED = b"\x00\x00"
#: Frames a PUB may queue for a slow subscriber before ZeroMQ drops (and gap repair makes
#: up for the drop): bounds the memory one stalled or hostile subscriber can hold.
_GOSSIP_HWM = 10_000
#: Subscriptions remembered for links still to come: whoever subscribes picks the names.
_MAX_SUBSCRIBERS = 4096
#: Neighbours asked to probe a suspect before it is reported (SWIM's k).
_HELPERS = 3


@dataclass(frozen=True, slots=True)
class Delivery:
    """A gossip message on its first receipt, as :meth:`Peer.on_message` hands it over."""

    id: str  # hex of the message's hash: the same at every peer
    body: str | bytes  # as the origin broadcast it
    origin: str  # the peer that created it
    sender: str  # the neighbour it came from
    sent: float  # Unix time the origin sent it


MessageHandler = Callable[[Delivery], None]


@dataclass(slots=True)
class _Neighbour:
    id: str
    pub: str
    dealer: zmq.Socket[bytes]
    deadline: float  # the link must be up by then, or it is dropped
    ready_sent: bool = False  # we told it our PUB reaches its SUB
    ready_heard: bool = False  # it told us its PUB reaches our SUB
    up: bool = False


class Peer(Node):
    """A peer node. ``Peer(config).start()`` serves in a thread; ``.run()`` in this one."""

    role = "peer"

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        console: bool = False,
    ) -> None:
        super().__init__(config, clock=clock, rng=rng, console=console)
        self._id_bytes = self.id.encode()
        self.ml = MessageList(
            self.clock,
            max_entries=config.ml_max_entries,
            max_age=config.ml_max_age,
            history=config.history,
        )
        self.liveness = Liveness(config.liveness_misses)
        # helpers probe for request_timeout; their answers need a moment more to come back
        self.suspicions = Suspicions(self.clock, 2 * config.request_timeout)
        # gossip comes by several paths, out of order: a gap must last a moment to count
        self.gaps = Gaps(
            self.clock, delay=config.request_timeout / 2, tries=3, max_missing=wire.MAX_REPAIR
        )
        self.registration = Registration(
            [str(seed) for seed in config.seeds],
            self.clock,
            interval=config.liveness_interval,
            timeout=config.request_timeout,
            misses=config.liveness_misses,
            rng=self.rng,
        )
        self.neighbours: dict[str, _Neighbour] = {}
        self._subscribers: dict[str, None] = {}  # peers whose SUB our XPUB saw, oldest first
        self._lists: dict[str, dict[str, wire.PeerInfo]] = {}  # seed -> its latest list
        self._seed_dealers: dict[str, zmq.Socket[bytes]] = {}
        self._handlers_of_messages: list[MessageHandler] = []
        self._seq = 0  # every message this peer created
        self._sent = 0  # of which automatic ones (gossip-count)
        self._next_gossip: float | None = None  # None until the first link is up
        self._next_round = self.clock.monotonic() + config.liveness_interval
        self._joined = False  # a majority of the seeds registered us once
        self._unreachable: dict[str, float] = {}  # peer -> until when not to link to it

    # -- the library API ---------------------------------------------------------

    def on_message(self, handler: MessageHandler) -> MessageHandler:
        """Call ``handler`` with each message on its first receipt, in the peer's thread.

        Keep it quick: the peer forwards nothing while it runs. Usable as a decorator.
        """
        self._handlers_of_messages.append(handler)
        return handler

    def broadcast(self, body: str | bytes) -> None:
        """Gossip ``body`` to the whole network (thread-safe). Sent once this peer runs;
        kept and handed to every neighbour that links later, like every recent message."""
        if len(body) > wire.MAX_BODY:
            raise ValueError(f"a message body is at most {wire.MAX_BODY} characters or bytes")
        self._call_soon(lambda: self._publish(body))

    # -- sockets ---------------------------------------------------------------

    def _bind(self) -> list[str]:
        host = self.config.address.host
        self._router = self._socket(zmq.ROUTER)
        router_endpoint = self._bind_socket(self._router, host, self.config.address.port)
        self._pub = self._socket(zmq.XPUB)
        self._pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self._pub.setsockopt(zmq.SNDHWM, _GOSSIP_HWM)
        self.pub_endpoint = self._bind_socket(self._pub, host, None)
        self._sub = self._socket(zmq.SUB)
        self._sub.setsockopt(zmq.RCVHWM, _GOSSIP_HWM)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        self._sub.setsockopt(zmq.SUBSCRIBE, b"\x00" + self._id_bytes)
        self._watch(self._router, self._on_router)
        self._watch(self._pub, self._on_subscription)
        self._watch(self._sub, self._on_gossip)
        return [router_endpoint, self.pub_endpoint]

    def _dealer(self, peer: str) -> zmq.Socket[bytes]:
        dealer = self._socket(zmq.DEALER)
        self._connect(dealer, peer)
        return dealer

    def _send(self, dealer: zmq.Socket[bytes], message: wire.Message) -> None:
        with contextlib.suppress(zmq.Again):  # a full queue: it is not reading; liveness tells
            dealer.send(wire.encode(message), zmq.NOBLOCK)

    # -- timers ----------------------------------------------------------------

    def _on_timers(self, now: float) -> float | None:
        due = self.registration.poll()
        for seed in due.lost:
            self._lists.pop(seed, None)
            self._discard(self._seed_dealers.pop(seed))  # drop the requests queued for it
            self.events.emit("seed.lost", f"seed {seed} stopped answering", seed=seed)
        for seed in due.send:
            self._send_register(seed)
        if now >= self._next_round:
            late = now - self._next_round
            stalled = late > self.config.liveness_interval / 2
            if stalled:  # answers may sit unread in buffers of ours: judge no one this round
                self.events.emit(
                    "liveness.late", f"liveness round {late:.3f}s late: not counting misses",
                    late=round(late, 6),
                )  # fmt: skip
            else:
                self._pump()  # read the answers that came in while we were busy
            self._liveness_round(judge=not stalled)
            self._next_round = now + self.config.liveness_interval
        for neighbour in [n for n in self.neighbours.values() if not n.up and now >= n.deadline]:
            self._forget(neighbour.id)
            self.events.emit(
                "link.failed", f"link to {neighbour.id} never came up", neighbour=neighbour.id
            )
            self._replace()
        for suspect in self.suspicions.expire():  # no helper vouched for it in time
            self._on_dead(suspect, self.clock.time())
        self._ask_for_gaps()
        if self._next_gossip is not None and now >= self._next_gossip:
            self._gossip()
        return earliest(
            self.registration.next_deadline(),
            self._next_round,
            self._next_gossip,
            self.suspicions.next_deadline(),
            self.gaps.next_deadline(),
            *(n.deadline for n in self.neighbours.values() if not n.up),
        )

    def _ask_for_gaps(self) -> None:
        """Ask neighbours for the messages that went missing here (see gossip.Gaps)."""
        up = [n.id for n in self.neighbours.values() if n.up]
        for neighbour, wanted in self.gaps.due(up).items():
            dealer = self.neighbours[neighbour].dealer
            for origin, seqs in wanted.items():  # at most MAX_REPAIR of them: Gaps' bound
                self._send(dealer, wire.Repair(self.id, origin, tuple(seqs)))
                self.events.emit(
                    "gossip.gap", f"missing {len(seqs)} message(s) of {origin}: asked {neighbour}",
                    origin=origin, seqs=seqs, asked=neighbour,
                )  # fmt: skip

    def _send_register(self, seed: str) -> None:
        dealer = self._seed_dealers.get(seed)
        if dealer is None:
            dealer = self._seed_dealers[seed] = self._dealer(seed)
            self._watch(dealer, lambda frames: self._on_seed(seed, frames))
        degree = sum(n.up for n in self.neighbours.values())
        self._send(dealer, wire.Register(self.id, self.pub_endpoint, degree))

    def _liveness_round(self, judge: bool) -> None:
        ts = self.clock.time()
        result = self.liveness.round(ts, judge)
        for neighbour, misses in result.missed:
            self.events.emit(
                "liveness.missed", f"{neighbour} missed {misses} ping(s) in a row",
                neighbour=neighbour, misses=misses,
            )  # fmt: skip
        for neighbour in result.ping:
            self._send(self.neighbours[neighbour].dealer, wire.Ping(self.id, ts))
        for neighbour in result.dead:
            self._suspect(neighbour, ts)

    def _suspect(self, neighbour: str, ts: float) -> None:
        """Ask others to reach a neighbour that stopped answering us; report it only if none can.

        The helpers are up to ``_HELPERS`` of our other neighbours, or the seeds when we have
        none: they probe it from where they stand, so a broken link of ours alone is no death.
        """
        others = [n.id for n in self.neighbours.values() if n.up and n.id != neighbour]
        helpers = {
            h: self.neighbours[h].dealer
            for h in self.rng.sample(others, min(_HELPERS, len(others)))
        }
        if not helpers:
            helpers = {seed: self._seed_dealers[seed] for seed in self.registration.registered()}
        if not helpers:  # alone in the world: no one to ask
            self._on_dead(neighbour, ts)
            return
        self.suspicions.open(neighbour, helpers)
        self.events.emit(
            "neighbour.suspect", f"{neighbour} does not answer: asking {', '.join(helpers)}",
            neighbour=neighbour, helpers=list(helpers),
        )  # fmt: skip
        for dealer in helpers.values():
            self._send(dealer, wire.Probe(self.id, neighbour, ts))

    def _probed(self, helper: str, message: wire.Probed) -> None:
        """A helper's answer about a suspect."""
        verdict = self.suspicions.result(message.suspect, helper, message.alive)
        if verdict is True:
            self._refuted(message.suspect, helper)
        elif verdict is False:
            self._on_dead(message.suspect, message.ts)

    def _refuted(self, suspect: str, by: str) -> None:
        """``suspect`` lives, but does not answer us: drop the link, accuse no one, and link
        elsewhere; not to it again for a while, since the way between us is broken."""
        self._drop(suspect)
        window = self.config.liveness_interval * self.config.liveness_misses
        self._unreachable[suspect] = self.clock.monotonic() + 2 * window
        self.events.emit(
            "suspect.refuted", f"{by} reaches {suspect}: dropping our link to it, no report",
            neighbour=suspect, by=by,
        )  # fmt: skip
        self._replace()

    def _on_dead(self, neighbour: str, ts: float) -> None:
        self._forget(neighbour)
        self.events.emit("neighbour.dead", f"neighbour {neighbour} is dead", neighbour=neighbour)
        report = wire.Dead(neighbour, ts, self.id)
        for seed in self.registration.registered():
            self._send(self._seed_dealers[seed], report)
            self.events.emit(
                "dead.reported",
                f"{report.line()} -> {seed}",
                dead=neighbour, seed=seed,
            )  # fmt: skip
        self._replace()

    def _gossip(self) -> None:
        """The automatic message: ``<timestamp>:<IP>:<Msg#>``."""
        self._sent += 1
        self._publish(f"{self.clock.time():.6f}:{self.config.address.host}:{self._sent}")
        more = self._sent < self.config.gossip_count
        self._next_gossip = self.clock.monotonic() + self.config.gossip_interval if more else None

    def _publish(self, body: str | bytes) -> None:
        self._seq += 1
        frame = wire.encode(wire.Gossip(self.id, self._seq, self.clock.time(), body))
        msg_id = message_id(frame)
        self.ml.record(msg_id, self.id, frame, self.id, self._seq)
        text = _text(body)  # logged first: its time comes before any receipt's
        self.events.emit("gossip.sent", f"sent {text}", id=msg_id.hex(), body=text)
        self._pub.send(wire.gossip_frame(self._id_bytes, frame))

    # -- seeds -----------------------------------------------------------------

    def _on_seed(self, seed: str, frames: list[bytes]) -> None:
        message = self._decode(frames, 1, seed)
        if isinstance(message, wire.Probed):
            self._probed(seed, message)
            return
        if not isinstance(message, wire.Peers):
            if message is not None:
                self._bad(f"unexpected {message.KIND} message from a seed", seed)
            return
        self._lists[seed] = {info.id: info for info in message.peers if info.id != self.id}
        if self.registration.answered(seed):
            self.events.emit(
                "seed.registered", f"registered with seed {seed} ({len(message.peers)} peers)",
                seed=seed, peers=len(message.peers),
            )  # fmt: skip
        if len(self.registration.registered()) >= self.registration.quorum:
            self._joined = True  # a majority of the seeds hold our registration: we are in
        self._top_up()

    def _top_up(self) -> None:
        """Link to more peers, by preferential attachment, while below ``links`` (once joined:
        a peer links to others only once a majority of the seeds hold its registration)."""
        need = self.config.links - len(self.neighbours)
        if need <= 0 or not self._joined:
            return
        candidates: dict[str, wire.PeerInfo] = {}
        for peers in self._lists.values():
            candidates.update(peers)
        degrees = {peer: info.degree for peer, info in candidates.items()}
        now = self.clock.monotonic()
        self._unreachable = {p: until for p, until in self._unreachable.items() if until > now}
        exclude = self.neighbours.keys() | self._unreachable.keys()
        for peer in pick_neighbours(degrees, need, self.rng, exclude=exclude):
            self._add(peer, candidates[peer].pub)
            self._send(self.neighbours[peer].dealer, wire.Link(self.id, self.pub_endpoint))

    def _replace(self) -> None:
        """A neighbour is gone: link to another now, and ask the seeds for fresh lists, whose
        answers top up again (the lists we hold may be an interval old)."""
        self._top_up()
        for seed in self.registration.registered():
            self._send_register(seed)

    # -- links -----------------------------------------------------------------

    def _add(self, peer: str, pub: str) -> None:
        dealer = self._socket(zmq.DEALER)
        if self._connect(dealer, peer):  # else the link never comes up, and fails in time
            self._connect(self._sub, peer, pub)  # the SUB is a CURVE client of peer's XPUB
        window = self.config.liveness_interval * self.config.liveness_misses
        neighbour = _Neighbour(peer, pub, dealer, self.clock.monotonic() + window)
        self.neighbours[peer] = neighbour
        self._watch(dealer, lambda frames: self._on_neighbour(peer, frames))
        self._advance(neighbour)

    def _advance(self, neighbour: _Neighbour) -> None:
        """Take the handshake as far as what we know allows."""
        if not neighbour.ready_sent and neighbour.id in self._subscribers:
            neighbour.ready_sent = True
            self._send(neighbour.dealer, wire.Ready(self.id))
        if neighbour.ready_sent and neighbour.ready_heard and not neighbour.up:
            neighbour.up = True
            self._link_up(neighbour)

    def _link_up(self, neighbour: _Neighbour) -> None:
        self.liveness.watch(neighbour.id)
        self.events.emit("neighbour.added", f"linked with {neighbour.id}", neighbour=neighbour.id)
        items = self.ml.recent(max_bytes=wire.MAX_FRAME // 2)
        if items:
            self._send(neighbour.dealer, wire.History(self.id, tuple(items)))
        if self._next_gossip is None and self._sent < self.config.gossip_count:
            self._next_gossip = self.clock.monotonic() + self.config.gossip_interval
        for seed in self.registration.registered():  # tell the seeds our new degree
            self._send_register(seed)

    def _drop(self, peer: str) -> None:
        neighbour = self.neighbours.pop(peer, None)
        if neighbour is None:
            return
        self.liveness.forget(peer)
        self.suspicions.refute(peer)  # no longer ours to judge
        self._discard(neighbour.dealer)
        with contextlib.suppress(zmq.ZMQError):  # never connected
            self._sub.disconnect(neighbour.pub)

    def _forget(self, peer: str) -> None:
        """Drop the link and strike ``peer`` off the seeds' lists until they list it again."""
        self._drop(peer)
        for peers in self._lists.values():
            peers.pop(peer, None)

    def _on_subscription(self, frames: list[bytes]) -> None:
        notice = frames[0]
        if notice.startswith(_SUBSCRIBED):
            peer = notice[len(_SUBSCRIBED) :].decode(errors="replace")
            self._subscribers[peer] = None
            if len(self._subscribers) > _MAX_SUBSCRIBERS:
                del self._subscribers[next(iter(self._subscribers))]
            if peer in self.neighbours:
                self._advance(self.neighbours[peer])
        elif notice.startswith(_UNSUBSCRIBED):
            self._subscribers.pop(notice[len(_UNSUBSCRIBED) :].decode(errors="replace"), None)

    def _on_router(self, frames: list[bytes]) -> None:
        message = self._decode(frames, 2)
        match message:
            case None:
                return
            case wire.Ping(peer=peer, ts=ts):
                pong = wire.Pong(peer, ts, linked=peer in self.neighbours)
                self._router.send_multipart([frames[0], wire.encode(pong)])
            case wire.Probe():
                self._probe_for(self._router, frames[0], message)
            case wire.Neighbours():
                links = wire.Links(self.id, tuple(n.id for n in self.neighbours.values() if n.up))
                self._router.send_multipart([frames[0], wire.encode(links)])
            case wire.Link(peer=peer, pub=pub) if peer != self.id:
                known = self.neighbours.get(peer)
                if known is not None and known.pub != pub:  # it restarted: start afresh
                    self._drop(peer)
                if peer not in self.neighbours:
                    self._add(peer, pub)
            case wire.Ready(peer=peer) if peer in self.neighbours:
                self.neighbours[peer].ready_heard = True
                self._advance(self.neighbours[peer])
            case wire.History(peer=peer, items=items) if peer in self.neighbours:
                for item in items:
                    self._receive(item, peer)
            case wire.Repair(origin=origin, seqs=seqs):  # from anyone: it is all gossip anyway
                kept = self.ml.kept(origin, seqs, max_bytes=wire.MAX_FRAME // 2)
                if kept:
                    history = wire.History(self.id, tuple(kept))
                    self._router.send_multipart([frames[0], wire.encode(history)])
            case wire.Bye(peer=peer) if peer in self.neighbours:
                self._forget(peer)
                self.events.emit("neighbour.left", f"neighbour {peer} left", neighbour=peer)
                self._replace()
            case wire.Ready() | wire.History() | wire.Bye():
                pass  # from a link we already dropped
            case _:
                self._bad(f"unexpected {message.KIND} message on a peer's ROUTER")

    def _on_neighbour(self, peer: str, frames: list[bytes]) -> None:
        message = self._decode(frames, 1, peer)
        if isinstance(message, wire.Pong):
            if self.suspicions.refute(peer):  # a late answer, but an answer: watch it again
                self.liveness.watch(peer)
                self.events.emit(
                    "suspect.refuted", f"{peer} answered after all", neighbour=peer, by=peer
                )
            self.liveness.answered(peer, message.ts)
            if not message.linked and self.neighbours[peer].up:  # it dropped us (we stalled?)
                self._drop(peer)
                self.events.emit(
                    "neighbour.lost", f"{peer} no longer links to us: relinking", neighbour=peer
                )
                self._replace()
        elif isinstance(message, wire.Probed):
            self._probed(peer, message)
        elif isinstance(message, wire.History):  # the messages we asked it to repair
            for item in message.items:
                self._receive(item, peer)
        elif message is not None:
            self._bad(f"unexpected {message.KIND} message from a neighbour", peer)

    # -- gossip ----------------------------------------------------------------

    def _on_gossip(self, frames: list[bytes]) -> None:
        if len(frames) != 1:
            self._bad(f"expected 1 gossip frame, got {len(frames)}")
            return
        try:
            raw_sender, envelope = wire.split_gossip(frames[0])
            msg_id = message_id(envelope)
            if msg_id in self.ml:
                return  # a duplicate: dropped before it is even decoded
            sender = wire.sender_id(raw_sender)
        except wire.WireError as exc:
            self._bad(str(exc))
            return
        self._receive_new(msg_id, bytes(envelope), sender)

    def _receive(self, frame: bytes, sender: str) -> None:
        """A gossip envelope from ``sender`` (in a neighbour's history): taken if new."""
        msg_id = message_id(frame)
        if msg_id not in self.ml:
            self._receive_new(msg_id, frame, sender)

    def _receive_new(self, msg_id: bytes, frame: bytes, sender: str) -> None:
        """A gossip envelope seen for the first time: record it and forward it."""
        try:
            message = wire.decode(frame)
        except wire.WireError as exc:
            self._bad(str(exc), sender)
            return
        if not isinstance(message, wire.Gossip):
            self._bad(f"unexpected {message.KIND} message as gossip", sender)
            return
        self.ml.record(msg_id, sender, frame, message.origin, message.seq)
        self.gaps.seen(message.origin, message.seq, sender)
        self._pub.send(wire.gossip_frame(self._id_bytes, frame))
        hex_id, text = msg_id.hex(), _text(message.body)
        self.events.emit(
            "gossip.received", f"received {text} from {sender}",
            id=hex_id, body=text, origin=message.origin, **{"from": sender},
        )  # fmt: skip
        if self._handlers_of_messages:
            delivery = Delivery(hex_id, message.body, message.origin, sender, message.ts)
            for handler in self._handlers_of_messages:
                try:
                    handler(delivery)
                except Exception as exc:  # the user's code: report it, keep gossiping
                    self.events.emit(
                        "handler.error", f"on_message handler raised {exc!r}", error=repr(exc)
                    )

    # -- stopping --------------------------------------------------------------

    def _goodbye(self) -> None:
        for seed in self.registration.registered():
            self._send(self._seed_dealers[seed], wire.Leave(self.id))
        for neighbour in self.neighbours.values():
            self._send(neighbour.dealer, wire.Bye(self.id))


def _text(body: str | bytes) -> str:
    """A body as the logs show it: bytes as UTF-8, undecodable bytes replaced."""
    return body if isinstance(body, str) else body.decode("utf-8", errors="replace")
