"""Which seeds a peer registers with, and when it asks them again (pure: no sockets).

A peer keeps registered with a quorum, floor(n/2)+1, of the seeds, chosen at
random. A seed that does not answer within the request timeout is replaced by
another listed seed. Registrations are refreshed every interval, the peer's
``Config.refresh_interval``; a refresh is also the peer's heartbeat to the seed
and brings it a fresh peer list. A seed
that misses ``misses`` refreshes in a row is given up and replaced, and asked
again every interval until it answers: a restarted seed starts empty, and is
refilled so. A seed that never answered is tried again whenever the quorum
needs one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from zgossip.protocol.clock import Clock
from zgossip.protocol.deadlines import Schedule


@dataclass(frozen=True, slots=True)
class RegistrationDue:
    """The deadline key of a peer's registration (one a peer: :data:`REGISTRATION`)."""


REGISTRATION = RegistrationDue()


@dataclass(slots=True)
class _Seed:
    active: bool = False  # one of the seeds we keep registered with
    registered: bool = False
    lost: bool = False  # it was registered, then stopped answering: retry it until it is back
    asked_at: float | None = None  # an unanswered request went out then
    misses: int = 0
    next_at: float = 0.0  # when to send the next request (active) or retry (not)


@dataclass(slots=True)
class Due:
    """What :meth:`Registration.poll` asks the caller to do."""

    send: list[str] = field(default_factory=list)  # send a register request to these
    lost: list[str] = field(default_factory=list)  # registered seeds that stopped answering
    #: Seeds not registered with that did not answer: ask anew, on a fresh connection (one
    #: refused at the handshake, a key not yet allowed, say, is never tried again by ZeroMQ)
    silent: list[str] = field(default_factory=list)


class Registration:
    """Registration state of one peer towards the seeds of config.txt. It keeps its
    :data:`REGISTRATION` key of the peer's deadlines at when :meth:`poll` has something
    to do (a timeout, a refresh, or a retry)."""

    def __init__(
        self,
        seeds: list[str],
        deadlines: Schedule[RegistrationDue],
        clock: Clock,
        *,
        interval: float,
        timeout: float,
        misses: int,
        rng: random.Random,
    ) -> None:
        order = list(seeds)
        rng.shuffle(order)  # the random choice of seeds: the first to activate come first
        self._seeds = {seed: _Seed() for seed in order}
        self._quorum = len(seeds) // 2 + 1
        self._clock = clock
        self._interval = interval
        self._timeout = timeout
        self._misses = misses
        self._deadlines = deadlines
        self._schedule()

    @property
    def quorum(self) -> int:
        return self._quorum

    def registered(self) -> list[str]:
        return [seed for seed, s in self._seeds.items() if s.registered]

    def poll(self) -> Due:
        """Time out silent seeds, replace them, and say which seeds to ask now."""
        now = self._clock.monotonic()
        due = Due()
        for seed, state in self._seeds.items():
            if state.asked_at is None or now - state.asked_at < self._timeout:
                continue
            state.asked_at = None
            state.misses += 1
            if not state.registered or state.misses >= self._misses:
                if state.registered:
                    due.lost.append(seed)
                    state.lost = True
                else:
                    due.silent.append(seed)
                state.active = state.registered = False
                state.next_at = now + self._interval
        active = sum(s.active for s in self._seeds.values())
        spare = sorted(
            (seed for seed, s in self._seeds.items() if not s.active and s.next_at <= now),
            key=lambda seed: self._seeds[seed].next_at,  # never-tried (0.0) first, stable
        )
        wanted = max(0, self._quorum - active)
        for index, seed in enumerate(spare):
            if index < wanted or self._seeds[seed].lost:  # a lost seed may be back, and empty
                self._seeds[seed].active = True
                self._seeds[seed].next_at = now
        for seed, state in self._seeds.items():
            if state.active and state.asked_at is None and state.next_at <= now:
                state.asked_at = now
                state.next_at = now + self._interval
                due.send.append(seed)
        self._schedule()
        return due

    def answered(self, seed: str) -> bool:
        """``seed`` answered; True when this makes it newly registered."""
        state = self._seeds.get(seed)
        if state is None:
            return False
        new = not state.registered
        state.active = state.registered = True
        state.lost = False
        state.asked_at = None
        state.misses = 0
        self._schedule()
        return new

    def next_deadline(self) -> float | None:
        """When :meth:`poll` has something to do next, as our key says."""
        return self._deadlines.get(REGISTRATION)

    def _schedule(self) -> None:
        """Keep our key at the soonest of the active seeds' timeouts and refreshes, and of
        the retries of the others (all of them when short of a quorum, else the lost)."""
        soonest: float | None = None
        active = 0
        for s in self._seeds.values():
            if s.active:
                active += 1
                when = s.next_at if s.asked_at is None else s.asked_at + self._timeout
                soonest = when if soonest is None else min(soonest, when)
        short = active < self._quorum
        for s in self._seeds.values():
            if not s.active and (short or s.lost):
                soonest = s.next_at if soonest is None else min(soonest, s.next_at)
        if soonest is None:
            self._deadlines.cancel(REGISTRATION)
        else:
            self._deadlines.set(REGISTRATION, soonest)
