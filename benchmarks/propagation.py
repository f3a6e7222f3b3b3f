"""Items 1 and 3: a network of peer processes on loopback, grown to each N in turn.

Three seeds and N ``zgossip peer --stdin`` processes (the installed command, each with a
JSON event log read through a FIFO, via ``tests.support.Cluster``). The network grows
from one N to the next, as users would join it. At each N, once the overlay is linked
and connected, every peer gossips M messages, one message at a time across the network
(spaced so that each message finds the network idle: this measures latency, not load),
with liveness at a realistic pace (every 5 s).

Time-to-all of a message: the last receipt's ``ts`` minus the ``gossip.sent`` ``ts``.
Hops: the chain of ``from`` fields back to the origin. Duplicates: each peer counts the
copies pushed to it of messages it had, and logs its counts every liveness round
(``gossip.copies``); a stage's redundancy is the duplicates its messages caused over
their receipts, read from the counts before the stage and after its last receipt.

Failure detection: in a network of its own, with fast liveness, a peer is killed with
SIGKILL; its neighbours must log ``neighbour.dead`` and the seeds that listed it
``peer.removed``.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.overlay_state import NetState, diameter, hops
from benchmarks.procs import cpu_of
from tests.support import Cluster, free_ports

#: How long the last message of a round may take before the rest count as never arrived.
_GRACE = 10.0
#: Liveness interval of the network gossip is timed in: the default pace of a real network
#: (13 s) rounded down. A fast one (0.5 s, as failure detection is measured with) keeps 50
#: peers' pings and registrations busy enough to take a quarter of 2 cores by themselves.
PROPAGATION_INTERVAL = 5.0
#: Seconds between two messages, per peer in the network: each message spreads through
#: an idle network (this measures latency, not load), well above its time-to-all.
_SPACING = 0.002


@dataclass(slots=True)
class Stage:
    """The figures of one N."""

    n: int
    messages: int
    incomplete: int
    time_to_all: list[float]  # seconds, one per complete message
    deliveries: list[float]  # seconds, one per receipt
    hops: list[int]  # one per receipt
    diameter: int
    edges: int
    cpu_per_message: float  # seconds of CPU all the nodes spent, per message of the round
    received: int = 0  # first receipts the peers counted in the stage
    duplicates: int = 0  # and copies of what they had

    @property
    def duplicates_per_delivery(self) -> float:
        """Copies beyond the first per receipt (relative message redundancy), as counted."""
        return self.duplicates / self.received if self.received else math.nan


@dataclass(slots=True)
class Failure:
    """Item 3: a peer killed with SIGKILL, and who noticed when."""

    interval: float
    misses: int
    neighbours: list[float] = field(default_factory=list)  # kill -> neighbour.dead, each
    seeds: list[float] = field(default_factory=list)  # first report -> peer.removed, each
    seeds_from_kill: list[float] = field(default_factory=list)
    seeds_listing: int = 0  # seeds that had it registered


@dataclass(slots=True)
class Figures:
    stages: list[Stage]
    failure: Failure | None


class Network:
    """The cluster, the peers alive in it, and what their logs say."""

    def __init__(
        self, directory: Path, interval: float, misses: int, peer_flags: Sequence[str] = ()
    ) -> None:
        self.cluster = Cluster(directory, seeds=3)
        self.peer_flags = list(peer_flags)
        self.state = NetState()
        self.alive: list[str] = []
        self.timers = ["--liveness-interval", str(interval), "--liveness-misses", str(misses)]
        for seed in self.cluster.seeds:
            self.cluster.start("seed", seed, *self.timers)
        for seed in self.cluster.seeds:
            self.cluster.tap.wait_event("started", node=seed)

    def wait(self, condition: Callable[[NetState], bool], timeout: float, what: str) -> None:
        """Wait for ``condition`` over the state, folding in events as they arrive."""
        tap = self.cluster.tap

        def check() -> bool:
            self.state.fold(tap.all)
            return condition(self.state)

        tap.wait_for(check, timeout, what)

    def grow(self, n: int) -> None:
        """Start peers, one after the other, until ``n`` are alive and linked."""
        for port in free_ports(n - len(self.alive)):
            address = f"127.0.0.1:{port}"
            flags = ["--stdin", "--gossip-count", "0", *self.timers, *self.peer_flags]
            self.cluster.start("peer", address, *flags, stdin=subprocess.PIPE)
            self.cluster.tap.wait_event("seed.registered", node=address)
            self.alive.append(address)
        peers = set(self.alive)
        self.wait(lambda s: s.linked(peers), 60, f"{n} peers linked and connected")

    def say(self, peer: str, body: str) -> None:
        stdin = self.cluster.procs[peer].stdin
        assert stdin is not None
        stdin.write(body.encode() + b"\n")
        stdin.flush()

    def close(self) -> None:
        for proc in self.cluster.procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
        self.cluster.close()


def _gossip_round(net: Network, n: int, per_peer: int, spacing: float) -> list[str]:
    """Every peer sends ``per_peer`` messages, ``spacing`` apart; their ids once all are sent."""
    tag = f"bench-{n}-"
    for k in range(per_peer):
        for peer in net.alive:
            net.say(peer, f"{tag}{peer}-{k}")
            time.sleep(spacing)  # pacing the load (one message at a time), not a wait
    total = n * per_peer
    net.wait(
        lambda s: sum(body.startswith(tag) for _, _, body in s.sent.values()) == total,
        30, f"{total} messages sent",
    )  # fmt: skip
    return [i for i, (_, _, body) in net.state.sent.items() if body.startswith(tag)]


def _stage(net: Network, n: int, per_peer: int, spacing: float) -> Stage:
    net.grow(n)
    peers = set(net.alive)
    pids = [proc.pid for proc in net.cluster.procs.values() if proc.poll() is None]
    cpu = cpu_of(pids)
    net.state.fold(net.cluster.tap.all)
    before = {p: net.state.counted(p) or (0, 0) for p in peers}
    started = time.time()
    ids = _gossip_round(net, n, per_peer, spacing)
    with contextlib.suppress(AssertionError):  # what has not arrived counts as incomplete
        net.wait(lambda s: not any(s.missing(i, peers) for i in ids), _GRACE, "every receipt")
    cpu = (cpu_of(pids) - cpu) / len(ids)
    graph = net.state.graph(peers)
    edges = sum(map(len, graph.values())) // 2
    stage = Stage(n, len(ids), 0, [], [], [], diameter(graph), edges, cpu)
    stage.received, stage.duplicates = count_copies(net, peers, before, started)
    for msg_id in ids:
        origin, sent_ts, _ = net.state.sent[msg_id]
        receipts = net.state.receipts.get(msg_id, {})
        stage.deliveries.extend(r.ts - sent_ts for r in receipts.values())
        stage.hops.extend(hops(receipts, origin).values())
        span = net.state.time_to_all(msg_id, peers)
        if span is None:
            stage.incomplete += 1
        else:
            stage.time_to_all.append(span)
    return stage


def count_copies(
    net: Network, peers: set[str], before: dict[str, tuple[int, int]], since: float
) -> tuple[int, int]:
    """First receipts and duplicates the peers counted since ``before`` (their counts when
    the work began, at Unix time ``since``), as each logged them last once it logged them
    after its own last receipt (a liveness round later)."""
    last = dict.fromkeys(peers, since)
    for receipts in net.state.receipts.values():
        for peer, receipt in receipts.items():
            if peer in last and receipt.ts > last[peer]:
                last[peer] = receipt.ts
    with contextlib.suppress(AssertionError):  # a peer that never says counts nothing
        net.wait(lambda s: all(s.counted(p, last[p]) for p in peers),
                 2 * PROPAGATION_INTERVAL + 5, "every peer's counts")  # fmt: skip
    received = duplicates = 0
    for peer in peers:
        after = net.state.counted(peer)
        if after is not None:
            received += after[0] - before[peer][0]
            duplicates += after[1] - before[peer][1]
    return received, duplicates


def _kill_one(net: Network, interval: float, misses: int) -> Failure:
    """SIGKILL the best-linked peer; time its neighbours' and seeds' verdicts."""
    peers = set(net.alive)
    graph = net.state.graph(peers)
    victim = max(net.alive, key=lambda p: len(graph[p]))
    neighbours = graph[victim]
    listing = {
        e["node"]
        for e in net.state.other
        if e["event"] == "peer.registered" and e["peer"] == victim
    }
    killed = time.time()
    os.kill(net.cluster.procs[victim].pid, signal.SIGKILL)
    net.alive.remove(victim)

    def dead(state: NetState) -> bool:
        seen = {(e["event"], e["node"]) for e in state.other if victim in e.values()}
        return all(("neighbour.dead", p) in seen for p in neighbours) and all(
            ("peer.removed", s) in seen for s in listing
        )

    net.wait(dead, 4 * misses * interval + 10, f"{victim} found dead")
    failure = Failure(interval, misses, seeds_listing=len(listing))
    reports: list[float] = []
    for e in net.state.other:
        if victim not in e.values() or e["ts"] < killed:
            continue
        if e["event"] == "neighbour.dead":
            failure.neighbours.append(e["ts"] - killed)
        elif e["event"] == "dead.reported":
            reports.append(e["ts"])
        elif e["event"] == "peer.removed":
            failure.seeds_from_kill.append(e["ts"] - killed)
    first_report = min(reports, default=killed)
    failure.seeds = [t + killed - first_report for t in failure.seeds_from_kill]
    return failure


def measure(
    sizes: list[int], per_peer: int, interval: float, misses: int, kill_at: int | None
) -> Figures:
    """Grow a network through ``sizes``, its liveness at the default pace; then, in a
    network of ``kill_at`` peers with liveness every ``interval``, kill one."""
    stages = []
    with tempfile.TemporaryDirectory(prefix="zgossip-bench-") as tmp:
        net = Network(Path(tmp), PROPAGATION_INTERVAL, misses)
        try:
            for n in sizes:
                stages.append(_stage(net, n, per_peer, _SPACING * n))
        finally:
            net.close()
    if kill_at is None:
        return Figures(stages, None)
    with tempfile.TemporaryDirectory(prefix="zgossip-bench-") as tmp:
        net = Network(Path(tmp), interval, misses)
        try:
            net.grow(kill_at)
            return Figures(stages, _kill_one(net, interval, misses))
        finally:
            net.close()
