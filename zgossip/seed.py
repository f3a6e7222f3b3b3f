"""The seed's sockets: one ROUTER for registrations, peer-list queries, dead-node reports
and leaves, and a DEALER to each other seed. The protocol is
:class:`zgossip.seed_state.SeedState`; this module wires it to ZeroMQ."""

from __future__ import annotations

import random

import zmq

from zgossip.agreement import Agreement
from zgossip.clock import Clock
from zgossip.config import Config
from zgossip.effects import Effect
from zgossip.node import Node, Tap
from zgossip.registry import Registry
from zgossip.seed_state import SeedState


class Seed(Node):
    """A seed node. ``Seed(config).start()`` serves in a thread; ``.run()`` in this one."""

    role = "seed"
    state: SeedState

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

    def _core(self) -> SeedState:
        now = self.clock.monotonic()
        return SeedState(self.config, rng=self.rng, now=now, wall_offset=self.clock.time() - now)

    @property
    def registry(self) -> Registry:
        return self.state.registry

    @property
    def agreement(self) -> Agreement:
        return self.state.agreement

    def _bind(self) -> list[str]:
        self._router = self._socket(zmq.ROUTER)
        address = self.config.address
        endpoint = self._bind_socket(self._router, address.host, address.port)
        self._watch(self._router, self._on_router)
        for seed in sorted(self.agreement.seeds - {self.id}):  # connected before they are needed
            self._open_dealer(seed)
        return [endpoint]

    def _begin(self) -> list[Effect]:
        return self.state.timers(self.clock.monotonic())
