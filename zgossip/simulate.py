"""``zgossip simulate``: the real protocol cores, thousands of them, on a simulated network.

Every node is the very :class:`~zgossip.protocol.seed.SeedState` or
:class:`~zgossip.protocol.peer.PeerState` a real node runs; only the executor differs:
instead of ZeroMQ sockets, effects become deliveries on a simulated network with
per-link latency (and jitter, first in first out on each link), message loss,
partitions, kill -9 and stalls, all on one fake clock. Nothing here imports zmq.

A run is deterministic: one ``random.Random(seed)`` drives the network and gives each
node its own generator, and events at the same instant keep the order they were made
in. The same seed gives byte-identical output (the wall time goes to stderr).

The run: the seeds start at time 0, the peers join one every ``join_interval``, the
network settles, then ``fail`` of the peers are killed at once (at ``fail_at``), and
``messages`` are broadcast from live peers in turn, ``message_interval`` apart, the
first right after the failure. The summary says what fraction of the live peers got
each message, how far (hops) and how late the last got it, how many copies each
delivery cost, which live peers the seeds removed (false deaths), and how long the
seeds took to remove the dead.
"""

from __future__ import annotations

import gc
import heapq
import json
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import IO, Any, assert_never

from zgossip.events import json_head, json_line
from zgossip.protocol import records, wire
from zgossip.protocol.config import Address, Config
from zgossip.protocol.effects import (
    CloseProbe,
    Connect,
    Dial,
    Disconnect,
    Effect,
    OpenProbe,
    Publish,
    Reply,
    RunQuery,
    Send,
)
from zgossip.protocol.gossip import message_id
from zgossip.protocol.outbox import Outbox
from zgossip.protocol.overlay import fit_exponent
from zgossip.protocol.peer import PeerState
from zgossip.protocol.seed import SeedState

#: Unix time of the simulated clock's zero: event timestamps read as real dates.
EPOCH = 1_767_225_600.0  # 2026-01-01 00:00 UTC
#: Reply handles name the asking node's index after a kind byte: a DEALER's or a probe's.
_DEALER, _PROBE = ord("d"), ord("p")
#: A node whose timers leave something due at once comes back this much later (as the
#: real loop does, which catches up once a millisecond).
_GRAIN = 0.001


@dataclass(frozen=True, slots=True)
class Partition:
    """From ``start`` to ``end`` (simulated seconds), nothing crosses between ``fraction``
    of the nodes (seeds and peers alike, scattered over the join order) and the rest."""

    start: float
    end: float
    fraction: float = 0.5


@dataclass(slots=True)
class Scenario:
    """What to simulate. Times are simulated seconds."""

    nodes: int = 1000  # peers
    seeds: int = 3
    messages: int = 20
    warmup: int = 0  # messages before the failure, left out of the summary: the tree forms
    seed: int = 1
    latency: float = 0.005  # one way, per delivery
    jitter: float = 0.2  # each delivery's latency varies by up to this fraction
    loss: float = 0.0  # chance that any one delivery is lost
    fail: float = 0.0  # fraction of the peers killed at once (kill -9)
    fail_at: float | None = None  # when; by default once the network has settled
    restart_after: float | None = None  # the killed peers start again this much later
    stall: float = 0.0  # fraction of the peers stalled (SIGSTOP) for stall_for at fail_at
    stall_for: float = 0.0
    partitions: list[Partition] = field(default_factory=list)
    join_interval: float = 0.005
    settle: float = 2.0  # after the last join, before the failure and the messages
    message_interval: float = 0.1
    drain: float = 5.0  # after the last message, before the run ends
    gossip_interval: float = 5.0
    liveness_interval: float = 13.0
    liveness_misses: int = 3
    #: every peer keeps the member list of the whole network (N^2 facts in all: slow and
    #: big past a few thousand peers; off, each keeps its own fact only)
    members: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # more Config fields for every node

    def config(self, seeds: list[Address], address: Address) -> Config:
        return Config(
            seeds=seeds,
            address=address,
            gossip_interval=self.gossip_interval,
            gossip_count=0,  # the messages are the scenario's broadcasts
            liveness_interval=self.liveness_interval,
            liveness_misses=self.liveness_misses,
            **{"member_list": self.members, **self.options},
        )


@dataclass(frozen=True, slots=True)
class Spread:
    p50: float
    p99: float
    max: float


@dataclass(frozen=True, slots=True)
class Summary:
    nodes: int
    seeds: int
    messages: int
    seed: int
    failed: int  # peers killed
    restarted: int  # of which started again
    live: int  # peers alive at the end
    reliability_mean: float  # fraction of the live peers that got a message, averaged
    reliability_min: float
    complete: int  # messages that reached every live peer
    last_hop: Spread | None  # hops to the last peer a message reached
    last_delivery_ms: Spread | None  # time from sending to the last receipt
    copies_per_delivery: float  # relative message redundancy: copies received / deliveries - 1
    false_deaths: int  # live peers removed for dead by a seed
    dead_removed: int  # killed peers (not restarted) that every seed holding them removed
    dead_removed_s: Spread | None  # time from the kill to the last seed's removal
    degree_max: int  # of the overlay the live peers hold at the end (links up)
    degree_exponent: float | None  # fitted power-law exponent of those degrees (k >= 2)
    bad_messages: int
    simulated_s: float
    events: int


def _spread(values: list[float]) -> Spread | None:
    """Median, 99th percentile (nearest rank) and maximum; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    p50 = ordered[min(len(ordered) - 1, math.ceil(0.5 * len(ordered)) - 1)]
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return Spread(round(p50, 3), round(p99, 3), round(ordered[-1], 3))


def _address(index: int, port: int) -> Address:
    """A distinct IPv4 address per node: 10.x.y.z."""
    return Address(f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}", port)


class _Node:
    __slots__ = (
        "alive",
        "core",
        "generation",
        "head",
        "id",
        "index",
        "outbox",
        "peer",
        "probes",
        "rank",
        "stalled_until",
        "subscribers",
        "wake",
    )  # fmt: skip

    def __init__(self, index: int, core: PeerState | SeedState, role: str) -> None:
        self.index = index
        self.core = core
        self.id = core.id
        self.peer = core if isinstance(core, PeerState) else None
        self.outbox = Outbox(self.id, core.config.max_batch)  # what one input forwards
        self.alive = True
        self.stalled_until = 0.0
        self.wake: float | None = None  # the timer entry that counts, if any
        self.subscribers: dict[int, None] = {}  # nodes whose SUB our PUB reaches, in order
        self.head = json_head(self.id, role)
        self.probes: set[str] = set()  # targets of the probes we have open
        self.generation = 0  # its restarts: a timer of an earlier run counts for nothing
        # where it stands in a partition: scattered by the golden ratio, so that each side
        # of any split gets its share of the seeds and of the early and late joiners
        self.rank = index * 0.6180339887498949 % 1.0


class Simulation:
    """One run of a :class:`Scenario`."""

    def __init__(
        self,
        scenario: Scenario,
        events: IO[str] | None = None,
        *,
        listener: Callable[[str, records.Event], None] | None = None,
        deaf_to: Callable[[str, wire.Message | bytes], bool] | None = None,
    ) -> None:
        """``events``: where to write the JSON event log; ``listener(node, event)`` is
        called with every event, as it happens; ``deaf_to(node, carried)``, a test's tap,
        with what is sent to a node (a gossip frame, or a message): True drops it."""
        self.scenario = scenario
        self._listener = listener
        self._deaf_to = deaf_to
        self.rng = random.Random(scenario.seed)
        self.now = 0.0
        self._queue: list[tuple[float, int, Callable[..., object], tuple[Any, ...]]] = []
        self._order = 0
        self._events = events
        self._links: dict[int, float] = {}  # from << 32 | to -> last arrival: FIFO per link
        # the network's latencies and losses draw from a stream of their own: the joins, the
        # failures and the stalls come out the same whatever the traffic (tree or flood)
        self._random = random.Random(self.rng.getrandbits(64)).random
        self._fastest = scenario.latency * (1.0 - scenario.jitter)
        self._spread = 2.0 * scenario.latency * scenario.jitter
        self.nodes: list[_Node] = []
        self._by_id: dict[str, _Node] = {}
        seed_addresses = [_address(0xFF0000 + k, 5000) for k in range(1, scenario.seeds + 1)]
        self._seed_addresses = seed_addresses
        for address in seed_addresses:
            core = SeedState(
                scenario.config(seed_addresses, address),
                rng=self._child_rng(),
                now=0.0,
                wall_offset=EPOCH,
            )
            self._add(_Node(len(self.nodes), core, "seed"))
        # what the summary counts
        self.sent: dict[bytes, tuple[float, int]] = {}  # message id -> (when, origin node)
        self.reached: dict[bytes, dict[int, tuple[float, int]]] = {}  # id -> node -> (t, hop)
        self.copies: dict[bytes, int] = {}
        self.killed: dict[str, float] = {}  # dead now -> when killed
        self.kills = 0
        self.restarts = 0
        self.holders: dict[str, set[str]] = {}  # killed peer -> seeds that listed it
        self.removed: dict[str, float] = {}  # killed peer -> when the last holder removed it
        self.false_deaths: set[str] = set()
        self.bad = 0
        self.event_count = 0

    # -- the run -----------------------------------------------------------------------

    def run(self) -> Summary:
        """The scenario's run, from the seeds' start to its end; what it showed."""
        s = self.scenario
        self.boot()
        for n in range(s.nodes):
            self.at(n * s.join_interval, self.join)
        joined = s.nodes * s.join_interval + s.settle
        for k in range(s.warmup):
            self.at(joined + k * s.message_interval, self._broadcast, k, "warm-up message")
        if s.warmup:
            joined += s.warmup * s.message_interval + s.settle
            self.at(joined, self._forget_messages)
        fail_at = joined if s.fail_at is None else s.fail_at
        self.at(fail_at, self._fail)
        first = max(fail_at, joined)
        for k in range(s.messages):
            self.at(first + k * s.message_interval, self._broadcast, k)
        end = first + s.messages * s.message_interval + s.drain
        for partition in s.partitions:
            end = max(end, partition.end + s.drain)
        self.advance(end)
        return self.summary()

    # -- step by step: for tests and tools that drive a network themselves ------------

    def boot(self) -> None:
        """Start the seeds."""
        for node in self.nodes[: self.scenario.seeds]:
            assert isinstance(node.core, SeedState)
            self._apply(node, node.core.start(self.now))
            self._wake(node)

    def at(self, when: float, action: Callable[..., object], *args: Any) -> None:
        """Call ``action(*args)`` at simulated time ``when``."""
        self._order += 1
        heapq.heappush(self._queue, (when, self._order, action, args))

    def advance(self, until: float) -> None:
        """Run everything due up to simulated time ``until``."""
        queue = self._queue
        # The cycle collector is off while a run advances. A run allocates millions of
        # objects that live as long as it does, and each pass walks those made since the
        # last: with a pass every 100,000 allocations, 4.2 s of a 10,000-peer run's 35
        # went to it (gc.callbacks), and found next to nothing. The peak memory is the
        # same without it: 601 MB at 10,000 peers, 617 MB with half of them killed and
        # restarted, 407 MB at 2,000 with kills, restarts, loss and member lists. What
        # cycles a run leaves are collected once it stops, as any garbage is.
        collecting = gc.isenabled()
        gc.disable()
        try:
            while queue and queue[0][0] <= until:
                when, _, action, args = heapq.heappop(queue)
                self.now = when
                action(*args)
        finally:
            if collecting:
                gc.enable()
        self.now = max(self.now, until)

    def join(self) -> str:
        """A new peer starts now; its id."""
        address = _address(len(self.nodes) - self.scenario.seeds + 1, 6000)
        core = PeerState(
            self.scenario.config(self._seed_addresses, address),
            rng=self._child_rng(),
            now=self.now,
            wall_offset=EPOCH,
        )
        node = _Node(len(self.nodes), core, "peer")
        self._add(node)
        self._apply(node, core.start(self.now, f"tcp://{address.host}:{address.port + 1}"))
        self._wake(node)
        return node.id

    def kill(self, peers: Iterable[str]) -> None:
        """Kill these peers now, as kill -9 does: they say nothing, their ports refuse, and
        the kernel closes their connections (each neighbour hears of it a latency later)."""
        seeds = [node.core for node in self.nodes[: self.scenario.seeds]]
        for peer in peers:
            node = self._by_id[peer]
            if not node.alive:
                continue
            self._gone(node)
            self.kills += 1
            self.killed[peer] = self.now
            self.holders[peer] = {
                seed.id for seed in seeds if isinstance(seed, SeedState) and peer in seed.registry
            }

    def restart(self, peers: Iterable[str]) -> None:
        """Start these killed peers again on their addresses: a new process, with nothing of
        the old one but its identity (its PUB on another port, as a real restart binds)."""
        for peer in peers:
            node = self._by_id[peer]
            if node.alive or node.peer is None:
                continue
            self.restarts += 1
            for table in (self.killed, self.holders, self.removed):
                table.pop(peer, None)
            address = node.peer.config.address
            core = PeerState(
                self.scenario.config(self._seed_addresses, address),
                rng=self._child_rng(),
                now=self.now,
                wall_offset=EPOCH,
            )
            node.core = node.peer = core
            node.alive, node.wake, node.generation = True, None, node.generation + 1
            node.subscribers, node.probes = {}, set()
            pub = f"tcp://{address.host}:{address.port + 1 + node.generation}"
            self._apply(node, core.start(self.now, pub))
            self._wake(node)

    def stall(self, peers: Iterable[str], seconds: float) -> None:
        """Stop these peers for ``seconds`` (SIGSTOP): they read what came meanwhile after."""
        for peer in peers:
            self._by_id[peer].stalled_until = self.now + seconds

    def broadcast(self, peer: str, body: str) -> None:
        """``peer`` gossips ``body`` now."""
        node = self._by_id[peer]
        assert node.peer is not None
        self._input(node, node.peer.broadcast, body)

    def tag(self, peer: str, tags: Iterable[tuple[str, str]]) -> None:
        """``peer`` says ``tags`` of itself from now on."""
        node = self._by_id[peer]
        assert node.peer is not None
        self._input(node, node.peer.set_tags, tags)

    def query(self, peer: str, name: str, tags: tuple[tuple[str, str], ...], timeout: float) -> int:
        """``peer``'s program queries the members whose tags match now: the query's number
        (0: refused); its answers and end come as events."""
        node = self._by_id[peer]
        assert node.peer is not None
        query, effects = node.peer.query(self.now, name, "", tags, timeout)
        self._apply(node, effects)
        self._wake(node)
        return query

    def leave(self, peers: Iterable[str]) -> None:
        """Stop these peers now, as Ctrl-C does: each says goodbye, then is gone (its
        connections close as a killed one's do)."""
        for peer in peers:
            node = self._by_id[peer]
            if node.alive and node.peer is not None:
                self._input(node, node.peer.stop)
                self._gone(node)  # not a kill: the summary counts no death of it

    def _gone(self, node: _Node) -> None:
        """``node``'s process is gone: its ports refuse, and the kernel closes its
        connections (each neighbour hears of it a latency later)."""
        node.alive = False
        linked = set(node.peer.neighbours) if node.peer is not None else set()
        linked.update(self.nodes[index].id for index in node.subscribers)
        for other in sorted(linked):
            target = self._by_id.get(other)
            if target is not None and target.peer is not None and not self._cut(node, target):
                # the kernel's FIN or RST: a latency later, and never lost (TCP resends)
                when = self.now + self._fastest + self._spread * self._random()
                self.at(when, self._closed_in, target, node.id, node.generation)

    def peers(self, *, live: bool = True) -> list[PeerState]:
        """The peers' cores (the live ones only, unless told otherwise)."""
        return [
            node.peer for node in self.nodes if node.peer is not None and (node.alive or not live)
        ]

    def side(self, node: str, partition: Partition) -> bool:
        """Which side of ``partition`` ``node`` is on (True: the ``fraction`` side)."""
        return self._by_id[node].rank < partition.fraction

    def seed_states(self) -> list[SeedState]:
        return [node.core for node in self.nodes if isinstance(node.core, SeedState)]

    def _child_rng(self) -> random.Random:
        return random.Random(self.rng.getrandbits(64))

    def _add(self, node: _Node) -> None:
        self.nodes.append(node)
        self._by_id[node.id] = node

    def _fail(self) -> None:
        s = self.scenario
        peers = [core.id for core in self.peers()]
        doomed = self.rng.sample(peers, round(s.fail * len(peers)))
        self.kill(doomed)
        if s.restart_after is not None:
            self.at(self.now + s.restart_after, self.restart, doomed)
        live = [core.id for core in self.peers()]
        self.stall(self.rng.sample(live, round(s.stall * len(peers))), s.stall_for)

    def _broadcast(self, k: int, what: str = "simulated message") -> None:
        live = self.peers()
        if live:  # origins in turn, spread over the network
            self.broadcast(live[k * 7919 % len(live)].id, f"{what} {k + 1}")

    def _forget_messages(self) -> None:
        """The warm-up is over: what follows is what the summary says."""
        self.sent.clear()
        self.reached.clear()
        self.copies.clear()

    # -- the network -------------------------------------------------------------------

    def _cut(self, source: _Node, target: _Node) -> bool:
        """Whether a partition stands between the two now."""
        for partition in self.scenario.partitions:
            if partition.start <= self.now < partition.end:
                f = partition.fraction
                return (source.rank < f) != (target.rank < f)
        return False

    def _deliver(
        self, source: _Node, target: _Node, action: Callable[..., None], *args: Any
    ) -> None:
        """Carry something from ``source`` to ``target``: late by the link's latency, in
        order on the link, unless lost or cut off by a partition."""
        s = self.scenario
        if s.loss and self._random() < s.loss:
            return
        if s.partitions and self._cut(source, target):
            return
        when = self.now + self._fastest + self._spread * self._random()
        link = source.index << 32 | target.index
        last = self._links.get(link)
        if last is not None and last > when:
            when = last
        self._links[link] = when
        self._order += 1  # self.at(...), inlined: every delivery comes this way
        heapq.heappush(self._queue, (when, self._order, action, (target, *args)))

    def _input(self, node: _Node, entry: Callable[..., list[Effect]], *args: Any) -> None:
        """Hand ``node``'s core an input now, and carry out what it returns."""
        if not node.alive:
            return
        if node.stalled_until > self.now:  # stopped: it reads everything when it resumes
            self.at(node.stalled_until, self._input, node, entry, *args)
            return
        self._apply(node, entry(self.now, *args))
        self._wake(node)

    def _wake(self, node: _Node, soonest: float = 0.0) -> None:
        """Have ``node``'s timers run when its core next needs them (not before ``soonest``)."""
        deadline = node.core.deadline()
        if deadline is not None and deadline != node.wake:
            node.wake = deadline
            when = max(deadline, self.now, soonest)
            self.at(when, self._timers, node, deadline, node.generation)

    def _timers(self, node: _Node, deadline: float, generation: int) -> None:
        if node.wake != deadline or not node.alive or node.generation != generation:
            return  # superseded by a later reckoning, dead, or of an earlier run
        node.wake = None
        if node.stalled_until > self.now:
            self.at(node.stalled_until, self._timers, node, deadline, generation)
            node.wake = deadline
            return
        self._apply(node, node.core.timers(self.now))
        self._wake(node, soonest=self.now + _GRAIN)  # what is still due waits a moment

    # -- effects -----------------------------------------------------------------------

    def _apply(self, node: _Node, effects: Iterable[Effect]) -> None:
        """Carry out what one input made ``node``'s core do: a turn, as a node's loop
        would run it, with what it forwards sent at its end."""
        for effect in effects:
            match effect:
                case Publish():
                    node.outbox.add(effect)
                case records.Event():
                    self._event(node, effect)
                case Send():
                    self._send(node, effect)
                case Reply():
                    self._reply(node, effect)
                case Connect():
                    self._connect(node, effect)
                case Disconnect():
                    self._disconnect(node, effect)
                case Dial():
                    pass  # nothing to open: a delivery needs no connection
                case OpenProbe():
                    self._open_probe(node, effect)
                case CloseProbe():
                    node.probes.discard(effect.target)
                case RunQuery():  # a simulated program's handler answers empty, at once
                    assert node.peer is not None
                    args = (effect.to, effect.querier, effect.id, "")
                    self.at(self.now, self._input, node, node.peer.answered, *args)
                case _:
                    assert_never(effect)
        if node.outbox:
            self._publish(node)

    def _publish(self, node: _Node) -> None:
        """Send the frames of what ``node`` forwarded, to the neighbours whose SUB reads it."""
        ids_of: dict[bytes, bytes] = {}  # each envelope hashed once, however many it goes to
        for peer, frame, envelopes in node.outbox.frames():
            target = self._by_id.get(peer)
            if target is not None and target.index in node.subscribers:
                if self._deaf_to is not None and self._deaf_to(target.id, frame):
                    continue
                ids = []
                for envelope in envelopes:
                    msg_id = ids_of.get(envelope)
                    if msg_id is None:
                        msg_id = ids_of[envelope] = message_id(envelope)
                    ids.append(msg_id)
                self._deliver(node, target, self._gossip_in, frame, ids)

    def _gossip_in(self, target: _Node, frame: bytes, ids: list[bytes]) -> None:
        if not target.alive:
            return
        if target.stalled_until > self.now:
            self.at(target.stalled_until, self._gossip_in, target, frame, ids)
            return
        copies = self.copies
        for msg_id in ids:
            if msg_id in copies:
                copies[msg_id] += 1
        assert target.peer is not None
        effects = target.peer.gossip(self.now, frame)
        if effects:  # a duplicate changes nothing: no effects, and no new deadline
            self._apply(target, effects)
            self._wake(target)

    def _send(self, node: _Node, effect: Send) -> None:
        target = self._by_id.get(effect.to)
        if target is None:
            return  # no such node: the DEALER connects to nothing
        if self._deaf_to is not None and self._deaf_to(target.id, effect.message):
            return
        handle = bytes((_DEALER,)) + node.index.to_bytes(4, "big")
        self._deliver(node, target, self._request_in, handle, effect.message)

    def _request_in(self, target: _Node, handle: bytes, message: wire.Message) -> None:
        self._count_copies(target, message)
        self._input(target, target.core.request, handle, message)

    def _reply(self, node: _Node, effect: Reply) -> None:
        asker = self.nodes[int.from_bytes(effect.to[1:], "big")]
        if self._deaf_to is not None and self._deaf_to(asker.id, effect.message):
            return
        if effect.to[0] == _PROBE:
            self._deliver(node, asker, self._probe_answer, node.id, effect.message)
        else:
            self._deliver(node, asker, self._answer_in, node.id, effect.message)

    def _answer_in(self, target: _Node, sender: str, message: wire.Message) -> None:
        self._count_copies(target, message)
        self._input(target, target.core.answer, sender, message)

    def _count_copies(self, target: _Node, message: wire.Message) -> None:
        """Messages handed over whole (history: a new link's, a repair's, a graft's; an
        anti-entropy delta) are copies received too."""
        if isinstance(message, wire.History | wire.Delta) and target.alive:
            for item in message.items:
                msg_id = message_id(item)
                if msg_id in self.copies:
                    self.copies[msg_id] += 1

    def _probe_answer(self, target: _Node, probed: str, message: wire.Message) -> None:
        if probed in target.probes:
            self._input(target, target.core.probe_answer, probed, message)

    def _probe_refused(self, target: _Node, probed: str) -> None:
        if probed in target.probes:
            self._input(target, target.core.probe_refused, probed)

    def _connect(self, node: _Node, effect: Connect) -> None:
        target = self._by_id.get(effect.peer)
        if target is None:
            return
        if not target.alive:  # nothing listens: its port refuses our DEALER, at once
            when = self.now + 2 * self.scenario.latency
            self.at(when, self._closed_in, node, effect.peer, target.generation)
            return
        # our SUB's subscription reaches its PUB a moment later
        self._deliver(node, target, self._subscribed, node.index, True)

    def _closed_in(self, target: _Node, peer: str, generation: int) -> None:
        """``peer``'s process (of that run) is dead: ``target``'s connections to it closed,
        or its port refused ``target``'s."""
        if self._by_id[peer].generation == generation and target.peer is not None:
            self._input(target, target.peer.disconnected, peer)

    def _disconnect(self, node: _Node, effect: Disconnect) -> None:
        target = self._by_id.get(effect.peer)
        if target is not None and effect.pub is not None:
            target.subscribers.pop(node.index, None)  # our SUB stops reading it at once
            self._deliver(node, target, self._subscribed, node.index, False)

    def _subscribed(self, target: _Node, subscriber: int, on: bool) -> None:
        if not target.alive:
            return
        if on:
            target.subscribers[subscriber] = None
        assert target.peer is not None
        self._input(target, target.peer.subscription, self.nodes[subscriber].id, on)

    def _open_probe(self, node: _Node, effect: OpenProbe) -> None:
        node.probes.add(effect.target)
        target = self._by_id.get(effect.target)
        if target is None or not target.alive:  # nothing listens: the port refuses, at once
            self.at(self.now + 2 * self.scenario.latency, self._probe_refused, node, effect.target)
            return
        handle = bytes((_PROBE,)) + node.index.to_bytes(4, "big")
        self._deliver(node, target, self._request_in, handle, effect.ping)

    # -- what happened -----------------------------------------------------------------

    def _event(self, node: _Node, event: records.Event) -> None:
        self.event_count += 1
        if self._listener is not None:
            self._listener(node.id, event)
        if self._events is not None:
            self._events.write(json_line(round(self.now + EPOCH, 6), node.head, event))
        match event:
            case records.GossipReceived():
                self._received(node, event)
            case records.GossipSent():
                msg_id = bytes.fromhex(event.id)
                self.sent[msg_id] = (self.now, node.index)
                self.reached[msg_id] = {node.index: (self.now, 0)}
                self.copies[msg_id] = 0
            case records.PeerRemoved():
                self._removed(node, event)
            case records.BadMessage():
                self.bad += 1

    def _received(self, node: _Node, event: records.GossipReceived) -> None:
        msg_id = bytes.fromhex(event.id)
        reached = self.reached.get(msg_id)
        if reached is None:
            return
        sender = self._by_id[event.sender].index
        hop = reached[sender][1] + 1 if sender in reached else 1
        reached[node.index] = (self.now, hop)

    def _removed(self, seed: _Node, event: records.PeerRemoved) -> None:
        if event.reason != "dead":
            return
        if event.peer not in self.killed:
            self.false_deaths.add(event.peer)
            return
        holders = self.holders[event.peer]
        holders.discard(seed.id)
        if not holders:
            self.removed[event.peer] = self.now - self.killed[event.peer]

    def delays(self) -> list[list[float]]:
        """For each message: the milliseconds from its sending to each live peer's receipt
        (a peer that never got it is left out)."""
        live = {node.index for node in self.nodes if node.peer is not None and node.alive}
        return [
            [
                1000.0 * (t - sent)
                for i, (t, _) in self.reached[msg_id].items()
                if i in live and i != origin
            ]
            for msg_id, (sent, origin) in self.sent.items()
        ]

    def degrees(self) -> list[int]:
        """The live peers' degrees: their links that are up."""
        return [sum(n.up for n in peer.neighbours.values()) for peer in self.peers()]

    def summary(self) -> Summary:
        """What the run showed so far."""
        s = self.scenario
        live = {node.index for node in self.nodes if node.peer is not None and node.alive}
        fractions, hops, lates = [], [], []
        deliveries = copies = 0
        for msg_id, (sent, origin) in self.sent.items():
            reached = self.reached[msg_id]
            others = live - {origin}
            got = [reached[i] for i in others if i in reached]
            fractions.append(len(got) / len(others) if others else 1.0)
            if got:
                hops.append(float(max(hop for _, hop in got)))
                lates.append(1000.0 * (max(t for t, _ in got) - sent))
            deliveries += len(got)
            copies += self.copies[msg_id]
        degrees = self.degrees()
        exponent = fit_exponent(degrees)
        return Summary(
            nodes=s.nodes,
            seeds=s.seeds,
            messages=len(self.sent),
            seed=s.seed,
            failed=self.kills,
            restarted=self.restarts,
            live=len(live),
            reliability_mean=round(sum(fractions) / len(fractions), 6) if fractions else 1.0,
            reliability_min=round(min(fractions), 6) if fractions else 1.0,
            complete=sum(f == 1.0 for f in fractions),
            last_hop=_spread(hops),
            last_delivery_ms=_spread(lates),
            copies_per_delivery=round(copies / deliveries - 1.0, 3) if deliveries else 0.0,
            false_deaths=len(self.false_deaths),
            dead_removed=len(self.removed),
            dead_removed_s=_spread(list(self.removed.values())),
            degree_max=max(degrees, default=0),
            degree_exponent=None if exponent is None else round(exponent, 3),
            bad_messages=self.bad,
            simulated_s=round(self.now, 3),
            events=self.event_count,
        )


def summary_json(summary: Summary) -> str:
    """The summary as one JSON object on one line."""
    return json.dumps(asdict(summary), separators=(",", ":"), allow_nan=False)


def _show(spread: Spread | None, unit: str = "") -> str:
    if spread is None:
        return "-"
    return f"p50 {spread.p50:g}{unit}, p99 {spread.p99:g}{unit}, max {spread.max:g}{unit}"


def summary_lines(summary: Summary) -> list[str]:
    """The summary as a person reads it."""
    s = summary
    return [
        f"nodes           {s.nodes} peers, {s.seeds} seeds; {s.failed} killed "
        f"({s.restarted} restarted), {s.live} live",
        f"messages        {s.messages}, {s.complete} reached every live peer",
        f"reliability     mean {s.reliability_mean:.4f}, min {s.reliability_min:.4f}",
        f"last hop        {_show(s.last_hop)}",
        f"last delivery   {_show(s.last_delivery_ms, ' ms')}",
        f"copies          {s.copies_per_delivery:g} extra per delivery (relative redundancy)",
        f"false deaths    {s.false_deaths} live peers removed by a seed",
        f"overlay         max degree {s.degree_max}, power-law exponent "
        f"{'-' if s.degree_exponent is None else s.degree_exponent}",
        f"dead removed    {s.dead_removed} of {s.failed - s.restarted} by every seed holding "
        "them: "
        f"{_show(s.dead_removed_s, ' s')}",
        f"simulated       {s.simulated_s:g} s, {s.events} events, {s.bad_messages} bad messages",
    ]
