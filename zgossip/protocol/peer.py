"""The peer's protocol, with no I/O: registration, links, gossip, liveness, repair.

:class:`PeerState` takes what arrived at a peer, and the time, and returns the
effects to carry out (see :mod:`zgossip.protocol.core`). The executor gives it:

- ``request(now, to, message)``: a message on the peer's ROUTER (``to`` routes the reply);
- ``answer(now, sender, message)``: a message on the DEALER it keeps for ``sender``, a
  seed or a neighbour;
- ``gossip(now, frame)``: a frame its SUB received from a neighbour's PUB;
- ``subscription(now, peer, subscribed)``: a neighbour's SUB came onto (or left) its PUB;
- ``disconnected(now, peer)``: a link's connection closed, or its port refused us;
- ``probe_answer``, ``probe_refused``, ``probe_failed``, ``timers``, ``broadcast``, ``stop``.

Linking A to B, without losing gossip to ZeroMQ's slow-joiner effect:

1. A connects its SUB to B's PUB and a DEALER to B's ROUTER, and sends ``link``.
2. B does the same towards A (links are symmetric).
3. Each SUB subscribes, besides the gossip addressed to its peer (:func:`wire.topic`),
   to a topic naming it, ``\\x00<id>``, which never matches a message. When B's PUB
   reports A's topic, B knows A's SUB is live on B's PUB, and tells A so with ``ready``.
4. A side counts the link as up, logs ``neighbour.added``, starts pinging and
   hands over its recent gossip once it has both seen the other's subscription
   and received the other's ``ready``.

A peer's own messages start one gossip interval after its first link is up. Gossip
spreads down an epidemic broadcast tree, or floods every link (:mod:`zgossip.protocol.tree`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import assert_never

from zgossip.protocol import records, wire
from zgossip.protocol.clock import earliest
from zgossip.protocol.config import Config
from zgossip.protocol.core import Client, Core
from zgossip.protocol.deadlines import Deadlines
from zgossip.protocol.effects import (
    Connect,
    Disconnect,
    Effect,
    Publish,
    Reply,
    RunQuery,
    Send,
)
from zgossip.protocol.entropy import Holdings, Lost
from zgossip.protocol.gossip import GapDue, Gaps, MessageList, OriginRates, message_id
from zgossip.protocol.liveness import Liveness, ProbeTimeout, Suspicions, SuspicionTimeout
from zgossip.protocol.members import Change, Members, matches
from zgossip.protocol.overlay import pick_neighbours
from zgossip.protocol.queries import Queries, QueryTimeout, Running
from zgossip.protocol.registration import Registration, RegistrationDue
from zgossip.protocol.repeats import Repeats
from zgossip.protocol.store import Store
from zgossip.protocol.tree import AnnounceDue, GraftTimeout, Tree


@dataclass(frozen=True, slots=True)
class RoundDue:
    """The deadline key of the next liveness round (:data:`ROUND`)."""


@dataclass(frozen=True, slots=True)
class JoinPatience:
    """The deadline key of saying why the peer has not joined yet (:data:`JOINING`)."""


@dataclass(frozen=True, slots=True)
class GossipDue:
    """The deadline key of the peer's next automatic message (:data:`GOSSIP`)."""


@dataclass(frozen=True, slots=True)
class RecallDue:
    """The deadline key of pinging the neighbours lost for dead (:data:`RECALL`)."""


@dataclass(frozen=True, slots=True)
class FactsDue:
    """The deadline key of passing on the member facts of the last ``fact_delay``
    (:data:`FACTS`)."""


@dataclass(frozen=True, slots=True)
class LinkTimeout:
    """The deadline key of a link to ``peer`` that is not up yet."""

    peer: str


ROUND, JOINING, GOSSIP, RECALL = RoundDue(), JoinPatience(), GossipDue(), RecallDue()
FACTS = FactsDue()
#: Everything a peer times.
PeerKey = (
    RoundDue | JoinPatience | GossipDue | RecallDue | LinkTimeout | ProbeTimeout
    | SuspicionTimeout | GapDue | GraftTimeout | AnnounceDue | RegistrationDue | QueryTimeout
    | FactsDue
)  # fmt: skip


@dataclass(slots=True)
class Neighbour:
    id: str
    pub: str  # its PUB's endpoint, as it advertised it
    ready_sent: bool = False  # we told it our PUB reaches its SUB
    ready_heard: bool = False  # it told us its PUB reaches our SUB
    up: bool = False


class PeerState(Core[PeerKey]):
    """The protocol state of one peer."""

    def __init__(
        self, config: Config, *, rng: random.Random, now: float, wall_offset: float
    ) -> None:
        deadlines: Deadlines[PeerKey] = Deadlines()
        super().__init__(config, deadlines, deadlines, now=now, wall_offset=wall_offset)
        self.rng = rng
        self.pub = ""  # our PUB's endpoint, as bound: known at start
        self.ml = MessageList(
            self.clock,
            max_entries=config.ml_max_entries,
            max_age=config.ml_max_age,
        )
        self.store = Store(max_bytes=config.store_bytes, max_age=config.store_age)
        self.holdings = Holdings(
            max_holes=config.max_holes, max_origins=config.max_origins, forget=config.ml_max_age
        )
        self._since = self.clock.time()  # when we started: we want no message taken before
        #: ids announced to us that the tree gave up asking for -> when: anti-entropy may
        #: yet bring them; past ``store_age`` they are lost (bounded as the tree's awaited)
        self._awaited: dict[bytes, float] = {}
        self.lost = 0  # messages given up: said in gossip.lost
        #: neighbour -> until when its history or delta answers a repair, graft or digest
        #: of ours (not throttled again); and until when a digest of its gets no answer
        self._asked: dict[str, float] = {}
        self._answered: dict[str, float] = {}
        #: (neighbour, sums answering ours) -> until when such sums of its go unanswered
        self._summed: dict[tuple[str, bool], float] = {}
        #: neighbour -> until when, and the buckets whose facts we sent it since: not sent
        #: again meanwhile (its sums may have crossed them)
        self._sent_buckets: dict[str, tuple[float, set[int]]] = {}
        #: member facts to pass on at the next FACTS: peer -> (its newest, who told us)
        self._passing: dict[str, tuple[wire.Fact, str | None]] = {}
        self._more: set[str] = set()  # told there is more: its next digest is answered now
        self._digest_after_give_up = 0.0  # no sooner than this (a gap delay apart)
        self.origin_rates = OriginRates(config.origin_rate, config.max_origins)
        self._throttled = Repeats(1.0, config.max_origins)  # gossip.throttled: once a second
        self.liveness = Liveness(config.liveness_misses)
        self.suspicions = Suspicions(self.deadlines, self.clock, config.suspicion_timeout)
        self.gaps = Gaps(
            self.deadlines,
            self.clock,
            delay=config.gap_delay,
            tries=config.repair_tries,
            max_missing=wire.MAX_REPAIR,
        )
        self.tree = Tree(
            self.deadlines,
            self.clock,
            lazy=config.dissemination == "tree",
            announce_interval=config.announce_interval,
            graft_timeout=config.graft_timeout,
            hurry_interval=config.hurry_interval,
            hurry_for=config.hurry_for,
            max_announce=config.max_announce,
            max_announced=config.max_announced,
        )
        self.registration = Registration(
            [str(seed) for seed in config.seeds],
            self.deadlines,
            self.clock,
            interval=config.refresh_interval,
            timeout=config.request_timeout,
            misses=config.liveness_misses,
            rng=rng,
        )
        self._seeds = frozenset(str(seed) for seed in config.seeds)
        self.queries = Queries(self.deadlines, self.clock, config.max_queries)
        self.handlers: set[str] = set()  # the queries our program answers, by name
        self._query_rates = OriginRates(config.query_rate, config.max_origins)
        self._busy = Repeats(1.0, config.max_origins)  # query.busy: once a second
        self._refusals = Repeats(1.0)  # query.refused, by client
        self.neighbours: dict[str, Neighbour] = {}
        self._subscribers: dict[str, None] = {}  # peers whose SUB our PUB saw, oldest first
        self._lists: dict[str, dict[str, wire.PeerInfo]] = {}  # seed -> its latest list
        #: backup peers to link to (HyParView's passive view): from the seeds' lists and
        #: from exchanges with the neighbours; it outlives the seeds' lists
        self.passive: dict[str, wire.PeerInfo] = {}
        # our messages' numbers: this run's start in nanoseconds, then one by one, so that
        # a restart's never repeat an earlier run's (see entropy.LEAP)
        self._seq = int(self.clock.time() * 1e9)
        #: every peer of the network as far as we know, ourselves included: our run is
        #: our first sequence number's
        self.members = Members(
            self.id,
            run=self._seq,
            since=self.clock.time(),
            tags=config.tags,
            limit=config.max_members,
            keep=config.member_keep,
        )
        self._sent = 0  # of which automatic ones (gossip-count): GOSSIP once linked
        self._next_round = now + config.liveness_interval
        self._rounds = 0  # liveness rounds so far: a shuffle every shuffle_rounds
        self.deadlines.set(ROUND, self._next_round)
        self.deadlines.set(JOINING, now + config.join_patience)
        self._gaps_due: list[tuple[str, int]] = []  # gap keys come due, asked for together
        self._grafts_due: list[bytes] = []  # and graft keys: ids announced, never come
        self.received = 0  # first receipts of others' messages, by any way
        self.duplicates = 0  # copies pushed to us of messages we had: the tree's waste
        self._counted = (0, 0)  # (received, duplicates) as last logged
        self._joined = False  # a majority of the seeds registered us once
        self._unreachable: dict[str, float] = {}  # peer -> until when not to link to it
        # neighbours suspected because their connection closed: they count for no link
        # until the helpers' verdict, and one that lives keeps its link
        self._closed: set[str] = set()
        # neighbours lost for dead, pinged now and then in case a partition cut us off from
        # them: one that answers is linked to again (oldest first; peer -> (pub, until when))
        self._recalled: dict[str, tuple[str, float]] = {}
        #: the peer we do not link to that our digest went to this round, and its PUB (see
        #: :meth:`_cross`); until when strangers' digests go unanswered
        self._crossing: tuple[str, str] | None = None
        self._strangers_answered = 0.0
        #: rounds between two digests across now, the round of the next, and the messages
        #: taken and sent (our last number) as the last one went
        self._cross_every = self._next_cross = config.cross_rounds
        self._cross_seen = (self.received, self._seq)

    # -- entry points ----------------------------------------------------------------------

    def start(self, now: float, pub: str) -> list[Effect]:
        """Begin, with our PUB bound at ``pub``: register with the seeds."""
        self.pub = pub
        return self.timers(now)

    def broadcast(self, now: float, body: str | bytes) -> list[Effect]:
        """Gossip ``body`` as a message of our own (ValueError past ``wire.MAX_BODY``:
        every receiver would refuse it)."""
        check_body(body)
        out = self._begin(now)
        self._publish(body)
        return out

    def set_tags(self, now: float, tags: Iterable[tuple[str, str]]) -> list[Effect]:
        """Say ``tags`` of ourselves from now on (replacing the ones we had): the seeds that
        hold our registration hear of them at once. ValueError for tags no peer would take
        (``wire.check_tags`` says why)."""
        checked = wire.check_tags(list(tags))
        out = self._begin(now)
        self._own_news(self.members.set_tags(checked))
        return out

    def query(
        self,
        now: float,
        name: str,
        payload: str | bytes,
        tags: tuple[tuple[str, str], ...],
        timeout: float,
    ) -> tuple[int, list[Effect]]:
        """Our program's query: its number (0: refused, said in query.ended), and what to
        do. The answers, and the end, come as query.answered and query.ended events."""
        out = self._begin(now)
        running = self._start_query(None, name, payload, tags, timeout)
        return (running.id if running is not None else 0), out

    def answered(
        self,
        now: float,
        to: bytes | None,
        querier: str,
        query: int,
        payload: str | bytes | None,
        failure: str | None = None,
    ) -> list[Effect]:
        """Our handler's answer to ``querier``'s ``query`` (see :class:`RunQuery`):
        ``payload`` (None: an empty one), or ``failure``, what it raised."""
        out = self._begin(now)
        status, said = "ok", payload if payload is not None else ""
        if failure is not None:
            status, said = "failed", failure[: wire.MAX_NAME * 4]
        elif len(said) > self.config.max_answer:
            status, said = "toolarge", f"{len(said)} over {self.config.max_answer}"
        answer = wire.Answer(self.id, query, status, said)
        if to is None:
            self._on_answer(self.id, answer)
        else:
            out.append(Reply(to, answer))
        return out

    @property
    def tags(self) -> tuple[tuple[str, str], ...]:
        """What we say of ourselves now (our fact in the member lists)."""
        return self.members.own.tags

    def stop(self, now: float) -> list[Effect]:
        """Say goodbye: leave the seeds, bye to the neighbours."""
        out = self._begin(now)
        for seed in self.registration.registered():
            out.append(Send(seed, wire.Leave(self.id)))
        left = wire.Facts(self.id, (self.members.leave(self.clock.time()),), False, False)
        for neighbour in self.neighbours.values():
            if neighbour.up:  # the member lists hear of it from us first
                out.append(Send(neighbour.id, left))
            out.append(Send(neighbour.id, wire.Bye(self.id)))
        return out

    def _request(self, to: bytes, message: wire.Message, client: Client | None) -> None:
        """A message on our ROUTER, from anyone."""
        out = self._out
        match message:
            case wire.Ping(peer=peer, ts=ts):
                out.append(Reply(to, wire.Pong(peer, ts, linked=peer in self.neighbours)))
            case wire.Probe():
                self._probe_for(to, message)
            case wire.Neighbours():
                up = tuple(n.id for n in self.neighbours.values() if n.up)
                out.append(Reply(to, wire.Links(self.id, up)))
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
                for item in items:  # a new neighbour's recent messages
                    self._receive(item, peer, history=True)
            case wire.Repair(origin=origin, seqs=seqs):  # from anyone: it is all gossip anyway
                kept = self.store.by_seq(origin, seqs, max_bytes=wire.MAX_FRAME // 2)
                if kept:
                    out.append(Reply(to, wire.History(self.id, tuple(kept))))
            case wire.IHave(peer=peer, ids=ids) if peer in self.neighbours:
                self.tree.announced(peer, ids, self.ml)
                self._given_up()
            case wire.Graft(peer=peer, ids=ids) if peer in self.neighbours:
                self.tree.grafted(peer)
                kept = self.store.by_id(ids, max_bytes=wire.MAX_FRAME // 2)
                if kept:
                    out.append(Reply(to, wire.History(self.id, tuple(kept))))
            case wire.Prune(peer=peer) if peer in self.neighbours:
                self.tree.pruned(peer)
            case wire.Say(body=body):
                self._say(to, body, client)
            case wire.Tag(set=given, drop=drop):
                self._tag(to, given, drop, client)
            case wire.Digest() if message.peer in self.neighbours:
                self._lacking(to, message)
            case wire.Digest():  # from a peer we do not link to: see _cross
                self._lacking_stranger(to, message)
            case wire.Shuffle(peer=peer, peers=peers) if peer in self.neighbours:
                out.append(Reply(to, wire.Shuffled(self.id, self._sample())))
                self._keep_passive(peers)
            case wire.Facts(peer=peer, facts=facts) if peer in self.neighbours:
                self._take_facts(facts, peer, answer=message.answer)
                if message.more and message.answer:  # cut at its size: the rest, now
                    out.append(Send(peer, wire.Sums(self.id, self.members.sums(), True)))
            case wire.Sums() if message.peer in self.neighbours:
                self._compare(message)
            case wire.Ask(name=name, payload=payload, tags=tags, timeout=timeout):
                if not self._stranger(to, client, records.QueryRefused):
                    address = client.address if client is not None else None
                    self._start_query(to, name, payload, tags, timeout, address or "?")
            case wire.Query(peer=querier, id=query, name=name, payload=payload):
                self._on_query(to, querier, query, name, payload)
            case wire.Members(offset=offset):  # zgossip members --via: our list, a page
                listed = self._roster()
                shown = tuple(listed[offset : offset + self.config.page_size])
                out.append(Reply(to, wire.Roster(self.id, offset, len(listed), shown)))
            case wire.Facts() | wire.Sums():  # from a stranger: no one's word on members
                self._bad(f"{message.KIND} from {message.peer}, not a neighbour", message.peer)
            case wire.Bye(peer=peer) if peer in self.neighbours:
                self._forget(peer)
                self._emit(records.NeighbourLeft(peer))
                self._replace()
            case (
                wire.Ready() | wire.History() | wire.Bye() | wire.IHave() | wire.Graft()
                | wire.Prune() | wire.Shuffle()
            ):  # fmt: skip
                pass  # from a link we already dropped
            case _:
                self._bad(f"unexpected {message.KIND} message on a peer's ROUTER")

    def answer(self, now: float, sender: str, message: wire.Message) -> list[Effect]:
        """A message on the DEALER we keep for ``sender``: a seed or a neighbour."""
        out = self._begin(now)
        if isinstance(message, wire.Answer):  # to a query of ours, on the DEALER it asked
            self._on_answer(sender, message)
        elif sender in self._seeds:
            self._on_seed(sender, message)
        elif sender in self.neighbours:
            self._on_neighbour(sender, message)
        elif isinstance(message, wire.Delta) and self._crossing and self._crossing[0] == sender:
            self._crossed(sender, message)  # from the peer we do not link to we asked
        # else: a late answer on a link we dropped since
        return out

    def gossip(self, now: float, frame: bytes) -> Sequence[Effect]:
        """A frame from a neighbour's PUB (its topic stripped): one message, the forwarder's
        id then a gossip envelope, or a batch of them (:func:`wire.batch_frame`), at most
        ``max_batch``; see :meth:`forwarded`."""
        try:
            if frame[:1] == wire.BATCH_MARK:  # wire.is_batch, inlined: every frame comes here
                batch = wire.decode(frame[1:])
                if not isinstance(batch, wire.Batch):
                    raise wire.WireError(f"unexpected {batch.KIND} message as gossip")
                if len(batch.items) > self.config.max_batch:  # no peer sends more: refused
                    raise wire.WireError(
                        f"batch of {len(batch.items)} messages, over {self.config.max_batch}"
                    )
                return self.forwarded(now, batch.peer, batch.items)
            raw_sender, envelope = wire.split_gossip(frame)
            sender = wire.sender_id(raw_sender)
        except wire.WireError as exc:
            out = self._begin(now)
            self._bad(str(exc))
            return out
        return self.forwarded(now, sender, (envelope,))

    def forwarded(
        self, now: float, sender: str, envelopes: Iterable[bytes | memoryview]
    ) -> Sequence[Effect]:
        """Gossip envelopes that neighbour ``sender`` forwarded in one frame (a batch: what
        one turn of its loop forwarded to us).

        A duplicate costs a hash and a lookup, and returns nothing unless it prunes the link
        it came on (see :mod:`zgossip.protocol.tree`)."""
        out = self._begin(now)
        ml, tree = self.ml, self.tree
        for envelope in envelopes:
            msg_id = message_id(envelope)
            if msg_id not in ml:
                self._receive_new(msg_id, bytes(envelope), sender)
                continue
            self.duplicates += 1  # dropped before it is even decoded
            if tree.duplicate(sender):
                out.append(Send(sender, wire.Prune(self.id)))
                self._emit(records.GossipPrune(sender))
        return out or ()

    def disconnected(self, now: float, peer: str) -> list[Effect]:
        """The connection to ``peer`` closed, or its port refused us: the kernel closes a
        crashed process's connections at once (a stopped, slow or cut-off one keeps them
        open, and the pings judge it). For a neighbour that is a suspicion, not a verdict:
        others probe it (:meth:`_suspect`), and a link is made elsewhere at once; one that
        lives (a blip, a restart on the same port) keeps its link. A link still coming up
        has failed: another is tried now."""
        out = self._begin(now)
        neighbour = self.neighbours.get(peer)
        if neighbour is None or peer in self.suspicions:
            return out
        if not neighbour.up:
            self._unreachable[peer] = now + self.config.unreachable_for
            self._link_failed(peer)
            return out
        self._closed.add(peer)
        self._suspect(peer, self.clock.time(), reason="closed")
        self._top_up()
        return out

    def deadline(self) -> float | None:
        """The keys' next, or a count kept quiet (``gossip.throttled``, ``query.busy``,
        ``query.refused``) that is due sooner: said once its quiet time is over."""
        throttled, busy, refusals = (
            self._throttled.next_due,
            self._busy.next_due,
            self._refusals.next_due,
        )
        if throttled is None and busy is None and refusals is None:  # nearly always: the
            return self.deadlines.next()  # simulator asks after each input of each peer
        return earliest(self.deadlines.next(), throttled, busy, refusals)

    def gauges(self) -> dict[str, float]:
        return {
            **super().gauges(),
            "neighbours": self._degree(),
            "suspects": len(self.suspicions),
            "received": self.received,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "stored_bytes": self.store.bytes,
            "seeds": len(self.registration.registered()),
            "members": len(self.members),
            "members_refused": self.members.refused,
        }

    def subscription(self, now: float, peer: str, subscribed: bool) -> list[Effect]:
        """``peer``'s SUB came onto our PUB (or went): the slow-joiner handshake's step 3."""
        out = self._begin(now)
        if not subscribed:
            self._subscribers.pop(peer, None)
            return out
        self._subscribers[peer] = None
        if len(self._subscribers) > self.config.max_subscribers:
            del self._subscribers[next(iter(self._subscribers))]
        if peer in self.neighbours:
            self._advance(self.neighbours[peer])
        return out

    # -- timers ----------------------------------------------------------------------------

    def _on_due(self, key: PeerKey) -> None:
        match key:
            case GapDue(origin=origin, seq=seq):
                self._gaps_due.append((origin, seq))
            case GraftTimeout(msg_id=msg_id):
                self._grafts_due.append(msg_id)
            case AnnounceDue():
                self._announce()
            case RoundDue():
                self._liveness_round()
            case RegistrationDue():
                self._registration()
            case LinkTimeout(peer=peer):
                self._link_failed(peer)
            case SuspicionTimeout(suspect=suspect):
                if self.suspicions.expired(suspect):  # no helper vouched for it in time
                    self._on_dead(suspect, self.clock.time())
            case ProbeTimeout(target=target):
                self._probe_timed_out(target)
            case GossipDue():
                self._gossip()
            case RecallDue():
                self._recall()
            case JoinPatience():
                self._still_joining()
            case QueryTimeout(id=query):
                self._end_query(query, timed_out=True)
            case FactsDue():
                self._pass_on()
            case _:
                assert_never(key)

    def _after_due(self) -> None:
        if self._gaps_due:
            self._ask_for_gaps(self._gaps_due)
            self._gaps_due = []
        if self._grafts_due:
            for neighbour, ids in self.tree.grafts(self._grafts_due).items():
                self._asking(neighbour)
                self._out.append(Send(neighbour, wire.Graft(self.id, tuple(ids))))
                self._emit(records.GossipGraft(neighbour, len(ids)))
            self._grafts_due = []
            self._given_up()
        for origin, count in self._throttled.due(self.clock.monotonic()):  # the rest, told
            self._emit(records.GossipThrottled(origin, count, self.config.origin_rate))
        now = self.clock.monotonic()
        for querier, count in self._busy.due(now):
            self._emit(records.QueryBusy(querier, count, self.config.query_rate))
        for address, count in self._refusals.due(now):
            self._emit(records.QueryRefused(address, "too many at once, or too wide", count))

    def _announce(self) -> None:
        for neighbour, ids in self.tree.announcements().items():
            self._out.append(Send(neighbour, wire.IHave(self.id, ids)))

    def _registration(self) -> None:
        due = self.registration.poll()
        for seed in due.lost:
            self._lists.pop(seed, None)
            self._out.append(Disconnect(seed))  # drop the requests queued for it
            self._emit(records.SeedLost(seed))
        for seed in due.silent:
            self._out.append(Disconnect(seed))
        for seed in due.send:
            self._send_register(seed)

    def _link_failed(self, peer: str) -> None:
        neighbour = self.neighbours.get(peer)
        if neighbour is not None and not neighbour.up:
            self._forget(peer)
            self._emit(records.LinkFailed(peer))
            self._replace()

    def _ask_for_gaps(self, due: list[tuple[str, int]]) -> None:
        """Ask neighbours for the messages that went missing here (see gossip.Gaps)."""
        up = [n.id for n in self.neighbours.values() if n.up]
        for neighbour, wanted in self.gaps.ask(due, up).items():
            for origin, seqs in wanted.items():  # at most MAX_REPAIR of them: Gaps' bound
                self._asking(neighbour)
                self._out.append(Send(neighbour, wire.Repair(self.id, origin, tuple(seqs))))
                self._emit(records.GossipGap(origin, seqs, neighbour))

    def _register_again(self) -> None:
        """Refresh our registration with every seed that holds it now (our links or tags
        changed), not at the next interval."""
        for seed in self.registration.registered():
            self._send_register(seed)

    def _send_register(self, seed: str) -> None:
        up = tuple(n.id for n in self.neighbours.values() if n.up)
        run = self.members.own.run
        self._out.append(Send(seed, wire.Register(self.id, self.pub, up, self.tags, run)))

    def _liveness_round(self) -> None:
        now = self.clock.monotonic()
        late = now - self._next_round
        stalled = late > self.config.liveness_interval / 2
        if stalled:  # answers may sit unread in buffers of ours: judge no one this round
            self._emit(records.LivenessLate(round(late, 6)))
        self._next_round = now + self.config.liveness_interval
        self.deadlines.set(ROUND, self._next_round)
        ts = self.clock.time()
        result = self.liveness.round(ts, judge=not stalled)
        for neighbour, misses in result.missed:
            self._emit(records.LivenessMissed(neighbour, misses))
        for neighbour in result.ping:
            self._out.append(Send(neighbour, wire.Ping(self.id, ts)))
        for neighbour in result.dead:
            self._suspect(neighbour, ts)
        self._rounds += 1
        if self._rounds % self.config.shuffle_rounds == 0:
            self._shuffle()
        if self._crossing is not None:  # a round was time enough for its answer
            self._end_crossing()
        if self.config.cross_rounds and self._rounds >= self._next_cross:
            self._cross()
        partner = self._random_link()
        if partner is not None:  # anti-entropy: one neighbour at random a round
            self._send_digest(partner)
            self._send_sums(partner)
        self._expire(now)
        counted = (self.received, self.duplicates)
        if counted != self._counted:  # so often, so that a reader can tell the redundancy
            self._counted = counted
            self._emit(records.GossipCopies(*counted))

    def _shuffle(self) -> None:
        """Exchange a few known peers with one neighbour at random (HyParView's shuffle):
        the passive view stays fresh without the seeds."""
        partner = self._random_link()
        if partner is not None:
            self._out.append(Send(partner, wire.Shuffle(self.id, self._sample())))

    def _random_link(self) -> str | None:
        """One of our live links, at random (None: we have none)."""
        live = self._live_links()
        return self.rng.choice(live).id if live else None

    def _sample(self) -> tuple[wire.PeerInfo, ...]:
        """Ourselves, then up to ``shuffle_size - 1`` peers we link to or keep as backups."""
        me = wire.PeerInfo(self.id, self.pub, self._degree(), self.clock.time())
        known = [wire.PeerInfo(n.id, n.pub, 0, self.clock.time()) for n in self._live_links()]
        known += self.passive.values()
        count = min(len(known), self.config.shuffle_size - 1)
        return (me, *self.rng.sample(known, count))

    def _live_links(self) -> list[Neighbour]:
        """Our links that are up, but those whose connection closed (suspects)."""
        return [n for n in self.neighbours.values() if n.up and n.id not in self._closed]

    def _degree(self) -> int:
        """Our links that are up."""
        return sum(1 for n in self.neighbours.values() if n.up)

    def _keep_passive(self, peers: Iterable[wire.PeerInfo]) -> None:
        """Take these peers as backups (not ourselves, nor a neighbour, nor one found
        unreachable); past ``passive_size`` backups held before make room, drawn at
        random (one draw a sample: a seed's answer to each registration is one, and
        replaces most of a full view)."""
        passive, size = self.passive, self.config.passive_size
        if size <= 0:
            return
        me, neighbours, unreachable = self.id, self.neighbours, self._unreachable
        certified = self._certified
        new: dict[str, wire.PeerInfo] = {}  # each peer once, the last said of it
        for info in list(peers)[: max(size, self.config.shuffle_size)]:
            peer = info.id
            if (
                peer == me
                or peer in neighbours
                or peer in unreachable
                or not certified(peer)  # revoked: a stale sample may still name it
            ):
                continue
            known = passive.get(peer)
            if known is None:
                new[peer] = info
            elif info.degree >= known.degree:
                passive[peer] = info
        taken = list(new.values())[:size]
        over = len(passive) + len(taken) - size
        if over > 0:
            held = list(passive)
            if 2 * over <= len(held):
                gone = self.rng.sample(held, over)
            else:  # most go (a seed's sample): draw the few that stay, at the same odds
                kept = set(self.rng.sample(held, len(held) - over))
                gone = [peer for peer in held if peer not in kept]
            for peer in gone:
                del passive[peer]
        for info in taken:
            passive[info.id] = info

    def _suspect(self, neighbour: str, ts: float, reason: str = "silent") -> None:
        """Ask others to reach a neighbour that stopped answering us (or whose connection
        closed: ``reason``); report it only if none can.

        The helpers are up to ``helpers`` of our other neighbours (none suspected), or the
        seeds when we have none: they probe it from where they stand, so a broken link of
        ours alone is no death.
        """
        others = [
            n.id
            for n in self.neighbours.values()
            if n.up and n.id != neighbour and n.id not in self.suspicions
        ]
        helpers = self.rng.sample(others, min(self.config.helpers, len(others)))
        if not helpers:
            helpers = self.registration.registered()
        if not helpers:  # alone in the world: no one to ask
            self._on_dead(neighbour, ts)
            return
        self.suspicions.open(neighbour, helpers)
        self._emit(records.NeighbourSuspect(neighbour, helpers, reason))
        for helper in helpers:
            self._out.append(Send(helper, wire.Probe(self.id, neighbour, ts)))

    def _helper_answered(self, helper: str, message: wire.Probed) -> None:
        """A helper's answer about a suspect."""
        verdict = self.suspicions.result(message.suspect, helper, message.alive)
        if verdict is True:
            self._refuted(message.suspect, helper)
        elif verdict is False:
            self._on_dead(message.suspect, message.ts)

    def _refuted(self, suspect: str, by: str) -> None:
        """``suspect`` lives. One whose connection closed keeps its link (ZeroMQ connects
        again). One that does not answer us: drop the link, accuse no one, and link
        elsewhere; not to it again for a while, since the way between us is broken."""
        if suspect in self._closed:
            self._closed.discard(suspect)
            self._emit(records.SuspectRefuted(suspect, by, "closed"))
            return
        self._drop(suspect)
        self._unreachable[suspect] = self.clock.monotonic() + self.config.unreachable_for
        self._emit(records.SuspectRefuted(suspect, by))
        self._replace()

    def _on_dead(self, neighbour: str, ts: float) -> None:
        lost = self.neighbours.get(neighbour)
        if lost is not None:
            self._remember(lost)
        self._forget(neighbour)
        self._emit(records.NeighbourDead(neighbour))
        report = wire.Dead(neighbour, ts, self.id)
        for seed in self.registration.registered():
            self._out.append(Send(seed, report))
            self._emit(records.DeadReported(neighbour, seed, report.line()))
        self._replace()

    def _gossip(self) -> None:
        """The automatic message: ``<timestamp>:<IP>:<Msg#>``."""
        self._sent += 1
        self._publish(f"{self.clock.time():.6f}:{self.config.address.host}:{self._sent}")
        if self._more_to_send():
            self.deadlines.set(GOSSIP, self.clock.monotonic() + self.config.gossip_interval)
        else:  # said, or a demo that goes quiet looks like one that broke
            self._emit(records.GossipDone(self._sent))

    def _more_to_send(self) -> bool:
        """Whether our automatic messages go on (``gossip_count`` -1: without end)."""
        count = self.config.gossip_count
        return count < 0 or self._sent < count

    def _say(self, to: bytes, body: str | bytes, client: Client | None) -> None:
        """``zgossip send --via``: gossip it as our own, for a client we trust."""
        if self._stranger(to, client, records.SayRefused):
            return
        msg_id = self._publish(body)
        self._out.append(Reply(to, wire.Said(self.id, msg_id.hex())))

    def _tag(
        self,
        to: bytes,
        given: tuple[tuple[str, str], ...],
        drop: tuple[str, ...],
        client: Client | None,
    ) -> None:
        """``zgossip tag --via``: set and drop tags of ours, for a client we trust; it is
        told all of them as they are then (or why not, past the limit)."""
        if self._stranger(to, client, records.TagRefused):
            return
        tags = {key: value for key, value in self.tags if key not in drop} | dict(given)
        try:
            checked = wire.check_tags(list(tags.items()))
        except wire.WireError as exc:
            self._out.append(Reply(to, wire.Refused(self.id, str(exc))))
            return
        self._own_news(self.members.set_tags(checked))
        self._out.append(Reply(to, wire.Tagged(self.id, self.tags)))

    def _stranger(
        self,
        to: bytes,
        client: Client | None,
        refused: type[records.SayRefused | records.TagRefused | records.QueryRefused],
    ) -> bool:
        """Whether a client's request is refused (and it told so, and said): with CurveZMQ
        any client may ask (only allowed keys get through the handshake), without it only
        one on this peer's own host."""
        if self.config.curve_secret is not None or (client is not None and client.local):
            return False
        reason = "only a client on the peer's own host may ask (CurveZMQ is off)"
        address = client.address if client is not None else None
        self._emit(refused(address or "?", reason))
        self._out.append(Reply(to, wire.Refused(self.id, reason)))
        return True

    def _publish(self, body: str | bytes) -> bytes:
        """Gossip ``body`` as our next message; its id."""
        self._seq += 1
        frame = wire.encode(wire.Gossip(self.id, self._seq, self.clock.time(), body))
        msg_id = message_id(frame)
        now = self.clock.monotonic()
        self.ml.record(msg_id, self.id)
        self.store.keep(now, msg_id, self.id, self._seq, frame)
        self._lose(self.holdings.took(self.id, self._seq, now))
        # logged first: its time comes before any receipt's
        self._emit(records.GossipSent(msg_id.hex(), wire.text(body), self._seq))
        self._push(msg_id, frame, self.id)
        return msg_id

    # -- seeds -----------------------------------------------------------------------------

    def _on_seed(self, seed: str, message: wire.Message) -> None:
        if isinstance(message, wire.Probed):
            self._helper_answered(seed, message)
            return
        if isinstance(message, wire.Facts):  # a death it decided, a leave: passed on
            self._take_facts(message.facts, None, answer=False)
            return
        if not isinstance(message, wire.Peers):
            self._bad(f"unexpected {message.KIND} message from a seed", seed)
            return
        self._lists[seed] = {info.id: info for info in message.peers if info.id != self.id}
        self._keep_passive(message.peers)
        if self.registration.answered(seed):
            self._emit(records.SeedRegistered(seed, len(message.peers)))
        if len(self.registration.registered()) >= self.registration.quorum:
            self._joined = True  # a majority of the seeds hold our registration: we are in
            self.deadlines.cancel(JOINING)
        self._top_up()

    def _top_up(self) -> None:
        """Link to more peers, by preferential attachment, while below ``links`` (once joined:
        a peer links to others only once a majority of the seeds hold its registration)."""
        need = self.config.links - len(self.neighbours) + len(self._closed)
        if need <= 0 or not self._joined:
            return
        candidates = self._candidates()
        degrees = {peer: info.degree for peer, info in candidates.items()}
        for peer in pick_neighbours(degrees, need, self.rng):
            self._add(peer, candidates[peer].pub)
            self._out.append(Send(peer, wire.Link(self.id, self.pub)))

    def _candidates(self) -> dict[str, wire.PeerInfo]:
        """The peers we could link to: our backups and the seeds' lists, but our links,
        those found unreachable lately and, with CurveZMQ, those without a certificate."""
        candidates: dict[str, wire.PeerInfo] = dict(self.passive)
        for peers in self._lists.values():  # each seed counts the links it can confirm:
            for peer, info in peers.items():  # the most any seed counts is the nearest
                known = candidates.get(peer)
                if known is None or info.degree > known.degree:
                    candidates[peer] = info
        now = self.clock.monotonic()
        self._unreachable = {p: until for p, until in self._unreachable.items() if until > now}
        exclude = self.neighbours.keys() | self._unreachable.keys()
        return {
            peer: info
            for peer, info in candidates.items()
            if peer not in exclude and self._certified(peer)
        }

    def _replace(self) -> None:
        """A neighbour is gone: link to another now, and ask the seeds for fresh lists, whose
        answers top up again (the lists we hold may be an interval old)."""
        self._top_up()
        self._register_again()

    # -- links -----------------------------------------------------------------------------

    def _add(self, peer: str, pub: str) -> None:
        if self._crossing is not None and self._crossing[0] == peer:
            self._end_crossing()  # its DEALER watches no connection: a link's will
        self._out.append(Connect(peer, pub))
        self.neighbours[peer] = neighbour = Neighbour(peer, pub)
        self.deadlines.set(LinkTimeout(peer), self.clock.monotonic() + self.config.death_window)
        self._advance(neighbour)

    def _advance(self, neighbour: Neighbour) -> None:
        """Take the handshake as far as what we know allows."""
        if not neighbour.ready_sent and neighbour.id in self._subscribers:
            neighbour.ready_sent = True
            self._out.append(Send(neighbour.id, wire.Ready(self.id)))
        if neighbour.ready_sent and neighbour.ready_heard and not neighbour.up:
            neighbour.up = True
            self.deadlines.cancel(LinkTimeout(neighbour.id))
            self._link_up(neighbour)

    def _link_up(self, neighbour: Neighbour) -> None:
        self.liveness.watch(neighbour.id)
        self.tree.add(neighbour.id)
        self._emit(records.NeighbourAdded(neighbour.id))
        now = self.clock.monotonic()  # what no peer has forgotten the ids of
        items = self.store.recent(wire.MAX_FRAME // 2, now - self.config.ml_max_age / 2)
        if items:
            self._out.append(Send(neighbour.id, wire.History(self.id, tuple(items))))
        self._send_digest(neighbour.id)  # and what it holds that we lack, and we it
        # our own fact, passed on by it if new (a join), and our member lists compared
        self._out.append(Send(neighbour.id, wire.Facts(self.id, (self.members.own,), False, False)))
        self._send_sums(neighbour.id)
        first = GOSSIP not in self.deadlines and self._more_to_send()
        if first:  # our own messages start one interval after the first link is up
            self.deadlines.set(GOSSIP, self.clock.monotonic() + self.config.gossip_interval)
        self._register_again()  # the seeds hear of our new degree

    def _drop(self, peer: str) -> None:
        neighbour = self.neighbours.pop(peer, None)
        if neighbour is None:
            return
        self.liveness.forget(peer)
        self.tree.remove(peer)
        self.suspicions.refute(peer)  # no longer ours to judge
        self._closed.discard(peer)
        self._asked.pop(peer, None)
        self._answered.pop(peer, None)
        self._summed.pop((peer, False), None)
        self._summed.pop((peer, True), None)
        self._sent_buckets.pop(peer, None)
        self._more.discard(peer)
        self.deadlines.cancel(LinkTimeout(peer))
        self._out.append(Disconnect(peer, neighbour.pub))

    def _revoke(self, node: str) -> None:
        linked = node in self.neighbours
        self._forget(node)
        if linked:
            self._emit(records.NeighbourRevoked(node))
            self._replace()

    def _forget(self, peer: str) -> None:
        """Drop the link and strike ``peer`` off the seeds' lists until they list it again."""
        self._drop(peer)
        for peers in self._lists.values():
            peers.pop(peer, None)
        self.passive.pop(peer, None)

    def _on_neighbour(self, peer: str, message: wire.Message) -> None:
        if isinstance(message, wire.Pong):
            if self.suspicions.refute(peer):  # a late answer, but an answer: watch it again
                self._closed.discard(peer)
                self.liveness.watch(peer)
                self._emit(records.SuspectRefuted(peer, peer))
            self.liveness.answered(peer, message.ts)
            if not message.linked and self.neighbours[peer].up:  # it dropped us (we stalled?)
                self._drop(peer)
                self._emit(records.NeighbourLost(peer))
                self._replace()
        elif isinstance(message, wire.Probed):
            self._helper_answered(peer, message)
        elif isinstance(message, wire.Shuffled):
            self._keep_passive(message.peers)
        elif isinstance(message, wire.History | wire.Delta):  # for our repair, graft, digest
            asked = self._asked.get(peer, 0.0) > self.clock.monotonic()  # (unasked: throttled)
            took = self.received
            for item in message.items:
                self._receive(item, peer, repaired=asked)
            if isinstance(message, wire.Delta) and message.more and self.received > took:
                self._send_digest(peer)  # cut at its size: the rest, now
        else:
            self._bad(f"unexpected {message.KIND} message from a neighbour", peer)

    # -- gossip ----------------------------------------------------------------------------

    def _receive(
        self, frame: bytes, sender: str, *, history: bool = False, repaired: bool = False
    ) -> None:
        """A gossip envelope from ``sender`` (in a history: a new link's, ``history``; or
        ``repaired``: in the answer to our repair, graft or digest): taken if new."""
        msg_id = message_id(frame)
        if msg_id not in self.ml:
            self._receive_new(msg_id, frame, sender, history=history, repaired=repaired)

    def _receive_new(
        self,
        msg_id: bytes,
        frame: bytes,
        sender: str,
        *,
        history: bool = False,
        repaired: bool = False,
    ) -> None:
        """A gossip envelope seen for the first time: record it and forward it. One that
        answers our request was taken by a neighbour within its origin's rate, and comes
        only as fast as we ask: it is not throttled again (a peer catching up after a stop
        would lose it for good), and one whose number we hold is a copy we forgot."""
        try:
            message = wire.decode(frame)
        except wire.WireError as exc:
            self._bad(str(exc), sender)
            return
        if not isinstance(message, wire.Gossip):
            self._bad(f"unexpected {message.KIND} message as gossip", sender)
            return
        now = self.clock.monotonic()
        if repaired:
            if self.holdings.holds(message.origin, message.seq):
                if self._awaited:
                    self._awaited.pop(msg_id, None)
                return
        elif not self.origin_rates.take(message.origin, now):
            self._throttle(message.origin)  # not recorded: a copy later, or a repair, may do
            return
        self.ml.record(msg_id, sender)
        self.store.keep(now, msg_id, message.origin, message.seq, frame)
        lost = self.holdings.took(message.origin, message.seq, now)
        if lost:
            self._lose(lost)
        if self._awaited:
            self._awaited.pop(msg_id, None)
        self.gaps.seen(message.origin, message.seq, sender)
        self.received += 1
        self._push(msg_id, frame, sender)
        self._emit(
            records.GossipReceived(
                msg_id.hex(),
                wire.text(message.body),
                message.origin,
                message.seq,
                sender,
                message,
                history or None,
            )
        )

    # -- anti-entropy ----------------------------------------------------------------------

    def _send_digest(self, neighbour: str) -> None:
        """Tell ``neighbour`` what we hold (see :meth:`_digest`)."""
        self._asking(neighbour)
        self._out.append(Send(neighbour, self._digest()))

    def _digest(self) -> wire.Digest:
        """What we hold of each origin heard within ``store_age``: the peer we tell answers
        with what it keeps that we lack (:mod:`zgossip.protocol.entropy`)."""
        recent = self.clock.monotonic() - self.config.store_age
        holdings, complete = self.holdings.digest(
            recent, self.config.digest_origins, wire.MAX_FRAME // 2
        )
        return wire.Digest(self.id, self._since, tuple(holdings), complete)

    def _asking(self, neighbour: str) -> None:
        """We asked ``neighbour`` for messages: its answer is not throttled again."""
        self._asked[neighbour] = self.clock.monotonic() + self.config.request_timeout

    def _lacking(self, to: bytes, digest: wire.Digest) -> None:
        """A neighbour's digest: send it what we keep that it lacks (taken since it
        started, give or take two hosts' clocks), as much as fits in a frame; it asks again
        for the rest. A neighbour's digests are answered ``digest_spacing`` apart at most
        (each costs a look through the store), but the one after a cut answer."""
        now, peer = self.clock.monotonic(), digest.peer
        if self._answered.get(peer, 0.0) > now and peer not in self._more:
            return
        self._answered[peer] = now + self.config.digest_spacing
        self._more.discard(peer)
        items, more = self._delta(digest, now, until=now)
        if more:
            self._more.add(peer)
        if items or more:
            self._out.append(Reply(to, wire.Delta(self.id, tuple(items), more)))

    def _delta(self, digest: wire.Digest, now: float, until: float) -> tuple[list[bytes], bool]:
        """What we keep that ``digest`` lacks, taken since its sender started (give or take
        two hosts' clocks) and by ``until`` (monotonic, as ``now``), as much as fits in a
        frame; and whether some did not fit."""
        since = digest.since - CLOCK_SKEW - (self.clock.time() - now)  # as monotonic
        holdings = {holding.origin: holding for holding in digest.origins}
        return self.store.lacking(
            holdings, digest.complete, since, until, max_bytes=wire.MAX_FRAME // 2
        )

    def _lacking_stranger(self, to: bytes, digest: wire.Digest) -> None:
        """The digest of a peer we do not link to (see :meth:`_cross`): what it lacks of
        what we have held ``cross_age`` at least. One such digest is answered a
        ``digest_spacing`` at most, whoever sends them (each costs a look through the
        store, and strangers are many)."""
        now = self.clock.monotonic()
        if self._strangers_answered > now:
            return
        self._strangers_answered = now + self.config.digest_spacing
        holds = self.holdings.holds
        if any(not holds(holding.origin, holding.high) for holding in digest.origins):
            # ours may be the part cut off: ask across ourselves at the next round
            self._next_cross = min(self._next_cross, self._rounds + 1)
        items, more = self._delta(digest, now, until=now - self.config.cross_age)
        if items:
            self._out.append(Reply(to, wire.Delta(self.id, tuple(items), more)))

    def _given_up(self) -> None:
        """The ids the tree gave up asking for: anti-entropy with a neighbour now, rather
        than at the next round, and awaited until ``store_age`` has passed, then lost."""
        if not self.tree.given_up:
            return
        now = self.clock.monotonic()
        for msg_id in self.tree.given_up:
            if msg_id not in self.ml:
                self._awaited[msg_id] = now
        self.tree.given_up.clear()
        excess = len(self._awaited) - self.config.max_announced
        if excess > 0:  # bounded: the oldest are no longer awaited, and that is said
            self._lose_ids(list(itertools.islice(self._awaited, excess)), "too many awaited")
        partner = self._random_link()
        if partner is not None and now >= self._digest_after_give_up:
            self._digest_after_give_up = now + self.config.gap_delay
            self._send_digest(partner)

    def _expire(self, now: float) -> None:
        """What can no longer be had: holes and awaited ids older than ``store_age``; and
        the dead and departed kept long enough (``member_keep``)."""
        self.members.expire(self.clock.time())
        self.store.trim(now)
        self._lose(self.holdings.expire(now, self.config.store_age))
        too_old = now - self.config.store_age
        gone = [msg_id for msg_id, when in self._awaited.items() if when <= too_old]
        if gone:
            self._lose_ids(gone, "expired")

    def _lose_ids(self, gone: list[bytes], reason: str) -> None:
        """Awaited ids given up: ``gossip.lost``, a line for each ``wire.MAX_REPAIR``."""
        for msg_id in gone:
            del self._awaited[msg_id]
        for start in range(0, len(gone), wire.MAX_REPAIR):
            ids = [msg_id.hex() for msg_id in gone[start : start + wire.MAX_REPAIR]]
            self.lost += len(ids)
            self._emit(records.GossipLost(None, None, ids, reason, len(ids)))

    def _lose(self, lost: list[Lost]) -> None:
        """Say what was given up: ``gossip.lost``, a line a range of sequence numbers."""
        for gone in lost:
            count = gone.last - gone.first + 1
            self.lost += count
            seqs = list(range(gone.first, min(gone.last, gone.first + wire.MAX_REPAIR - 1) + 1))
            self._emit(records.GossipLost(gone.origin, seqs, None, gone.reason, count))

    def _throttle(self, origin: str) -> None:
        """A message of ``origin`` over ``Config.origin_rate``, dropped: said at most once a
        second an origin, with how many."""
        count = self._throttled.report(origin, self.clock.monotonic())
        if count is not None:
            self._emit(records.GossipThrottled(origin, count, self.config.origin_rate))

    def _push(self, msg_id: bytes, frame: bytes, sender: str) -> None:
        """Forward a first receipt (from ``sender``: ourselves for our own) down the tree."""
        to = self.tree.first(msg_id, sender)
        if to:
            self._out.append(Publish(frame, tuple(to)))

    def _still_joining(self) -> None:
        """Not joined yet: say why (how many seeds hold our registration, of how many
        needed), and again every ``join_patience`` until joined; a silent wait helps no one."""
        if self._joined:
            return
        registered = len(self.registration.registered())
        self._emit(records.JoinWaiting(registered, self.registration.quorum, len(self._seeds)))
        self.deadlines.set(JOINING, self.clock.monotonic() + self.config.join_patience)

    # -- members ---------------------------------------------------------------------------

    def _take_facts(
        self, facts: tuple[wire.Fact, ...], sender: str | None, *, answer: bool
    ) -> None:
        """Member facts from ``sender`` (a neighbour; None: a seed): each newer one taken,
        told, and passed on to our other links, unless an answer to our sums brought many
        (a newcomer's catch-up: the others hold them). A fact calling us dead or suspect
        is refuted, to every link."""
        if not self.config.member_list:
            return  # we keep no one's but our own
        now = self.clock.time()
        news: list[wire.Fact] = []
        for fact in facts:
            change = self.members.merge(fact, now)
            if change is None:
                continue
            if change.fact.peer == self.id:
                self._emit(records.MemberRefuted(fact.state, change.fact.run, change.fact.ver))
                self._own_news(change.fact)
                continue
            self._tell(change)
            news.append(change.fact)
        if not answer or len(news) <= FEW_REPAIRED:
            for fact in news:
                self._pass(fact, sender)

    def _own_news(self, fact: wire.Fact) -> None:
        """A new fact of ours (tags, a refutation): to every link, and to the seeds."""
        self._pass(fact, None)
        self._register_again()

    def _pass(self, fact: wire.Fact, sender: str | None) -> None:
        """Pass ``fact`` on to our links but ``sender`` within ``fact_delay``, with the
        others of that time: one message a link for many facts."""
        self._passing[fact.peer] = (fact, sender)
        if FACTS not in self.deadlines:
            self.deadlines.set(FACTS, self.clock.monotonic() + self.config.fact_delay)

    def _pass_on(self) -> None:
        """The facts of the last ``fact_delay``, to each live link that did not tell us."""
        passing, self._passing = self._passing, {}
        for neighbour in self._live_links():
            facts = [fact for fact, sender in passing.values() if sender != neighbour.id]
            for start in range(0, len(facts), MAX_PASSED):
                chunk = tuple(facts[start : start + MAX_PASSED])
                self._out.append(Send(neighbour.id, wire.Facts(self.id, chunk, False, False)))

    def _tell(self, change: Change) -> None:
        fact = change.fact
        match change.news:
            case "joined":
                self._emit(records.MemberJoined(fact.peer, dict(fact.tags), fact.since))
            case "updated":
                self._emit(records.MemberUpdated(fact.peer, fact.state, dict(fact.tags)))
            case "left":
                self._emit(records.MemberLeft(fact.peer, fact.since))
            case "failed":
                self._emit(records.MemberFailed(fact.peer, fact.since))
        if change.news in ("left", "failed") and self.queries:
            for running in self.queries.gone(fact.peer):
                if running.done:
                    self._end_query(running.id, timed_out=False)

    def _send_sums(self, neighbour: str) -> None:
        """Our member list's sums: ``neighbour`` sends the facts where its differ, and its
        own sums, for ours."""
        if self.config.member_list:
            self._out.append(Send(neighbour, wire.Sums(self.id, self.members.sums(), False)))

    def _compare(self, sums: wire.Sums) -> None:
        """A neighbour's sums: the facts of the buckets that differ, as much as fits in a
        frame (it asks again for the rest); and, unless these answer ours, our sums, so
        that it sends us what it holds newer. A neighbour's sums of each kind (its own, its
        answer to ours) are answered ``digest_spacing`` apart at most: an answer may be half
        a frame, and one sending sums without end would have us send that without end.

        A bucket's facts go to a neighbour once a ``digest_spacing`` at most: when two
        peers link, each sends its sums, and a joiner's answer to the other's (its list
        nearly empty) would otherwise bring it the whole list a second time."""
        now, key = self.clock.monotonic(), (sums.peer, sums.answer)
        if self._summed.get(key, 0.0) > now:
            return
        self._summed[key] = now + self.config.digest_spacing
        differ = self.members.differing(sums.sums) if self.config.member_list else []
        if not differ:
            return
        until, sent = self._sent_buckets.get(sums.peer, (0.0, set()))
        if until <= now:
            until, sent = now + self.config.digest_spacing, set()
        fresh = [b for b in differ if b not in sent]
        if fresh:
            facts, whole = self.members.facts_in(fresh, wire.MAX_FRAME // 2)
            more = len(whole) < len(fresh)
            self._out.append(Send(sums.peer, wire.Facts(self.id, tuple(facts), True, more)))
            sent.update(whole)
            self._sent_buckets[sums.peer] = (until, sent)
        if not sums.answer:
            self._out.append(Send(sums.peer, wire.Sums(self.id, self.members.sums(), True)))

    def _roster(self) -> list[wire.Member]:
        """Our member list as ``zgossip members --via`` shows it, by address."""
        return sorted(
            (wire.Member(f.peer, f.state, f.since, f.tags) for f in self.members),
            key=lambda member: member.peer,
        )

    # -- queries ---------------------------------------------------------------------------

    def _start_query(
        self,
        client: bytes | None,
        name: str,
        payload: str | bytes,
        tags: tuple[tuple[str, str], ...],
        timeout: float,
        address: str = "",
    ) -> Running | None:
        """Ask every alive member whose tags match (ourselves too), directly; None, and
        the asker told why, when we run too many queries or it matches too many (a
        client's refusals said once a while: ``query.refused``, with a count)."""
        asked = [f.peer for f in self.members if f.state == "alive" and matches(f.tags, tags)]
        refused = None
        if len(self.queries) >= self.queries.limit:
            refused = f"{len(self.queries)} queries already running (at most {self.queries.limit})"
        elif len(asked) > self.config.query_reach:
            refused = (
                f"it matches {len(asked)} members, over the {self.config.query_reach} one query "
                "may ask: narrow it with tags"
            )
        if refused is not None:
            if client is None:  # our program's: it reads why in the query's end
                self._emit(records.QueryEnded(0, 0, [], [], False, refused))
                return None
            self._out.append(Reply(client, wire.Refused(self.id, refused)))
            count = self._refusals.report(address, self.clock.monotonic())
            if count is not None:
                self._emit(records.QueryRefused(address, refused, count))
            return None
        asked.sort()
        opened = [peer for peer in asked if peer != self.id and peer not in self.neighbours]
        running = self.queries.start(name, client, asked, opened, timeout)
        self._emit(records.QueryStarted(running.id, name, len(asked)))
        for peer in asked:
            if peer == self.id:
                self._on_query(None, self.id, running.id, name, payload)
            else:
                self._out.append(Send(peer, wire.Query(self.id, running.id, name, payload)))
        if running.done:  # no one to ask
            self._end_query(running.id, timed_out=False)
        return running

    def _on_query(
        self, to: bytes | None, querier: str, query: int, name: str, payload: str | bytes
    ) -> None:
        """A member's query of us (``to`` routes our answer; None: our own): our handler
        runs it, unless we have none of that name or that querier asks too fast."""
        fact = self.members.get(querier)
        if to is not None and (fact is None or fact.state != "alive"):
            self._bad(f"query from {querier}, not an alive member", querier)
            return
        status = None
        if name not in self.handlers:
            status = "nohandler"
        elif to is not None and not self._query_rates.take(querier, self.clock.monotonic()):
            status = "busy"
            count = self._busy.report(querier, self.clock.monotonic())
            if count is not None:
                self._emit(records.QueryBusy(querier, count, self.config.query_rate))
        if status is None:
            self._out.append(RunQuery(to, querier, query, name, payload))
        elif to is None:
            self._on_answer(self.id, wire.Answer(self.id, query, status, ""))
        else:
            self._out.append(Reply(to, wire.Answer(self.id, query, status, "")))

    def _on_answer(self, sender: str, answer: wire.Answer) -> None:
        """An answer to a query of ours: passed on to whoever asked; the query ends when
        it was the last one awaited. One from a member not asked, or a second: dropped."""
        if answer.peer != sender:
            self._bad(f"answer naming {answer.peer}, on the way to {sender}", sender)
            return
        running = self.queries.answered(sender, answer.id)
        if running is None:
            return  # late: the query ended (timed out) before it came
        took = round(self.clock.monotonic() - running.started, 6)
        self._emit(records.QueryAnswered(running.id, sender, answer.status, took, answer.payload))
        if running.client is not None:
            answered = wire.Answered(sender, answer.status, answer.payload, took)
            self._out.append(Reply(running.client, answered))
        if running.done:
            self._end_query(running.id, timed_out=False)

    def _end_query(self, query: int, *, timed_out: bool) -> None:
        running = self.queries.end(query)
        if running is None:
            return
        for peer in running.opened:  # this query's own DEALERs
            self._release(peer)
        missing = list(running.waiting)
        answered = len(running.asked) - len(missing) - len(running.gone)
        ended = records.QueryEnded(running.id, answered, missing, running.gone, timed_out)
        self._emit(ended)
        if running.client is not None:
            message = wire.Ended(
                self.id, len(running.asked), tuple(missing), tuple(running.gone), timed_out
            )
            self._out.append(Reply(running.client, message))

    # -- after a partition -----------------------------------------------------------------

    def _cross(self) -> None:
        """Send our digest to a peer we do not link to, at random. The overlay can split
        into parts in which every peer has its links (survivors of many deaths, the sides
        of a cut healed after the recall gave up): nothing in a part links across, but an
        answer from another part brings what ours never had (see :meth:`_crossed`). Its
        DEALER lasts a round.

        We ask every ``cross_rounds``, while messages come or go; in a network at rest,
        twice as long after each ask, up to ``max_cross_rounds``. A stranger's digest that
        holds what we lack brings our next ask to the next round (a quiet part is found
        by a busy one)."""
        seen = (self.received, self._seq)
        if seen != self._cross_seen:
            self._cross_every = self.config.cross_rounds
        else:
            self._cross_every = min(2 * self._cross_every, self.config.max_cross_rounds)
        self._cross_seen = seen
        self._next_cross = self._rounds + self._cross_every
        if not self._joined:
            return
        strangers = list(self._candidates().values())
        if not strangers:
            return
        chosen = self.rng.choice(strangers)
        self._crossing = (chosen.id, chosen.pub)
        self._out.append(Send(chosen.id, self._digest()))

    def _crossed(self, sender: str, delta: wire.Delta) -> None:
        """The answer to our digest from a peer we do not link to: messages it has held for
        ``cross_age``. One we never had was not in our part of the overlay: link to it."""
        assert self._crossing is not None
        pub = self._crossing[1]
        took = self.received
        for item in delta.items:
            self._receive(item, sender, repaired=True)
        missed = self.received - took
        self._end_crossing()
        if missed:
            self._emit(records.NeighbourBridged(sender, missed))
            self._add(sender, pub)
            self._out.append(Send(sender, wire.Link(self.id, self.pub)))

    def _end_crossing(self) -> None:
        """Close the DEALER our digest across went out on (never a link's: :meth:`_add`
        ends the crossing before it links)."""
        assert self._crossing is not None
        peer = self._crossing[0]
        self._crossing = None
        self._release(peer)

    def _release(self, peer: str) -> None:
        """Close our DEALER to ``peer``, a query's or our digest across's, once neither
        a link, a running query nor the digest across uses it: the last of them to end
        closes it."""
        crossing = self._crossing[0] if self._crossing else None
        if peer not in self.neighbours and peer != crossing and not self.queries.holds(peer):
            self._out.append(Disconnect(peer))

    def _remember(self, lost: Neighbour) -> None:
        """A neighbour lost for dead: a cut between us looks the same as its death, and when
        the cut heals nothing else would link the two sides again (each has its links)."""
        self._recalled.pop(lost.id, None)
        self._recalled[lost.id] = (lost.pub, self.clock.monotonic() + self.config.recall_for)
        while len(self._recalled) > self.config.max_recalled:
            del self._recalled[next(iter(self._recalled))]
        if RECALL not in self.deadlines:
            self.deadlines.set(RECALL, self.clock.monotonic() + self.config.recall_interval)

    def _recall(self) -> None:
        """Ping the neighbours lost for dead; see :meth:`_own_probe_ended`."""
        now = self.clock.monotonic()
        self._recalled = {p: kept for p, kept in self._recalled.items() if kept[1] > now}
        for peer in self._recalled:
            if peer not in self.neighbours:
                self._probe(peer)
        if self._recalled:
            self.deadlines.set(RECALL, now + self.config.recall_interval)

    def _own_probe_ended(self, target: str, alive: bool) -> None:
        """Our own probe of a neighbour lost for dead: one that answers was cut off from us,
        not dead; link to it again (both sides do: the first link wins)."""
        kept = self._recalled.get(target)
        if not alive or kept is None or target in self.neighbours:
            return
        del self._recalled[target]
        self._emit(records.NeighbourRecalled(target))
        self._add(target, kept[0])
        self._out.append(Send(target, wire.Link(self.id, self.pub)))


#: What an answer to our sums brought that is new to us is passed on as news when it is
#: this many facts at most: the flood missed us (the neighbour that answered may have
#: taken it from an answer too, and passed it to no one), and maybe others; more is a
#: newcomer's catch-up, which the others hold.
FEW_REPAIRED = 16
#: Facts one message passes on at most: 4 KiB of tags each, still within a frame.
MAX_PASSED = 100
#: Seconds two hosts' wall clocks may differ by and a digest's ``since`` still hold (NTP
#: keeps them within milliseconds; a VM's may lag by seconds): an answer that starts that
#: much early costs a few copies, one that starts late would lose messages.
CLOCK_SKEW = 5.0


def check_body(body: str | bytes) -> None:
    """ValueError for a body no peer would take (over ``wire.MAX_BODY``)."""
    if len(body) > wire.MAX_BODY:
        raise ValueError(f"a message body is at most {wire.MAX_BODY} characters or bytes")
