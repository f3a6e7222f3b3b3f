"""The seed's protocol, with no I/O: the peer list, and agreeing on deaths.

:class:`SeedState` takes what arrived at a seed's ROUTER (``request``), on its
DEALERs to the other seeds (``answer``), a probe's outcome (``probed``) and the
time (``timers``), and returns the effects to carry out (see :mod:`zgossip.protocol.core`).

A dead-node report is not believed on its own. The seed opens a case (see
:mod:`zgossip.protocol.agreement`), tells the other seeds of config.txt (``suspect``),
probes the suspect itself and sends its verdict to them all (``vote``); a seed
removes the peer once a majority has voted it dead, its own probe among them. A
registration that goes silent opens a case the same way. Seeds also probe on a
peer's behalf (``probe``) when the peer has no other neighbour to ask.
"""

from __future__ import annotations

import random
from typing import assert_never

from zgossip.protocol import records, wire
from zgossip.protocol.agreement import Agreement, CaseTimeout, Decision, VerdictExpiry
from zgossip.protocol.config import Config
from zgossip.protocol.core import Client, Core
from zgossip.protocol.deadlines import Deadlines
from zgossip.protocol.effects import Dial, Effect, Reply, Send
from zgossip.protocol.liveness import ProbeTimeout
from zgossip.protocol.registry import Departed, Registry, SilenceTimeout

#: Everything a seed times.
SeedKey = SilenceTimeout | CaseTimeout | VerdictExpiry | ProbeTimeout


class SeedState(Core[SeedKey]):
    """The protocol state of one seed."""

    def __init__(
        self, config: Config, *, rng: random.Random, now: float, wall_offset: float
    ) -> None:
        deadlines: Deadlines[SeedKey] = Deadlines()
        super().__init__(config, deadlines, deadlines, now=now, wall_offset=wall_offset)
        self.rng = rng
        self.registry = Registry(self.deadlines, self.clock, ttl=config.registration_ttl)
        self.agreement = Agreement(
            (str(seed) for seed in config.seeds),
            self.id,
            self.deadlines,
            self.clock,
            patience=config.death_window,
        )
        self._others = sorted(self.agreement.seeds - {self.id})
        self.departed = Departed(self.clock, limit=config.max_departed, keep=config.departed_for)

    # -- entry points ----------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        """Begin: connect to the other seeds before they are needed, and run the timers."""
        out = self.timers(now)
        out[:0] = [Dial(seed) for seed in self._others]
        return out

    def gauges(self) -> dict[str, float]:
        return {**super().gauges(), "peers": len(self.registry), "cases": len(self.agreement)}

    def _revoke(self, node: str) -> None:
        if self.registry.remove(node):
            self.departed.add(node, "revoked")
            self._emit(records.PeerRevoked(node))

    def _request(self, to: bytes, message: wire.Message, client: Client | None) -> None:
        """A message on our ROUTER, from a peer, another seed, or a client."""
        out = self._out
        match message:
            case wire.Register(peer=peer, pub=pub, neighbours=neighbours, tags=tags, run=run):
                # the degree a seed believes: the links both ends name to it (two Sybils
                # claiming 2**62 links, or every peer, eclipsed the newcomers), up to a bound
                claimed = neighbours[: self.config.max_degree]
                if self.registry.register(peer, pub, claimed, tags, run, to):
                    self.departed.discard(peer)
                    self._emit(records.PeerRegistered(peer))
                if peer in self.agreement:  # it speaks: alive, as far as this seed can tell
                    self._voted(peer, dead=False)
                sample = self.registry.sample(self.config.sample_size, self.rng, without=peer)
                out.append(Reply(to, wire.Peers(self.id, sample)))
            case wire.ListPeers():  # the first page: an answer must fit in a frame
                first = self.registry.page(0, self.config.page_size)
                out.append(Reply(to, wire.Peers(self.id, first)))
            case wire.Page(offset=offset):
                page = self.registry.page(offset, self.config.page_size)
                listing = wire.Listing(self.id, offset, len(self.registry), page)
                out.append(Reply(to, listing))
            case wire.Dead(dead=dead, ts=ts, reporter=reporter):
                self._on_dead(dead, ts, reporter)
            case wire.Leave(peer=peer):
                self._tell_end(peer, "left", None)
                if self.registry.remove(peer):
                    self.departed.add(peer, "left")
                    self._emit(records.PeerRemoved(peer, "left"))
            case wire.Members(offset=offset):
                members = self._members()
                shown = tuple(members[offset : offset + self.config.page_size])
                out.append(Reply(to, wire.Roster(self.id, offset, len(members), shown)))
            case wire.Probe():
                self._probe_for(to, message)
            case wire.Suspect(seed=seed, peer=peer, reporter=reporter) if self._known(seed):
                self._suspect(peer, reporter, tell=False)
                verdict = self.agreement.verdict(peer)
                if verdict is not None:  # it asks about a case decided here: our vote again
                    out.append(Send(seed, wire.Vote(self.id, peer, verdict, reporter)))
            case wire.Vote(seed=seed, peer=peer, dead=dead, reporter=reporter) if self._known(seed):
                self._suspect(peer, reporter, tell=False)
                self._count(peer, seed, dead)
            case wire.Say():  # zgossip send --via a seed
                out.append(Reply(to, wire.Refused(self.id, "a seed does not gossip")))
            case wire.Tag():  # zgossip tag --via a seed
                out.append(Reply(to, wire.Refused(self.id, "a seed has no tags")))
            case wire.Suspect() | wire.Vote():
                self._bad(f"{message.KIND} from {message.seed}, not a seed of the config")
            case _:
                self._bad(f"unexpected {message.KIND} message on a seed")

    def answer(self, now: float, sender: str, message: wire.Message) -> list[Effect]:
        """The other seeds answer nothing on our DEALERs; anything there is bad."""
        out = self._begin(now)
        self._bad(f"unexpected {message.KIND} message from a seed", sender)
        return out

    # -- timers ----------------------------------------------------------------------------

    def _on_due(self, key: SeedKey) -> None:
        match key:
            case SilenceTimeout(peer=peer):  # a registration not refreshed for long: dead?
                if peer in self.registry:
                    self._suspect(peer, self.id, tell=True)
            case CaseTimeout(peer=peer):
                if self.agreement.expired(peer):
                    if peer in self.registry:
                        self.registry.touch(peer)  # suspected again if it stays silent
                    self._emit(records.ReportUndecided(peer))
            case VerdictExpiry(peer=peer):
                self.agreement.forget(peer)
            case ProbeTimeout(target=target):
                self._probe_timed_out(target)
            case _:
                assert_never(key)

    def _members(self) -> list[wire.Member]:
        """Every peer this seed holds or removed lately, as it sees each, by address."""
        members: dict[str, wire.Member] = {}
        for info in self.registry.snapshot():
            suspected = self.agreement.since(info.id)
            tags = self.registry.tags(info.id)
            if suspected is None:
                members[info.id] = wire.Member(info.id, "alive", info.since, tags)
            else:
                members[info.id] = wire.Member(info.id, "suspect", suspected, tags)
        for member in self.departed.members():
            members.setdefault(member.peer, member)
        return sorted(members.values(), key=lambda member: member.peer)

    # -- cases -----------------------------------------------------------------------------

    def _known(self, seed: str) -> bool:
        return seed in self.agreement.seeds and seed != self.id

    def _tell_seeds(self, message: wire.Message) -> None:
        for seed in self._others:
            self._out.append(Send(seed, message))

    def _on_dead(self, dead: str, ts: float, reporter: str) -> None:
        self._emit(records.DeadReceived(dead, reporter, ts))
        why_not: str | None
        if dead == reporter:
            why_not = "a peer cannot report itself"
        elif reporter not in self.registry:
            why_not = f"reporter {reporter} is not registered here"
        else:
            why_not = self.agreement.refusal(dead)
        if why_not is not None:
            self._emit(records.ReportIgnored(dead, reporter, why_not))
            return
        self._suspect(dead, reporter, tell=True)

    def _suspect(self, peer: str, reporter: str, *, tell: bool) -> None:
        """Open a case on ``peer`` unless one is open: probe it, and vote on the answer."""
        if not self.agreement.open(peer, reporter):
            return
        if tell:
            self._tell_seeds(wire.Suspect(self.id, peer, reporter))
        self._probe(peer)

    def _own_probe_ended(self, target: str, alive: bool) -> None:
        self._voted(target, dead=not alive)

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

    def _tell_end(self, peer: str, state: str, reporter: str | None) -> None:
        """``peer`` is dead or left: its run's end as a member fact, to the reporter and
        ``fact_fanout`` peers at random, over their registrations' routes; each passes it
        to its links (a leaver tells its links itself too)."""
        ran = self.registry.run(peer)
        if ran is None:
            return
        end = wire.Fact(peer, ran[0], 0, state, self.clock.time(), ())
        told = wire.Facts(self.id, (end,), False, False)
        chosen = self.registry.sample(self.config.fact_fanout, self.rng, without=peer)
        names = [info.id for info in chosen if info.id != reporter]
        for name in ([reporter] if reporter is not None else []) + names:
            route = self.registry.run(name)
            if route is not None:
                self._out.append(Reply(route[1], told))

    def _decided(self, decision: Decision) -> None:
        peer, reporter = decision.peer, decision.reporter
        votes = sorted(seed for seed, dead in decision.votes.items() if dead == decision.dead)
        if decision.dead:
            self._tell_end(peer, "dead", reporter)
            if self.registry.remove(peer):
                self.departed.add(peer, "dead")
                self._emit(records.PeerRemoved(peer, "dead", reporter, votes))
            return
        if peer in self.registry:
            self.registry.touch(peer)
        self._emit(records.ReportRefuted(peer, reporter, votes))
