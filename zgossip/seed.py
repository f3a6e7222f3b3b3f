"""The seed: one ROUTER for registrations, peer-list queries, dead-node reports and leaves.

A dead-node report is checked before it is believed: the seed pings the
suspect itself (a DEALER of its own, one per open probe) and removes it only
if that ping goes unanswered for a liveness interval.
"""

from __future__ import annotations

import zmq

from zgossip import wire
from zgossip.clock import Clock
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
        self.registry = Registry(
            self.clock, probe_timeout=interval, ttl=2 * config.liveness_misses * interval
        )
        self._probes: dict[str, zmq.Socket[bytes]] = {}  # suspect -> the DEALER probing it

    def _bind(self) -> list[str]:
        self._router = self._socket(zmq.ROUTER)
        address = self.config.address
        endpoint = self._bind_socket(self._router, address.host, address.port)
        self._watch(self._router, self._on_router)
        return [endpoint]

    def _on_timers(self, now: float) -> float | None:
        unanswered, silent = self.registry.expire()
        for suspect in unanswered:
            self._end_probe(suspect.peer)
            self._removed_dead(suspect.peer, suspect.reporter, "its probe went unanswered")
        for peer in silent:
            self._end_probe(peer)
            self._removed_dead(peer, self.id, "it stopped refreshing its registration")
        return self.registry.next_deadline()

    def _removed_dead(self, peer: str, reporter: str, why: str) -> None:
        self.events.emit(
            "peer.removed", f"removed {peer}: dead ({why}; reported by {reporter})",
            peer=peer, reason="dead", reporter=reporter,
        )  # fmt: skip

    def _reply(self, identity: bytes, message: wire.Message) -> None:
        self._router.send_multipart([identity, wire.encode(message)])

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
                self._refuted(peer)
                self._reply(identity, wire.Peers(self.id, self.registry.snapshot()))
            case wire.ListPeers():
                self._reply(identity, wire.Peers(self.id, self.registry.snapshot()))
            case wire.Dead(dead=dead, ts=ts, reporter=reporter):
                self._on_dead(dead, ts, reporter)
            case wire.Leave(peer=peer):
                if self.registry.remove(peer):
                    self._end_probe(peer)
                    self.events.emit("peer.removed", f"{peer} left", peer=peer, reason="left")
            case _:
                self._bad(f"unexpected {message.KIND} message on a seed")

    def _on_dead(self, dead: str, ts: float, reporter: str) -> None:
        dead_host, _, dead_port = dead.rpartition(":")
        self.events.emit(
            "dead.received",
            f"Dead Node:{dead_host}:{dead_port}:{ts}:{reporter.rpartition(':')[0]}",
            dead=dead,
            reporter=reporter,
            reported_ts=ts,
        )
        why_not = self.registry.report(dead, reporter, ts)
        if why_not is not None:
            self.events.emit(
                "report.ignored", f"ignored report of {dead}: {why_not}",
                dead=dead, reporter=reporter, reason=why_not,
            )  # fmt: skip
            return
        probe = self._socket(zmq.DEALER)
        probe.connect(f"tcp://{dead}")
        probe.send(wire.encode(wire.Ping(self.id, self.clock.time())), zmq.NOBLOCK)
        self._probes[dead] = probe
        self._watch(probe, lambda frames: self._on_probe(dead, frames))

    def _on_probe(self, dead: str, frames: list[bytes]) -> None:
        message = self._decode(frames, 1, dead)
        if isinstance(message, wire.Pong):
            self._refuted(dead)
        elif message is not None:
            self._bad(f"unexpected {message.KIND} answer to a probe", dead)

    def _refuted(self, peer: str) -> None:
        """``peer`` showed it is alive: close its open probe, if any, and say so."""
        suspect = self.registry.answered(peer)
        if suspect is not None:
            self._end_probe(peer)
            self.events.emit(
                "report.refuted", f"{peer} is alive: report by {suspect.reporter} refuted",
                peer=peer, reporter=suspect.reporter,
            )  # fmt: skip

    def _end_probe(self, peer: str) -> None:
        probe = self._probes.pop(peer, None)
        if probe is not None:
            self._discard(probe)
