"""The seed: one ROUTER for registrations, peer-list queries, dead-node reports and leaves.

A dead-node report is not believed on its own. The seed opens a case (see
:mod:`zgossip.agreement`), tells the other seeds of config.txt (``suspect``),
probes the suspect itself and sends its verdict to them all (``vote``); a seed
removes the peer once a majority has voted it dead, its own probe among them. A
registration that goes silent opens a case the same way. Seeds also probe on a
peer's behalf (``probe``) when the peer has no other neighbour to ask.
"""

from __future__ import annotations

import contextlib
import functools

import zmq

from zgossip import wire
from zgossip.agreement import Agreement, Decision
from zgossip.clock import Clock, earliest
from zgossip.config import Config
from zgossip.node import Node
from zgossip.registry import Registry


class Seed(Node):
    """A seed node. ``Seed(config).start()`` serves in a thread; ``.run()`` in this one."""

    role = "seed"

    def __init__(
        self, config: Config, *, clock: Clock | None = None, console: bool = False
    ) -> None:
        super().__init__(config, clock=clock, console=console)
        interval = config.liveness_interval
        self.registry = Registry(self.clock, ttl=2 * config.liveness_misses * interval)
        self.agreement = Agreement(
            (str(seed) for seed in config.seeds),
            self.id,
            self.clock,
            patience=config.liveness_misses * interval,
        )
        self._seed_dealers: dict[str, zmq.Socket[bytes]] = {}  # the other seeds

    def _bind(self) -> list[str]:
        self._router = self._socket(zmq.ROUTER)
        address = self.config.address
        endpoint = self._bind_socket(self._router, address.host, address.port)
        self._watch(self._router, self._on_router)
        for seed in sorted(self.agreement.seeds - {self.id}):
            dealer = self._seed_dealers[seed] = self._socket(zmq.DEALER)
            self._connect(dealer, seed)
            self._watch(dealer, functools.partial(self._on_seed, seed))
        return [endpoint]

    def _on_timers(self, now: float) -> float | None:
        for peer in self.registry.silent():
            self._suspect(peer, self.id, tell=True)
        for peer in self.agreement.expire():
            if peer in self.registry:
                self.registry.touch(peer)  # suspected again if it stays silent
            self.events.emit(
                "report.undecided", f"no majority of seeds decided on {peer}: it stays listed",
                peer=peer,
            )  # fmt: skip
        return earliest(self.registry.next_deadline(), self.agreement.next_deadline())

    def _reply(self, identity: bytes, message: wire.Message) -> None:
        self._router.send_multipart([identity, wire.encode(message)])

    def _tell_seeds(self, message: wire.Message, *only: str) -> None:
        """Send ``message`` to the other seeds (or to ``only`` those)."""
        frame = wire.encode(message)
        for seed in only or self._seed_dealers:
            with contextlib.suppress(zmq.Again):  # that seed is down, its queue full
                self._seed_dealers[seed].send(frame, zmq.NOBLOCK)

    def _on_router(self, frames: list[bytes]) -> None:
        identity = frames[0]
        message = self._decode(frames, 2)
        match message:
            case None:
                return
            case wire.Register(peer=peer, pub=pub, degree=degree):
                if self.registry.register(peer, pub, degree):
                    self.events.emit(
                        "peer.registered", f"Connection request from {peer}", peer=peer
                    )
                if peer in self.agreement:  # it speaks: alive, as far as this seed can tell
                    self._voted(peer, dead=False)
                self._reply(identity, wire.Peers(self.id, self.registry.snapshot()))
            case wire.ListPeers():
                self._reply(identity, wire.Peers(self.id, self.registry.snapshot()))
            case wire.Dead(dead=dead, ts=ts, reporter=reporter):
                self._on_dead(dead, ts, reporter)
            case wire.Leave(peer=peer):
                if self.registry.remove(peer):
                    self.events.emit("peer.removed", f"{peer} left", peer=peer, reason="left")
            case wire.Probe():
                self._probe_for(self._router, identity, message)
            case wire.Suspect(seed=seed, peer=peer, reporter=reporter) if self._known(seed):
                self._suspect(peer, reporter, tell=False)
                verdict = self.agreement.verdict(peer)
                if verdict is not None:  # it asks about a case decided here: our vote again
                    self._tell_seeds(wire.Vote(self.id, peer, verdict, reporter), seed)
            case wire.Vote(seed=seed, peer=peer, dead=dead, reporter=reporter) if self._known(seed):
                self._suspect(peer, reporter, tell=False)
                self._count(peer, seed, dead)
            case wire.Suspect() | wire.Vote():
                self._bad(f"{message.KIND} from {message.seed}, not a seed of the config")
            case _:
                self._bad(f"unexpected {message.KIND} message on a seed")

    def _known(self, seed: str) -> bool:
        return seed in self.agreement.seeds and seed != self.id

    def _on_seed(self, seed: str, frames: list[bytes]) -> None:
        """The other seeds answer nothing on our DEALERs; anything there is bad."""
        message = self._decode(frames, 1, seed)
        if message is not None:
            self._bad(f"unexpected {message.KIND} message from a seed", seed)

    def _on_dead(self, dead: str, ts: float, reporter: str) -> None:
        self.events.emit(
            "dead.received",
            wire.Dead(dead, ts, reporter).line(),
            dead=dead,
            reporter=reporter,
            reported_ts=ts,
        )
        why_not: str | None
        if dead == reporter:
            why_not = "a peer cannot report itself"
        elif reporter not in self.registry:
            why_not = f"reporter {reporter} is not registered here"
        else:
            why_not = self.agreement.refusal(dead)
        if why_not is not None:
            self.events.emit(
                "report.ignored", f"ignored report of {dead}: {why_not}",
                dead=dead, reporter=reporter, reason=why_not,
            )  # fmt: skip
            return
        self._suspect(dead, reporter, tell=True)

    def _suspect(self, peer: str, reporter: str, *, tell: bool) -> None:
        """Open a case on ``peer`` unless one is open: probe it, and vote on the answer."""
        if not self.agreement.open(peer, reporter):
            return
        if tell:
            self._tell_seeds(wire.Suspect(self.id, peer, reporter))
        self._probe(peer, lambda alive: self._voted(peer, dead=not alive))

    def _voted(self, peer: str, dead: bool) -> None:
        """This seed's own vote: counted here and sent to every other seed."""
        case_reporter = self.agreement.reporter(peer)
        if case_reporter is None:
            return  # decided already
        self._tell_seeds(wire.Vote(self.id, peer, dead, case_reporter))
        self._count(peer, self.id, dead)

    def _count(self, peer: str, seed: str, dead: bool) -> None:
        decision = self.agreement.vote(peer, seed, dead)
        if decision is not None:
            self._decided(decision)

    def _decided(self, decision: Decision) -> None:
        peer, reporter = decision.peer, decision.reporter
        votes = sorted(seed for seed, dead in decision.votes.items() if dead == decision.dead)
        if decision.dead:
            if self.registry.remove(peer):
                self.events.emit(
                    "peer.removed",
                    f"removed {peer}: dead (reported by {reporter}; seeds agreeing: "
                    f"{', '.join(votes)})",
                    peer=peer, reason="dead", reporter=reporter, votes=votes,
                )  # fmt: skip
            return
        if peer in self.registry:
            self.registry.touch(peer)
        self.events.emit(
            "report.refuted", f"{peer} is alive: report by {reporter} refuted ({', '.join(votes)})",
            peer=peer, reporter=reporter, votes=votes,
        )  # fmt: skip
