"""Seeds agreeing on a death, by majority (pure: no sockets).

A peer is removed from the peer list for death only when a majority,
floor(n/2)+1, of the n seeds of config.txt vote that it is dead, this seed among
them. Each seed that hears of a suspect (a peer's report, another seed's word,
or a registration gone silent) opens a case, probes the suspect itself and
votes: dead when its probe goes unanswered, alive when it is answered (or the
suspect registers). Seeds send each other their votes. A seed keeps a peer it
reaches itself whatever the others say, and keeps it too once a majority for
death is out of reach. A forged or mistaken report therefore cannot evict a
peer that most seeds can reach, nor can forged votes (a vote names its seed, and
without CurveZMQ anyone can claim to be one) evict a peer a seed reaches.

A decided case is remembered for a while, so that a late vote does not reopen
it, and so that a seed that asks late is answered with the verdict. A case no
majority decides in ``patience`` seconds (most seeds down) closes undecided:
the peer stays listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from zgossip.protocol.clock import Clock
from zgossip.protocol.deadlines import Schedule


@dataclass(frozen=True, slots=True)
class CaseTimeout:
    """The deadline key of a case on ``peer`` that no majority decided in time."""

    peer: str


@dataclass(frozen=True, slots=True)
class VerdictExpiry:
    """The deadline key of a verdict on ``peer``, kept for seeds that ask late."""

    peer: str


#: The agreement's deadline keys.
AgreementKey = CaseTimeout | VerdictExpiry


@dataclass(frozen=True, slots=True)
class Decision:
    peer: str
    dead: bool
    reporter: str  # who first suspected it: a peer, or a seed whose registration went silent
    votes: dict[str, bool] = field(default_factory=dict)  # seed -> voted dead


@dataclass(slots=True)
class _Case:
    reporter: str
    since: float  # Unix time it opened
    votes: dict[str, bool] = field(default_factory=dict)


class Agreement:
    """The open cases of one seed, and the verdicts it reached lately. A case closes
    undecided at its :class:`CaseTimeout` key of the seed's deadlines (:meth:`expired`),
    a verdict is forgotten at its :class:`VerdictExpiry` key (:meth:`forget`)."""

    def __init__(
        self,
        seeds: Iterable[str],
        me: str,
        deadlines: Schedule[AgreementKey],
        clock: Clock,
        *,
        patience: float,
        max_cases: int = 256,
    ) -> None:
        self.me = me
        self._deadlines = deadlines
        self._max_cases = max_cases
        self.seeds = frozenset(seeds) | {me}
        self.quorum = len(self.seeds) // 2 + 1
        self._clock = clock
        self._patience = patience
        self._cases: dict[str, _Case] = {}
        self._decided: dict[str, bool] = {}  # peer -> dead, while remembered

    def __contains__(self, peer: str) -> bool:
        return peer in self._cases

    def __len__(self) -> int:
        return len(self._cases)

    @property
    def full(self) -> bool:
        """As many cases open as a seed takes on at once (each probes a suspect): a flood of
        forged suspicions must not exhaust the seed."""
        return len(self._cases) >= self._max_cases

    def refusal(self, peer: str) -> str | None:
        """Why no case on ``peer`` can open now, if none can."""
        if peer in self._cases:
            return f"{peer} is being checked already"
        if self.verdict(peer) is not None:
            return f"{peer} was judged just now"
        if self.full:
            return "too many cases open at once"
        return None

    def open(self, peer: str, reporter: str) -> bool:
        """Suspect ``peer``; True when the case is new: probe it and tell the other seeds."""
        if self.refusal(peer) is not None:
            return False
        self._cases[peer] = _Case(reporter, self._clock.time())
        self._deadlines.set(CaseTimeout(peer), self._clock.monotonic() + self._patience)
        return True

    def since(self, peer: str) -> float | None:
        """When the open case on ``peer`` opened (Unix time); None when none is open."""
        case = self._cases.get(peer)
        return None if case is None else case.since

    def reporter(self, peer: str) -> str | None:
        """Who opened the open case on ``peer``; None when no case is open."""
        case = self._cases.get(peer)
        return case.reporter if case else None

    def verdict(self, peer: str) -> bool | None:
        """The recent verdict on ``peer`` (True: dead), if there is one."""
        return self._decided.get(peer)

    def vote(self, peer: str, seed: str, dead: bool) -> Decision | None:
        """Count ``seed``'s vote; the decision, when this vote makes one."""
        case = self._cases.get(peer)
        if case is None or seed not in self.seeds:
            return None
        case.votes[seed] = dead
        mine = case.votes.get(self.me)
        yes = sum(case.votes.values())
        no = len(case.votes) - yes
        if mine is False or no > len(self.seeds) - self.quorum:  # alive to us, or to too many
            return self._decide(peer, case, dead=False)
        if mine is True and yes >= self.quorum:
            return self._decide(peer, case, dead=True)
        return None

    def _decide(self, peer: str, case: _Case, dead: bool) -> Decision:
        del self._cases[peer]
        self._deadlines.cancel(CaseTimeout(peer))
        self._decided[peer] = dead
        self._deadlines.set(VerdictExpiry(peer), self._clock.monotonic() + self._patience)
        return Decision(peer, dead, case.reporter, dict(case.votes))

    def expired(self, peer: str) -> bool:
        """No majority decided on ``peer`` in time: True when its case was open (now closed;
        the peer stays listed)."""
        return self._cases.pop(peer, None) is not None

    def forget(self, peer: str) -> None:
        """The verdict on ``peer`` is old: a new report may open a new case."""
        self._decided.pop(peer, None)
