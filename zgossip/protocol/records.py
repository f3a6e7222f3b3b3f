"""What happens on a node, as typed records: each event's name, fields, console text, colour.

The protocol cores (:mod:`zgossip.protocol.peer`, :mod:`zgossip.protocol.seed`) and the
executor return these; the sink (:class:`zgossip.events.EventLog`) writes them. A
record's fields, in their order, are the JSON event log's fields; a field that is
None is left out (``bad.message`` has a ``from`` only when the sender is known), and a
field declared with ``hidden()`` serves the text or the library API but is not logged.
These names and fields are what SPEC.md promises: rename none of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, dataclass_transform

from zgossip.protocol import wire

GREEN, CYAN, YELLOW, RED, MAGENTA, ALARM = (
    "\x1b[32m", "\x1b[36m", "\x1b[33m", "\x1b[31m", "\x1b[35m", "\x1b[1;31m"
)  # fmt: skip

#: JSON names that are not Python names.
_RENAMED = {"sender": "from"}


class Event:
    """The base of every record; :func:`event` fills in the class variables."""

    __slots__ = ()
    NAME: ClassVar[str]
    COLOUR: ClassVar[str]
    #: Shown on the console only when asked for (-v): liveness chatter.
    CHATTER: ClassVar[bool]
    #: (JSON name, attribute) of each logged field, in order.
    FIELDS: ClassVar[tuple[tuple[str, str], ...]]

    def text(self) -> str:
        """The human log and console line, after the time, node and event name."""
        parts = [self.NAME, *(f"{key}={value}" for key, value in self.fields().items())]
        return " ".join(parts)

    def fields(self) -> dict[str, Any]:
        """The logged fields by JSON name, None ones left out."""
        values = ((key, getattr(self, attr)) for key, attr in self.FIELDS)
        return {key: value for key, value in values if value is not None}


E = TypeVar("E", bound=type[Event])

#: Every record class by its event name (what ``zgossip monitor`` colours lines by).
KINDS: dict[str, type[Event]] = {}


def hidden(default: Any = dataclasses.MISSING) -> Any:
    """A field that the text or the library API needs, but the event log does not."""
    return field(default=default, metadata={"hidden": True})


@dataclass_transform(field_specifiers=(field, hidden))
def event(name: str, colour: str = "", *, chatter: bool = False) -> Callable[[E], E]:
    """Make a record class: a slotted dataclass with its name and logged fields (built on
    the hot path, so not frozen: a frozen dataclass sets each field through a call)."""

    def make(cls: E) -> E:
        made: Any = dataclass(slots=True)(cls)  # not frozen: a frozen __init__ is slow
        made.NAME, made.COLOUR, made.CHATTER = name, colour, chatter
        made.FIELDS = tuple(
            (_RENAMED.get(f.name, f.name), f.name)
            for f in dataclasses.fields(made)
            if not f.metadata.get("hidden")
        )
        KINDS[name] = made
        return made  # type: ignore[no-any-return]

    return make


# -- both roles -------------------------------------------------------------------------


@event("started", GREEN)
class Started(Event):
    endpoints: list[str]
    curve: str | None = None  # the allow directory, when CurveZMQ is on

    def text(self) -> str:
        security = f"CurveZMQ on (allowed: {self.curve})" if self.curve else "CurveZMQ off"
        return f"started on {', '.join(self.endpoints)}; {security}"


@event("stopped", GREEN)
class Stopped(Event):
    def text(self) -> str:
        return "stopped"


@event("bad.message", MAGENTA)
class BadMessage(Event):
    reason: str
    sender: str | None = None
    count: int | None = None  # bad inputs from this sender since last said (1: left out)

    def text(self) -> str:
        again = f" ({self.count} from it since last said)" if self.count else ""
        return f"bad message from {self.sender or '?'}: {self.reason}{again}"


@event("auth.denied", MAGENTA)
class AuthDenied(Event):
    key: str
    address: str
    count: int
    allow: str = hidden()

    def text(self) -> str:
        again = f" ({self.count} times since last said)" if self.count > 1 else ""
        return f"refused key {self.key} from {self.address}: not in {self.allow}{again}"


@event("keys.changed", GREEN)
class KeysChanged(Event):
    allow: str  # the allow directory
    added: list[str]  # public keys (z85) admitted from now on
    removed: list[str]  # public keys refused from now on

    def text(self) -> str:
        return f"{self.allow}: {len(self.added)} key(s) admitted, {len(self.removed)} revoked"


@event("keys.unreadable", ALARM)
class KeysUnreadable(Event):
    allow: str
    error: str  # why the changed directory was not taken: the keys read before still hold

    def text(self) -> str:
        return f"{self.allow} changed but cannot be read ({self.error}): keys unchanged"


@event("monitor.attached", GREEN)
class MonitorAttached(Event):
    address: str  # the monitor's IP
    events: list[str]  # what it watches: names or patterns; [] for all

    def text(self) -> str:
        return f"monitor from {self.address} attached ({', '.join(self.events) or 'all events'})"


@event("monitor.detached", GREEN)
class MonitorDetached(Event):
    address: str

    def text(self) -> str:
        return f"monitor from {self.address} went silent: let go"


@event("say.refused", MAGENTA)
class SayRefused(Event):
    address: str  # the client's IP
    reason: str

    def text(self) -> str:
        return f"refused to gossip for {self.address}: {self.reason}"


@event("tag.refused", MAGENTA)
class TagRefused(Event):
    address: str  # the client's IP
    reason: str

    def text(self) -> str:
        return f"refused to change tags for {self.address}: {self.reason}"


@event("query.refused", MAGENTA)
class QueryRefused(Event):
    address: str  # the client's IP
    reason: str
    count: int = 1  # that client's queries refused since this was last said (once a second)

    def text(self) -> str:
        return f"refused to query for {self.address} ({self.count}): {self.reason}"


@event("consumer.behind", YELLOW)
class ConsumerBehind(Event):
    stream: str  # "messages" or "events"
    dropped: int  # items the slow consumer lost since this was last said

    def text(self) -> str:
        return f"an asyncio consumer of {self.stream} fell behind: {self.dropped} dropped"


@event("auth.refused", MAGENTA)
class AuthRefused(Event):
    target: str  # the node whose server refused our handshake
    reason: str  # "our key is not allowed", or a CurveZMQ protocol error

    def text(self) -> str:
        return f"{self.target} refused our CurveZMQ handshake: {self.reason}"


@event("auth.forged", ALARM)
class AuthForged(Event):
    key: str  # the client's public key (z85) that spoke
    claimed: str  # the node its message named as its sender: not that key's
    count: int = 1  # such messages of that key since this was last said

    def text(self) -> str:
        return f"refused a message of key {self.key} that claims to come from {self.claimed}"


@event("auth.nokey", YELLOW)
class AuthNoKey(Event):
    target: str
    allow: str = hidden()

    def text(self) -> str:
        return f"no certificate for {self.target} in {self.allow}: not connecting"


@event("internal.error", ALARM)
class InternalError(Event):
    error: str
    trace: str = hidden()

    def text(self) -> str:
        return f"internal error:\n{self.trace}"


# -- the seed ---------------------------------------------------------------------------


@event("peer.registered", GREEN)
class PeerRegistered(Event):
    peer: str

    def text(self) -> str:
        return f"Connection request from {self.peer}"


@event("peer.revoked", YELLOW)
class PeerRevoked(Event):
    peer: str

    def text(self) -> str:
        return f"removed {self.peer}: its key is no longer allowed"


@event("peer.removed", RED)
class PeerRemoved(Event):
    peer: str
    reason: str  # "dead" or "left"
    reporter: str | None = None  # for "dead": who first suspected it
    votes: list[str] | None = None  # for "dead": the seeds that agreed

    def text(self) -> str:
        if self.reason == "left":
            return f"{self.peer} left"
        return (
            f"removed {self.peer}: dead (reported by {self.reporter}; seeds agreeing: "
            f"{', '.join(self.votes or ())})"
        )


@event("dead.received", RED)
class DeadReceived(Event):
    dead: str
    reporter: str
    reported_ts: float

    def text(self) -> str:
        return wire.Dead(self.dead, self.reported_ts, self.reporter).line()


@event("report.ignored", YELLOW, chatter=True)
class ReportIgnored(Event):
    dead: str
    reporter: str
    reason: str

    def text(self) -> str:
        return f"ignored report of {self.dead}: {self.reason}"


@event("report.refuted", YELLOW)
class ReportRefuted(Event):
    peer: str
    reporter: str
    votes: list[str]

    def text(self) -> str:
        return f"{self.peer} is alive: report by {self.reporter} refuted ({', '.join(self.votes)})"


@event("report.undecided", YELLOW)
class ReportUndecided(Event):
    peer: str

    def text(self) -> str:
        return f"no majority of seeds decided on {self.peer}: it stays listed"


# -- the peer ---------------------------------------------------------------------------


@event("seed.registered", GREEN)
class SeedRegistered(Event):
    seed: str
    peers: int  # how many the seed listed

    def text(self) -> str:
        listed = "1 peer" if self.peers == 1 else f"{self.peers} peers"
        return f"registered with seed {self.seed} ({listed})"


@event("join.waiting", YELLOW)
class JoinWaiting(Event):
    registered: int  # seeds that hold our registration
    needed: int  # a majority of the seeds of config.txt
    seeds: int  # listed in config.txt

    def text(self) -> str:
        why = (
            "no seed answers (are they running? with CURVE, are our keys allowed?)"
            if self.registered == 0
            else f"only {self.registered} of the {self.needed} seeds needed hold our registration"
        )
        return f"not joined yet: {why}; {self.seeds} seed(s) in the config"


@event("seed.lost", YELLOW)
class SeedLost(Event):
    seed: str

    def text(self) -> str:
        return f"seed {self.seed} stopped answering"


@event("neighbour.added", GREEN)
class NeighbourAdded(Event):
    neighbour: str

    def text(self) -> str:
        return f"linked with {self.neighbour}"


@event("link.failed", YELLOW)
class LinkFailed(Event):
    neighbour: str

    def text(self) -> str:
        return f"link to {self.neighbour} never came up"


@event("neighbour.left", YELLOW)
class NeighbourLeft(Event):
    neighbour: str

    def text(self) -> str:
        return f"neighbour {self.neighbour} left"


@event("neighbour.revoked", YELLOW)
class NeighbourRevoked(Event):
    neighbour: str

    def text(self) -> str:
        return f"neighbour {self.neighbour} dropped: its key is no longer allowed"


@event("neighbour.lost", YELLOW)
class NeighbourLost(Event):
    neighbour: str

    def text(self) -> str:
        return f"{self.neighbour} no longer links to us: relinking"


@event("neighbour.recalled", GREEN)
class NeighbourRecalled(Event):
    neighbour: str  # lost for dead, it answers again: a cut between us healed

    def text(self) -> str:
        return f"{self.neighbour}, lost for dead, answers again: linking to it again"


@event("neighbour.bridged", GREEN)
class NeighbourBridged(Event):
    neighbour: str  # not linked to us, its answer to our digest held what we never had
    missed: int  # messages it brought that our part of the network never had

    def text(self) -> str:
        return (
            f"{self.neighbour} held {self.missed} message(s) our part of the network never"
            " had: a part cut off from ours, linking to it"
        )


@event("liveness.missed", YELLOW, chatter=True)
class LivenessMissed(Event):
    neighbour: str
    misses: int

    def text(self) -> str:
        return f"{self.neighbour} missed {self.misses} ping(s) in a row"


@event("liveness.late", YELLOW)
class LivenessLate(Event):
    late: float

    def text(self) -> str:
        return f"liveness round {self.late:.3f}s late: not counting misses"


@event("neighbour.suspect", YELLOW)
class NeighbourSuspect(Event):
    neighbour: str
    helpers: list[str]
    #: why: "silent" (it missed liveness_misses pings) or "closed" (its connection closed)
    reason: str = "silent"

    def text(self) -> str:
        why = "its connection closed" if self.reason == "closed" else "does not answer"
        return f"{self.neighbour} {why}: asking {', '.join(self.helpers)}"


@event("suspect.refuted", YELLOW)
class SuspectRefuted(Event):
    neighbour: str
    by: str  # the helper that reached it, or the neighbour itself when it answered late
    #: why it was suspected (see neighbour.suspect): one whose connection closed keeps its link
    reason: str = "silent"

    def text(self) -> str:
        if self.by == self.neighbour:
            return f"{self.neighbour} answered after all"
        if self.reason == "closed":
            return f"{self.by} reaches {self.neighbour}: a blip, the link stays"
        return f"{self.by} reaches {self.neighbour}: dropping our link to it, no report"


@event("neighbour.dead", RED)
class NeighbourDead(Event):
    neighbour: str

    def text(self) -> str:
        return f"neighbour {self.neighbour} is dead"


@event("dead.reported", RED)
class DeadReported(Event):
    dead: str
    seed: str
    line: str = hidden()  # the report as the assignment writes it

    def text(self) -> str:
        return f"{self.line} -> {self.seed}"


@event("member.joined", GREEN)
class MemberJoined(Event):
    member: str
    tags: dict[str, str]
    since: float  # Unix time it joined (its own word)

    def text(self) -> str:
        return f"member {self.member} joined{_tags_text(self.tags)}"


@event("member.updated", GREEN)
class MemberUpdated(Event):
    member: str
    state: str  # alive or suspect
    tags: dict[str, str]

    def text(self) -> str:
        return f"member {self.member} is {self.state}{_tags_text(self.tags)}"


@event("member.left", YELLOW)
class MemberLeft(Event):
    member: str
    since: float  # Unix time it left

    def text(self) -> str:
        return f"member {self.member} left"


@event("member.failed", RED)
class MemberFailed(Event):
    member: str
    since: float  # Unix time the seeds decided it dead

    def text(self) -> str:
        return f"member {self.member} failed"


@event("member.refuted", YELLOW)
class MemberRefuted(Event):
    claimed: str  # what a fact said of us: dead, left or suspect (or a version not ours)
    run: int  # our run and version now, past it
    ver: int

    def text(self) -> str:
        return f"refuted a fact calling us {self.claimed}: run {self.run} version {self.ver}"


def _tags_text(tags: dict[str, str]) -> str:
    return f" ({', '.join(f'{k}={v}' for k, v in tags.items())})" if tags else ""


@event("query.started", CYAN)
class QueryStarted(Event):
    id: int  # its number here
    name: str
    asked: int  # members asked: alive, tags matching

    def text(self) -> str:
        return f"query {self.id} {self.name!r}: asked {self.asked} member(s)"


@event("query.answered", CYAN)
class QueryAnswered(Event):
    id: int
    peer: str  # the member that answered
    status: str  # wire.STATUSES
    took: float  # seconds since the query started
    payload: str | bytes = hidden()  # the answer, for the program that asked

    def text(self) -> str:
        return f"query {self.id}: {self.peer} answered {self.status} in {self.took:.3f} s"


@event("query.ended", CYAN)
class QueryEnded(Event):
    id: int
    answered: int
    missing: list[str]  # asked, alive as far as we know, and never answered
    gone: list[str]  # died or left before answering
    timed_out: bool
    refused: str | None = None  # why it never started (too many at once, too wide)

    def text(self) -> str:
        if self.refused is not None:
            return f"query {self.id} refused: {self.refused}"
        how = "timed out" if self.timed_out else "done"
        return (
            f"query {self.id} {how}: {self.answered} answered, {len(self.missing)} missing, "
            f"{len(self.gone)} gone"
        )


@event("query.busy", YELLOW)
class QueryBusy(Event):
    querier: str
    refused: int  # its queries answered busy since this was last said (once a second)
    rate: float  # Config.query_rate

    def text(self) -> str:
        return f"{self.querier} queries faster than {self.rate:g}/s: {self.refused} answered busy"


@event("gossip.sent", CYAN)
class GossipSent(Event):
    id: str
    body: str
    seq: int  # our own sequence number: a reader sees a gap without counting

    def text(self) -> str:
        return f"sent {self.body}"


@event("gossip.received", CYAN)
class GossipReceived(Event):
    id: str
    body: str  # as text: bytes decoded as UTF-8, undecodable bytes replaced
    origin: str
    seq: int  # the origin's sequence number
    sender: str  # "from": the neighbour it came from
    message: wire.Gossip = hidden()  # the body as sent, and when: for on_message handlers
    history: bool | None = None  # True: handed over by a new neighbour, sent before we linked

    def text(self) -> str:
        who = self.origin if self.sender == self.origin else f"{self.origin} via {self.sender}"
        late = " (history: sent before this link)" if self.history else ""
        return f"received {self.body} from {who}{late}"


@event("broadcast.paced", YELLOW)
class BroadcastPaced(Event):
    rate: float  # own messages a second at most (Config.max_rate)
    held: int  # broadcasts that waited for it since this was last said

    def text(self) -> str:
        return f"broadcasting faster than {self.rate:g} messages/s: {self.held} waited"


@event("gossip.throttled", YELLOW)
class GossipThrottled(Event):
    origin: str
    dropped: int  # its messages dropped here since this was last said (at most once a second)
    rate: float  # Config.origin_rate

    def text(self) -> str:
        return (
            f"{self.origin} floods past {self.rate:g} messages/s: {self.dropped} of its "
            "messages dropped here, not forwarded"
        )


@event("gossip.gap", YELLOW)
class GossipGap(Event):
    origin: str
    seqs: list[int]
    asked: str

    def text(self) -> str:
        return f"missing {len(self.seqs)} message(s) of {self.origin}: asked {self.asked}"


@event("gossip.lost", RED)
class GossipLost(Event):
    """Messages known to exist that this peer lacks and can no longer get."""

    origin: str | None  # None: only ids are known (announced, never come)
    seqs: list[int] | None  # the origin's sequence numbers (the first wire.MAX_REPAIR) ...
    ids: list[str] | None  # ... or the messages' ids, hex, where the seq is unknown
    reason: str  # expired: past every store's store_age; too many gaps, origins, awaited;
    # origin restarted (its numbers start again)
    count: int  # how many in all

    def text(self) -> str:
        whose = f" of {self.origin}" if self.origin else ""
        return f"lost {self.count} message(s){whose} for good: {self.reason}"


@event("gossip.done", CYAN)
class GossipDone(Event):
    sent: int  # the automatic messages this peer sent: all that --gossip-count allows

    def text(self) -> str:
        return f"sent the last of its {self.sent} automatic message(s) (--gossip-count)"


@event("gossip.graft", chatter=True)
class GossipGraft(Event):
    neighbour: str  # announced messages that never came whole: asked of it, now pushing
    ids: int

    def text(self) -> str:
        return f"asked {self.neighbour} for {self.ids} message(s) it announced: on the tree"


@event("gossip.prune", chatter=True)
class GossipPrune(Event):
    neighbour: str  # pushed a copy we had: it only announces to us from now on

    def text(self) -> str:
        return f"{self.neighbour} sent a copy already had: off the tree"


@event("gossip.copies", chatter=True)
class GossipCopies(Event):
    received: int  # messages of others received, first receipts, since the peer started
    duplicates: int  # copies pushed to it of messages it had: duplicates / received is
    # the relative message redundancy

    def text(self) -> str:
        return f"{self.received} message(s) received, and {self.duplicates} duplicate(s)"


@event("handler.error", ALARM)
class HandlerError(Event):
    error: str

    def text(self) -> str:
        return f"on_message handler raised {self.error}"


# -- the node's own logs ------------------------------------------------------------------


@event("log.unwritable", ALARM)
class LogUnwritable(Event):
    file: str
    error: str

    def text(self) -> str:
        return f"cannot write {self.file}: {self.error}; going on, counting the lines lost"


@event("log.writable", GREEN)
class LogWritable(Event):
    file: str
    lost: int  # lines that could not be written meanwhile

    def text(self) -> str:
        return f"{self.file} is written again; {self.lost} line(s) were lost meanwhile"


@event("log.recreated", YELLOW)
class LogRecreated(Event):
    file: str

    def text(self) -> str:
        return f"{self.file} was deleted under this node: writing a new one"
