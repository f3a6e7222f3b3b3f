"""The protocol cores under random joins, kills, stalls, losses and partitions (no sockets).

Hypothesis drives a simulated network (:mod:`zgossip.simulate`) of the real cores step
by step, and checks after every step what must always hold, and at the end what must
hold once the network had time to heal.
"""

from __future__ import annotations

import collections

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from zgossip.protocol import records
from zgossip.simulate import Partition, Scenario, Simulation

MAX_PEERS = 16
LIVENESS = 0.5  # seconds; misses x interval = 1.5 s until a silent neighbour is a suspect


class Network(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.scenario = Scenario(
            nodes=0, seeds=3, latency=0.002, liveness_interval=LIVENESS, liveness_misses=3
        )
        self.receipts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.removed_for_dead: set[str] = set()
        self.sim = Simulation(self.scenario, listener=self._heard)
        self.sim.boot()
        self.joined = 0
        self.messages = 0
        self.faults = False  # partitions, stalls or losses happened: deaths may be false
        self.last_id = ""  # of the latest message sent

    def _heard(self, node: str, event: records.Event) -> None:
        if isinstance(event, records.GossipReceived):
            self.receipts[(node, event.id)] += 1
        elif isinstance(event, records.GossipSent):
            self.last_id = event.id
        elif isinstance(event, records.PeerRemoved) and event.reason == "dead":
            self.removed_for_dead.add(event.peer)

    def _live(self) -> list[str]:
        return [peer.id for peer in self.sim.peers()]

    @initialize(count=st.integers(2, 8))
    def grow(self, count: int) -> None:
        self.join(count)
        self.sim.advance(self.sim.now + 1.0)

    @precondition(lambda self: self.joined < MAX_PEERS)
    @rule(count=st.integers(1, 4))
    def join(self, count: int) -> None:
        for _ in range(min(count, MAX_PEERS - self.joined)):
            self.sim.join()
            self.joined += 1
            self.sim.advance(self.sim.now + 0.01)

    @rule(seconds=st.floats(0.05, 3.0))
    def wait(self, seconds: float) -> None:
        self.sim.advance(self.sim.now + seconds)

    @precondition(lambda self: len(self._live()) > 2)
    @rule(data=st.data())
    def kill(self, data: st.DataObject) -> None:
        live = self._live()
        doomed = data.draw(st.lists(st.sampled_from(live), min_size=1, max_size=len(live) // 2))
        self.sim.kill(doomed)

    @precondition(lambda self: bool(self.sim.killed))
    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        self.faults = True  # a case opened while it was dead may close after it is back
        peer = data.draw(st.sampled_from(sorted(self.sim.killed)))
        for receipt in [r for r in self.receipts if r[0] == peer]:
            del self.receipts[receipt]  # a new process: it may get recent messages again, once
        self.sim.restart([peer])

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data())
    def broadcast(self, data: st.DataObject) -> None:
        self.messages += 1
        self.sim.broadcast(data.draw(st.sampled_from(self._live())), f"m{self.messages}")

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), seconds=st.floats(0.1, 1.0))
    def stall(self, data: st.DataObject, seconds: float) -> None:
        self.faults = True
        self.sim.stall([data.draw(st.sampled_from(self._live()))], seconds)

    @rule(seconds=st.floats(0.1, 4.0), fraction=st.floats(0.2, 0.8))
    def partition(self, seconds: float, fraction: float) -> None:
        self.faults = True
        now = self.sim.now
        self.scenario.partitions.append(Partition(now, now + seconds, fraction))

    @rule(loss=st.sampled_from([0.0, 0.01, 0.05]))
    def lossy(self, loss: float) -> None:
        self.faults = self.faults or loss > 0
        self.scenario.loss = loss

    @invariant()
    def every_message_is_received_at_most_once_per_peer(self) -> None:
        assert all(count == 1 for count in self.receipts.values())

    @invariant()
    def every_table_stays_bounded(self) -> None:
        for peer in self.sim.peers(live=False):
            config = peer.config
            assert len(peer.ml) <= config.ml_max_entries
            assert len(peer.probes) <= config.max_probes
            assert len(peer.neighbours) <= MAX_PEERS
            assert peer.deadlines.entries <= 2 * len(peer.deadlines) + 64
        for seed in self.sim.seed_states():
            assert len(seed.registry) <= self.joined
            assert len(seed.probes) <= seed.config.max_probes

    @invariant()
    def without_faults_no_live_peer_is_removed_for_dead(self) -> None:
        if not self.faults:
            assert not self.removed_for_dead & set(self._live())

    def teardown(self) -> None:
        """Heal, give the network time, then one more message: it reaches every live peer
        that the overlay still connects to its origin."""
        self.scenario.loss = 0.0
        healed = max([p.end for p in self.scenario.partitions] + [self.sim.now])
        self.sim.advance(healed + 10 * LIVENESS * 3)
        live = self._live()
        if not live:
            return
        origin = live[0]
        self.sim.broadcast(origin, "after the storm")
        self.sim.advance(self.sim.now + 2.0)
        reached = {node for (node, msg_id) in self.receipts if msg_id == self.last_id}
        assert self._component(origin) - {origin} <= reached

    def _component(self, origin: str) -> set[str]:
        """The live peers the links that are up connect to ``origin``."""
        up = {p.id: {n.id for n in p.neighbours.values() if n.up} for p in self.sim.peers()}
        seen, todo = {origin}, [origin]
        while todo:
            for other in up.get(todo.pop(), ()):
                if other in up and other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen


Network.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, database=None
)
test_the_protocol_holds_under_random_faults = Network.TestCase
