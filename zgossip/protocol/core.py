"""What the protocol cores of a seed and a peer share: the time, the effects, probes,
monitors, the certificates that count.

A core is a plain object. Each of its entry points takes what arrived and the time
(``now``, monotonic seconds), and returns the effects (:mod:`zgossip.protocol.effects`) to
carry out, in order; :meth:`Core.deadline` says when it next needs :meth:`timers`.
It opens no socket or file, starts no thread and reads no clock: the executor
(:mod:`zgossip.node`) and the simulator (:mod:`zgossip.simulate`) do that.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from zgossip.protocol import wire
from zgossip.protocol.clock import InputClock
from zgossip.protocol.config import Config
from zgossip.protocol.deadlines import Deadlines, Schedule
from zgossip.protocol.effects import CloseProbe, Effect, OpenProbe, Reply
from zgossip.protocol.liveness import Probes, ProbeTimeout
from zgossip.protocol.records import BadMessage, Event, MonitorAttached, MonitorDetached
from zgossip.protocol.watch import Line, Watchers


@dataclass(frozen=True, slots=True)
class Client:
    """Where a message on a node's ROUTER came from, as the executor can tell."""

    address: str | None  # its IP, when known
    local: bool  # an address of this node's own machine


@dataclass(frozen=True, slots=True)
class _ProbeFor:
    """Someone asked us to probe a suspect: answer it over our ROUTER."""

    to: bytes
    request: wire.Probe


#: The messages on a ROUTER whose handling depends on where they come from: the executor
#: tells ``request`` their :class:`Client` (``send``, ``tag`` and ``query --via`` are for
#: trusted clients only; a monitor is named by where it watches from).
ADDRESSED: tuple[type[wire.Message], ...] = (wire.Say, wire.Tag, wire.Ask, wire.Watch)
#: Who waits for a probe's answer: an asker, or (None) this node itself.
_Waiter = _ProbeFor | None
#: A core's deadline keys: the union of its parts' key types.
K = TypeVar("K", bound=Hashable)


class Core(Generic[K]):
    """The shared part; :class:`zgossip.protocol.peer.PeerState` and
    :class:`zgossip.protocol.seed.SeedState` are the two cores, each with its own union of
    deadline keys ``K``."""

    def __init__(
        self,
        config: Config,
        deadlines: Deadlines[K],
        probe_keys: Schedule[ProbeTimeout],
        *,
        now: float,
        wall_offset: float,
    ) -> None:
        """``deadlines``: the core's, empty; ``probe_keys``: the same, as its probes see it
        (``K`` includes :class:`ProbeTimeout`). ``wall_offset``: Unix time minus monotonic
        time, for the timestamps others read."""
        self.config = config
        self.id = str(config.address)
        self.clock = InputClock(now, wall_offset)
        self._out: list[Effect] = []
        #: Everything timed, by key; each part of the core keeps its own keys here.
        self.deadlines = deadlines
        self.probes: Probes[_Waiter] = Probes(probe_keys, self.clock, config.request_timeout)
        self.watchers = Watchers(
            self.id, limit=config.max_watchers, window=config.watch_window, ttl=config.watch_for
        )
        #: CurveZMQ: each node's public key, as the allow directory last said (None: off)
        self._certificates: dict[str, bytes] | None = None

    # -- entry points shared by both roles ---------------------------------------------

    def request(
        self, now: float, to: bytes, message: wire.Message, client: Client | None = None
    ) -> list[Effect]:
        """A message on our ROUTER; ``to`` routes a reply back to its sender. ``client``:
        where it came from, given for the kinds in :data:`ADDRESSED` (None: unknown)."""
        out = self._begin(now)
        if isinstance(message, wire.Watch):
            self._watch(to, message, client)
        else:
            self._request(to, message, client)
        return out

    def answer(self, now: float, sender: str, message: wire.Message) -> list[Effect]:
        """A message on the DEALER this node keeps for ``sender``."""
        raise NotImplementedError

    def stop(self, now: float) -> list[Effect]:
        """Say goodbye before the node goes."""
        return self._begin(now)

    def probe_answer(self, now: float, target: str, message: wire.Message) -> list[Effect]:
        """A message on the probe of ``target``: a pong proves it alive."""
        out = self._begin(now)
        if isinstance(message, wire.Pong):
            self._end_probe(target, alive=True)
        else:
            self._bad(f"unexpected {message.KIND} answer to a probe", target)
        return out

    def probe_refused(self, now: float, target: str) -> list[Effect]:
        """The port of ``target`` refused the probe's connection: nothing listens there."""
        out = self._begin(now)
        self._end_probe(target, alive=False)
        return out

    def probe_failed(self, now: float, target: str, why: str) -> list[Effect]:
        """The probe of ``target`` could not be opened (out of sockets or descriptors): it
        tells nothing, so no one hears a verdict from it, and above all not "dead"."""
        out = self._begin(now)
        self._bad(f"cannot probe {target}: {why}")
        self.probes.answered(target)
        return out

    def disconnected(self, now: float, node: str) -> list[Effect]:
        """The connection to ``node`` closed, or its port refused us. A seed makes nothing
        of it (its peers' reports and registrations tell); a peer does (see
        :meth:`zgossip.protocol.peer.PeerState.disconnected`)."""
        return self._begin(now)

    def bad(self, now: float, reason: str, sender: str | None = None) -> list[Effect]:
        """Input the executor could not read as a message (frames, envelope): dropped, said."""
        out = self._begin(now)
        self._bad(reason, sender)
        return out

    def certificates(self, now: float, keys: Mapping[str, bytes]) -> list[Effect]:
        """CurveZMQ: the allow directory as read now, each node's address and public key.
        A node whose key changed or went since the last reading is revoked (the executor
        refuses what it sends from now on): have no more to do with it. The first reading
        (at start) only says what the keys are."""
        out = self._begin(now)
        before, self._certificates = self._certificates, dict(keys)
        for node, key in (before or {}).items():
            if keys.get(node) != key:
                self._revoke(node)
        return out

    def watched(self, now: float, lines: list[Line]) -> list[Effect]:
        """The events since the last call (the sink keeps them while :attr:`watching`):
        what each monitor is sent, and the silent ones let go."""
        out = self._begin(now)
        self._let_go()
        for who, frame in self.watchers.frames(lines):
            out.append(Reply(who, frame))
        return out

    @property
    def watching(self) -> bool:
        """Whether any monitor watches (the sink keeps its events for them meanwhile)."""
        return len(self.watchers) > 0

    def timers(self, now: float) -> list[Effect]:
        """Do what is due at ``now``."""
        out = self._begin(now)
        for key in self.deadlines.due(now):
            self._on_due(key)
        self._after_due()
        return out

    def deadline(self) -> float | None:
        """When :meth:`timers` has something to do next (monotonic), if ever."""
        return self.deadlines.next()

    def gauges(self) -> dict[str, float]:
        """What the core holds and has counted, for metrics (the node's loop takes them at
        each scrape)."""
        return {"probes": len(self.probes), "monitors": len(self.watchers)}

    # -- what the roles provide ----------------------------------------------------------

    def _request(self, to: bytes, message: wire.Message, client: Client | None) -> None:
        """A message on our ROUTER that is the role's to handle."""
        raise NotImplementedError

    def _on_due(self, key: K) -> None:
        """The time of ``key`` has come: each role matches its own union of keys."""
        raise NotImplementedError

    def _probe_timed_out(self, target: str) -> None:
        """The probe of ``target`` had no answer in time (a :class:`ProbeTimeout`)."""
        waiters = self.probes.expired(target)
        if waiters:
            self._out.append(CloseProbe(target))
        for waiter in waiters:
            self._resolve(waiter, target, alive=False)

    def _after_due(self) -> None:
        """Once the keys due are handled: what is best done for them all at once."""

    def _revoke(self, node: str) -> None:
        """Let go of ``node``, whose key was revoked."""
        raise NotImplementedError

    def _own_probe_ended(self, target: str, alive: bool) -> None:
        """This node's own probe of ``target`` ended (the seed votes on it)."""
        raise NotImplementedError

    # -- for the roles -------------------------------------------------------------------

    def _begin(self, now: float) -> list[Effect]:
        self.clock.now = now
        self._out = []
        return self._out

    def _emit(self, event: Event) -> None:
        self._out.append(event)

    def _certified(self, node: str) -> bool:
        """Whether ``node`` may be dealt with: with CurveZMQ, only a node the allow
        directory names (one revoked, or never allowed, would be refused anyway)."""
        return self._certificates is None or node in self._certificates

    def _watch(self, to: bytes, request: wire.Watch, client: Client | None) -> None:
        """A monitor attaches, or says it still watches (see :mod:`zgossip.protocol.watch`)."""
        self._let_go()
        address = (client.address if client is not None else None) or "?"
        attached = to in self.watchers
        answer = self.watchers.watch(self.clock.now, to, request, address)
        if not attached and to in self.watchers:
            self._emit(MonitorAttached(address, list(request.events)))
        self._out.append(Reply(to, answer))

    def _let_go(self) -> None:
        for address in self.watchers.expire(self.clock.now):
            self._emit(MonitorDetached(address))

    def _bad(self, reason: str, sender: str | None = None) -> None:
        self._out.append(BadMessage(reason, sender))

    def _probe(self, target: str, waiter: _Waiter = None) -> None:
        """Ping ``target`` once; the answer goes to ``waiter`` (see :meth:`_resolve`). One
        probe out per target serves everyone who waits for it."""
        if self.probes.open(target, waiter):
            self._out.append(OpenProbe(target, wire.Ping(self.id, self.clock.time())))

    def _probe_for(self, to: bytes, request: wire.Probe) -> None:
        """Probe a suspect on an asker's behalf; not when too many such probes are out
        already (a client could ask for thousands)."""
        if request.suspect not in self.probes and len(self.probes) >= self.config.max_probes:
            self._bad(f"too many probes at once: {request.suspect} not probed", request.peer)
            return
        self._probe(request.suspect, _ProbeFor(to, request))

    def _end_probe(self, target: str, alive: bool) -> None:
        waiters = self.probes.answered(target)
        if waiters:
            self._out.append(CloseProbe(target))
        for waiter in waiters:
            self._resolve(waiter, target, alive)

    def _resolve(self, waiter: _Waiter, target: str, alive: bool) -> None:
        if waiter is None:
            self._own_probe_ended(target, alive)
            return
        probed = wire.Probed(self.id, target, waiter.request.ts, alive)
        self._out.append(Reply(waiter.to, probed))
