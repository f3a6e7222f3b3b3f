"""The seed's sockets: one ROUTER for registrations, peer-list queries, dead-node reports
and leaves, and a DEALER to each other seed. The protocol is
:class:`zgossip.protocol.seed.SeedState`; this module wires it to ZeroMQ."""

from __future__ import annotations

import zmq

from zgossip.node import Node
from zgossip.protocol.agreement import Agreement
from zgossip.protocol.effects import Effect
from zgossip.protocol.registry import Registry
from zgossip.protocol.seed import SeedState


class Seed(Node):
    """A seed node. ``Seed(config).start()`` serves in a thread; ``.run()`` in this one."""

    role = "seed"
    state: SeedState

    def _core(self, now: float, wall_offset: float) -> SeedState:
        return SeedState(self.config, rng=self.rng, now=now, wall_offset=wall_offset)

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
        self.loop.watch_router(self._router, self._on_router)
        return [endpoint]

    def _begin(self) -> list[Effect]:
        return self.state.start(self.clock.monotonic())
