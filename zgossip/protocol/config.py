"""Node configuration (``config.txt`` is read by :mod:`zgossip.seedlist`).

One :class:`Config` holds every knob a seed or a peer reads. The defaults are
the assignment's numbers (5 s gossip, 10 messages, 13 s liveness, 3 misses);
tests pass tiny timers instead of sleeping through real ones.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zgossip.protocol import wire

if TYPE_CHECKING:  # paths are the executors' to open: here they are only named
    from pathlib import Path


class ConfigError(Exception):
    """A user error in config.txt or in the options; the message is one line."""


@dataclass(frozen=True, slots=True)
class Address:
    """An ``IP:PORT`` pair; its string form is a node's identity."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """The ZeroMQ endpoint a node with this identity binds its ROUTER on."""
        return f"tcp://{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse ``IP:PORT``; raise ``ValueError`` with the reason when it is not one."""
        host, sep, port_text = text.strip().rpartition(":")
        if not sep or not host:
            raise ValueError(f"expected IP:PORT, got {text.strip()!r}")
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv4 address") from None
        if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"port {port_text!r} is not a number from 1 to 65535")
        return cls(host, int(port_text))


def curve_pair(secret: Path | None, allow: Path | None) -> tuple[Path, Path] | None:
    """The CURVE secret key file and allow directory, given both; None, given neither."""
    if secret is None and allow is None:
        return None
    if secret is None or allow is None:
        raise ConfigError("--curve-secret and --curve-allow go together: give both or neither")
    return secret, allow


#: The ways gossip can spread (``Config.dissemination``).
DISSEMINATIONS = ("tree", "flood")


@dataclass(slots=True)
class Config:
    """Everything a node needs to run. Times are seconds (floats)."""

    #: The seeds of config.txt.
    seeds: list[Address] = field(default_factory=list)
    #: This node's identity: the address its ROUTER binds.
    address: Address = field(default_factory=lambda: Address("127.0.0.1", 0))
    #: A peer creates one gossip message this often ...
    gossip_interval: float = 5.0
    #: ... up to this many (0 turns the automatic messages off; -1: without end, for demos).
    gossip_count: int = 10
    #: A peer pings each neighbour this often (and refreshes its seed registrations every
    #: ``refresh_interval``).
    liveness_interval: float = 13.0
    #: Consecutive unanswered pings after which a neighbour is dead.
    liveness_misses: int = 3
    #: Neighbours a peer links to when it joins (Barabasi-Albert's m); it tops up to this
    #: many from fresh seed lists and its backups whenever it has fewer. 2, not HyParView's
    #: 5: with a crash known when its connections close and backups to link to at once, a
    #: peer whose links all die links anew within milliseconds (every survivor got every
    #: message with 2, 10-90% of 10,000 killed), and each link more costs every message
    #: more announcements. What more would buy is a failure that closes nothing (a hang, a
    #: partition): half of 2,000 peers hung, 62% of messages reach the rest in 5 s with 2,
    #: 92% with 3, 99% with 5, until the pings find the hung (the figures:
    #: benchmarks/RESULTS.md, "A crash known in milliseconds").
    links: int = 2
    #: Backup peers a peer keeps besides its links (HyParView's passive view, 30 in the
    #: paper; about 100 bytes each), to link to at once when a link is lost, seeds or no
    #: seeds: filled from the seeds' samples and from exchanges with the neighbours.
    passive_size: int = 30
    #: Peers one exchange carries (HyParView's shuffle: a few of the active view, a few of
    #: the passive), with a random neighbour every ``shuffle_rounds`` liveness intervals:
    #: a small frame. Every 3: the seeds' lists refresh the backups every refresh while
    #: there are seeds, and an exchange every round cost a peer at rest a third more CPU
    #: (benchmarks/RESULTS.md, "Config's numbers").
    shuffle_size: int = 8
    shuffle_rounds: int = 3
    #: Message List bounds: entries are forgotten past this many or this age. 10,000
    #: entries (about 2 MB with the frames kept whole) hold a second of a 10,000 message/s
    #: flood: late copies come within a tenth of that (time-to-all: benchmarks/RESULTS.md,
    #: "Config's numbers").
    ml_max_entries: int = 10_000
    ml_max_age: float = 600.0
    #: Messages a peer keeps whole, to hand a new neighbour its recent gossip, to answer
    #: repairs and grafts, and to send a neighbour what its anti-entropy digest lacks: the
    #: newest up to ``store_bytes`` (each frame and its bookkeeping, ``store.ENTRY_COST``)
    #: no older than ``store_age``. 16 MiB holds about 40,000 messages of 150 bytes: 40 s
    #: of a 1,000 message/s stream, ten times a 10 s partition's at 200 a second; 120 s
    #: covers a peer stopped or cut off for two minutes, and is well inside ``ml_max_age``,
    #: so what is handed over is still known for what it is. Past either bound a message
    #: can no longer be had, and a peer that lacks it says so (``gossip.lost``).
    store_bytes: int = 16 << 20
    store_age: float = 120.0
    #: Holes in one origin's sequence numbers a peer keeps track of (each a range, so a
    #: long cut is one): 64 is far more than a burst leaves open at once; past it the
    #: oldest is given up, and said. At most ``wire.MAX_HOLES``.
    max_holes: int = 64
    #: Origins one anti-entropy digest lists, the most recently heard first: about 25
    #: bytes each, so 1,000 are a 25 KB frame (one origin's entry is at most 64 holes);
    #: a network with more origins speaking within ``store_age`` has the rest compared
    #: when they are among the most recent. At most ``wire.MAX_DIGEST``.
    digest_origins: int = 1000
    #: Peers a seed lists in its answer to a registration or refresh, drawn at random when
    #: it holds more: about 2 KB, however large the network (the whole list of 10,000 peers
    #: was 600 KB, sent to every peer every liveness interval, and past about 17,000 it
    #: outgrew the 1 MiB frame). With a majority of 3 seeds a peer picks its neighbours from
    #: 64 candidates, enough for preferential attachment to keep the power law.
    sample_size: int = 32
    #: The links of a peer a seed looks at (and so the largest degree it believes: it counts
    #: only links both ends name, so a fake claim of thousands buys nothing anyway):
    #: preferential attachment gives a hub about 2 sqrt(N) links (119 of 10,000 peers, 195 of
    #: 100,000 in the simulator), so 1,024 leaves real hubs alone and bounds the table.
    max_degree: int = 1024
    #: Peers in one page of a seed's list (``zgossip peers`` reads them page by page):
    #: about 300 KB, well inside the 1 MiB frame.
    page_size: int = 5000
    #: Neighbours a peer asks to probe a neighbour that stopped answering it, before it
    #: reports it (SWIM's k: 3 is memberlist's IndirectChecks).
    helpers: int = 3
    #: Probes a node keeps out at once on others' behalf (each holds two sockets for up to a
    #: request timeout, and a client could ask for thousands); the rest are refused.
    max_probes: int = 64
    #: Subscriptions a peer's PUB remembers for links still to come: whoever subscribes picks
    #: the names, so the table is bounded; a link needs its entry only for a moment.
    max_subscribers: int = 4096
    #: Times a peer asks its neighbours for a message it missed before it gives it up.
    repair_tries: int = 3
    #: Gossip frames a PUB queues for a slow subscriber (and a SUB for a slow reader) before
    #: ZeroMQ drops (and gap repair makes up for the drop): bounds what one stalled or
    #: hostile subscriber can hold: 10,000 frames, at most a few MB.
    gossip_hwm: int = 10_000
    #: Bytes of one message a peer's PUB accepts from a subscriber: a real subscription is
    #: ``\x01`` and a topic of at most 22 bytes (the subscriber's id), and libzmq holds the
    #: CURVE handshake to the same limit (its INITIATE takes about 300 bytes). A stranger's
    #: 900 KB subscriptions took a peer from 28 to 384 MB (libzmq keeps them in a trie, a node
    #: per byte); a connection that sends a bigger one is dropped before it is stored.
    max_subscription: int = 1024
    #: Sockets a node may hold at once (ZMQ_MAX_SOCKETS, libzmq's default): neighbours,
    #: seeds and the probes out (two sockets each, as each DEALER with CurveZMQ on: its
    #: monitor says how the handshake went); one over it is refused, not a crash.
    max_sockets: int = 1023
    #: A peer remembers the neighbours it lost for dead, at most this many for this long
    #: (seconds), and pings them every ``recall_rounds`` liveness intervals: a partition
    #: looks like deaths from both sides, and once it heals nothing else would link the two
    #: sides again (each peer has its links). A really dead one costs a refused connection.
    max_recalled: int = 64
    recall_for: float = 600.0
    recall_rounds: int = 2
    #: Every this many liveness intervals a peer sends its digest to one peer it does not
    #: link to, drawn from its backups and the seeds' lists (memberlist's push/pull with a
    #: random member); 0: never. The overlay can split into parts in which every peer has
    #: its links, and nothing in a part then links across: half of 12 peers killed at
    #: once left the 6 survivors as two triangles in 2 runs of 2,000, every later message
    #: reaching half of them (`python -m benchmarks.parts`); a cut that heals after the
    #: recall gave up leaves two sides. An answer that brings messages we never had comes
    #: from another part: we link to it. Every 4 intervals while messages come or go (a
    #: connection and a digest a peer; at rest, see ``max_cross_rounds``): both split runs
    #: were one part again within 6 s of the kill at 1 s liveness (benchmarks/RESULTS.md,
    #: "Parts of the overlay that no link joins").
    cross_rounds: int = 4
    #: Calls from other threads (``broadcast``) waiting for the node's loop: a caller waits
    #: for room beyond this many, so a flood of broadcasts slows its source instead of
    #: stalling the loop (and liveness with it) or queueing without bound.
    max_pending: int = 1024
    #: Items (messages, events) a node holds for one asyncio consumer (``Peer.messages()``,
    #: ``events.stream()``) that has not read them yet: past it the oldest go, counted
    #: (``consumer.behind``). The node never waits for a consumer; this bounds what a slow
    #: one costs to about 10 MB (a message of the default size is well under 1 KB).
    stream_size: int = 10_000
    #: Seconds a node keeps quiet about a sender's bad input after saying it (a 100 KB
    #: history frame of 50,000 bad items wrote 50,000 lines), and about a client's refused
    #: handshakes (a client retries every 100 ms): then one event says how many came.
    bad_quiet: float = 1.0
    auth_quiet: float = 10.0
    #: bad.message lines a second at most over all senders: past it they count as one
    #: sender (a forged sender id may be new in every frame).
    bad_lines: int = 100
    #: A seed remembers the peers it removed (dead, left, revoked), at most this many for
    #: this long (seconds), so that ``zgossip members`` shows what became of them: about
    #: 100 bytes each.
    max_departed: int = 4096
    departed_for: float = 600.0
    #: Whether a peer keeps the member list of the whole network (what ``members()``,
    #: ``on_member``, ``members --via`` and queries read). Off, it keeps and passes on its
    #: own fact only, and drops the others': a simulator of N peers holds N^2 facts in one
    #: process (1,000 peers took 51 s with it, 3 without), so ``zgossip simulate`` keeps it
    #: off unless given ``--members``.
    member_list: bool = True
    #: Peers a peer's member list holds at most, itself and the dead and departed included
    #: (288 bytes each: benchmarks/RESULTS.md, "Members, tags and queries"): 100,000, ten
    #: times the largest network simulated, is 30 MB. Past it the oldest end is forgotten
    #: to make room, and a new peer is turned away only when all are alive.
    max_members: int = 100_000
    #: Seconds a member list keeps a dead or departed peer after its end (memberlist's
    #: GossipToTheDeadTime is 30 s, Serf's tombstones 24 h): long enough that every fact
    #: of its run still travelling, or held by a list cut off for a while, is older than
    #: its end; an hour of 100 deaths a minute is 6,000 entries.
    member_keep: float = 3600.0
    #: Queries a peer runs at once, for clients and its program: each holds a DEALER to
    #: every member it asks that is not a neighbour (two sockets with CurveZMQ), so 3 of
    #: ``query_reach`` 128 hold at most 768 of the 1,023 ``max_sockets``, leaving room for
    #: the links, seeds and probes: a fourth is refused, and said, until one ends.
    max_queries: int = 3
    #: Members one query asks at most: a query that matches more is refused, saying how
    #: many it matched (narrow it with tags), rather than asking a part at random.
    query_reach: int = 128
    #: Queries a second a peer answers from any one querier; past it the answer is busy
    #: (said in query.busy once a second): a query flood costs the flooded handler time.
    query_rate: float = 10.0
    #: Bytes (or characters) of one answer at most: a handler's bigger one is answered
    #: toolarge instead; 128 members asked, that is at most 2 MB on the way to a querier.
    max_answer: int = 16 * 1024
    #: A peer passes on the member facts that changed its list within this long together,
    #: one message a link (memberlist gossips every 200 ms): a join of a thousand peers
    #: a second costs each link one message for 50 facts, not 50; each hop waits this long
    #: at most.
    fact_delay: float = 0.05
    #: Peers a seed tells at once of a death it decided or a leave, besides the reporter:
    #: each passes it to its links, and the sums repair what that misses.
    fact_fanout: int = 3
    #: Monitors (``zgossip monitor``) attached to a node at once: each costs the node the
    #: encoding and sending of every event it wants; a handful is what people run.
    max_watchers: int = 16
    #: Events a node sends a monitor ahead of what it said it read: past it they are
    #: skipped (the monitor says how many it lost), so a slow or vanished monitor holds at
    #: most this many (a few MB) in the node's queues and never makes it wait.
    watch_window: int = 10_000
    #: A monitor says it still watches every second; one silent this long is let go.
    watch_for: float = 3.0
    #: A peer's own messages per second at most: ``broadcast`` waits beyond it. A quarter
    #: of what one peer forwards to 4 neighbours (benchmarks/RESULTS.md, "Config's
    #: numbers"), so one origin leaves every peer on its way room for the others and for
    #: liveness; faster, its PUB's queues overflow and most of what it logged as sent
    #: reaches no one.
    max_rate: float = 2000.0
    #: Messages a second a peer takes from any one origin but itself, as many at once: an
    #: honest origin sends max_rate at most, so twice that leaves room for bursts (a new
    #: link's history of 1,024, a repair). An origin past it does not pace itself (forged,
    #: or another implementation): its excess is dropped where it first arrives, said in
    #: gossip.throttled, instead of filling every peer's queues and starving the others.
    origin_rate: float = 4000.0
    #: Origins whose rate a peer keeps track of at once (about 100 bytes each).
    max_origins: int = 10_000
    #: How gossip spreads: "tree" pushes each message down an epidemic broadcast tree and
    #: announces its id on the other links (see :mod:`zgossip.protocol.tree`); "flood" pushes it
    #: down every link but the one it came on (each peer receives it once per link).
    dissemination: str = "tree"
    #: A peer announces the ids of the messages it received to its lazy links within this
    #: long, all of them in one frame, on the wake-up a later message brings once half of it
    #: has passed: a stream of messages costs no wake-up of its own for its announcements,
    #: and each announcement wakes each lazy neighbour once for several messages. With
    #: ``graft_timeout`` it is how long a message lost with a tree link takes to come
    #: another way. Shorter costs every message more CPU for little; longer delays what a
    #: dead tree link loses (the trade measured: benchmarks/RESULTS.md, "Config's numbers").
    announce_interval: float = 0.5
    #: How long an announced message may take to come whole before it is asked for (and
    #: the announcer's link grafted onto the tree): above the spread of time-to-all on a
    #: busy 2-core machine (its p99 at 100 processes: benchmarks/RESULTS.md, "Config's
    #: numbers"), so a copy on its way is seldom asked for twice.
    graft_timeout: float = 0.15
    #: Messages forwarded to one neighbour in one frame at most, when a turn of the loop
    #: forwards several (it reads 256 from a socket before it looks at the others): a
    #: frame then costs one send and one wake-up instead of one a message, and stays well
    #: within the 1 MiB frame limit for ordinary bodies (a frame is split past it). A batch
    #: of more is refused whole: 100,000 garbage items in one frame would each be a
    #: bad.message.
    max_batch: int = 64
    #: After a graft, asked or answered, the tree is broken nearby: a peer announces every
    #: ``hurry_interval`` for ``hurry_for`` seconds, so that each hop of a repair waits that
    #: rather than ``announce_interval`` (a network at rest pays nothing for it).
    hurry_interval: float = 0.1
    hurry_for: float = 5.0
    #: Ids one announcement carries at most (17 bytes each: about 70 KB): a peer at
    #: ``max_rate`` fills it in two seconds, so it goes early only in a flood.
    max_announce: int = 4096
    #: Announced ids a peer awaits at once (about 200 bytes each): a neighbour could
    #: announce ids of messages that do not exist; past it the oldest is given up.
    max_announced: int = 10_000
    #: Human log file (every line names its node) and optional JSON event log.
    log_file: Path | None = None
    json_log: Path | None = None
    #: Console verbosity: 0 prints the events a person follows, 1 adds liveness chatter.
    verbose: int = 0
    #: Console lines without the node's role and address (a tmux pane's title shows them).
    compact: bool = False
    #: CurveZMQ: this node's secret key file and the directory of the public certificates
    #: allowed in the network (see :mod:`zgossip.security`). Both or neither; neither keeps
    #: the network in the clear, as before.
    curve_secret: Path | None = None
    curve_allow: Path | None = None
    #: What a peer says of itself (``--tag KEY=VALUE``): text keys and values, 4 KiB in all
    #: (``wire.MAX_TAGS``); the seeds show them (``zgossip members``).
    tags: tuple[tuple[str, str], ...] = ()
    #: How often a node with CurveZMQ looks whether its allow directory changed (seconds;
    #: SIGHUP makes it look at once): a certificate added is admitted, and one removed has
    #: its connections refused and its links dropped, within this. A listing: cheap.
    keys_check: float = 1.0
    #: Serve Prometheus metrics on this port of the node's host (the ``metrics`` extra).
    metrics_port: int | None = None

    # -- presets, as memberlist's DefaultLocalConfig / DefaultLANConfig / DefaultWANConfig:
    # the timers for a kind of network; any field given as a keyword wins over the preset.

    @classmethod
    def local(cls, **overrides: Any) -> Config:
        """Every node on one machine (tests, demos): gossip every 0.05 s, a ping every 0.1 s,
        dead after 3 misses.

        Loopback answers within a millisecond, so a ping every 0.1 s still waits a hundred
        round trips for its pong, and a death shows within 0.3 s (the death window) instead
        of 39: a test awaits it in a second. memberlist's local preset shortens its timers
        for the same reason (probe timeout 500 -> 200 ms). Not for a real network: there a
        pause of a third of a second, a busy machine's or a congested link's, is a death.
        """
        return cls(
            **{"gossip_interval": 0.05, "liveness_interval": 0.1, "liveness_misses": 3} | overrides
        )

    @classmethod
    def lan(cls, **overrides: Any) -> Config:
        """Nodes on one network (the defaults, as ``Config()``): the assignment's numbers,
        gossip every 5 s, a ping every 13 s, dead after 3 misses (39 s of silence).

        A LAN's round trip is well under a millisecond, so those timers are about the load a
        node costs, not the network's delay.
        """
        return cls(**overrides)

    @classmethod
    def wan(cls, **overrides: Any) -> Config:
        """Nodes across distant networks (round trips of a few hundred ms, lossy paths):
        gossip every 5 s, a ping every 30 s, dead after 3 misses (90 s of silence).

        memberlist's WAN preset multiplies its probe timers for such links (probe timeout
        500 ms -> 3 s, probe interval 1 -> 5 s): a lost segment there stalls TCP for a
        retransmission timeout (a round trip and a margin, doubling with each loss in a
        row), and a route can flap for tens of seconds. A death window of 90 s rides that out
        instead of calling a live neighbour dead and relinking; a ping and a registration
        refresh every 30 s also cost a long (often paid-for) path less. An answer is still
        awaited ``request_timeout`` (2 s: several such round trips). Gossip keeps its 5 s:
        it is pushed, so its interval is about how much to say, not about the delay.
        """
        return cls(
            **{"gossip_interval": 5.0, "liveness_interval": 30.0, "liveness_misses": 3} | overrides
        )

    def __post_init__(self) -> None:
        for flag, seconds in (
            ("--gossip-interval", self.gossip_interval),
            ("--liveness-interval", self.liveness_interval),
        ):
            if not 0 < seconds < math.inf:  # nan and inf too: they crashed, or never fired
                raise ConfigError(f"{flag} must be a positive, finite number of seconds")
        if self.dissemination not in DISSEMINATIONS:
            raise ConfigError(f"--dissemination must be one of {', '.join(DISSEMINATIONS)}")
        if self.gossip_count < -1:
            raise ConfigError("--gossip-count must be -1 (without end), 0 (none) or more")
        if self.liveness_misses < 1:
            raise ConfigError("--liveness-misses must be at least 1")
        if self.links < 1:
            raise ConfigError("links must be at least 1")
        if self.cross_rounds < 0:
            raise ConfigError("cross_rounds must be 0 (never) or more")
        if self.passive_size < 0 or self.shuffle_size < 1 or self.shuffle_rounds < 1:
            raise ConfigError(
                "passive_size must be 0 or more, shuffle_size and shuffle_rounds at least 1"
            )
        if self.store_bytes < 0 or not 0 < self.store_age <= self.ml_max_age:
            # a frame handed over must still be remembered by the receiver's ML
            raise ConfigError("store_bytes must be 0 or more, store_age up to ml_max_age")
        if not 1 <= self.max_holes <= wire.MAX_HOLES:
            raise ConfigError(f"max_holes must be from 1 to {wire.MAX_HOLES}")
        if not 1 <= self.digest_origins <= wire.MAX_DIGEST:
            raise ConfigError(f"digest_origins must be from 1 to {wire.MAX_DIGEST}")
        curve_pair(self.curve_secret, self.curve_allow)
        try:
            object.__setattr__(self, "tags", wire.check_tags(self.tags))  # sorted, checked
        except wire.WireError as exc:
            raise ConfigError(f"--tag: {exc}") from None

    @property
    def quorum(self) -> int:
        """How many seeds a peer registers with: floor(n/2)+1."""
        return len(self.seeds) // 2 + 1

    @property
    def request_timeout(self) -> float:
        """How long to wait for a seed's or a node's answer before trying elsewhere."""
        return min(2.0, self.liveness_interval)

    @property
    def death_window(self) -> float:
        """How long a neighbour may stay silent before it is a suspect: misses x interval.
        Also how long a new link may take to come up."""
        return self.liveness_interval * self.liveness_misses

    @property
    def registration_ttl(self) -> float:
        """How long a seed keeps a registration that is not refreshed before it suspects
        the peer: two death windows (a peer refreshes three times in it: ``refresh_interval``)."""
        return 2 * self.death_window

    @property
    def refresh_interval(self) -> float:
        """How often a peer refreshes its registration at each seed (its heartbeat there,
        which brings it a fresh sample): three times within a ``registration_ttl``, and not more
        often than it pings: every 2 intervals at 3 misses. Every interval (as before), a
        seed at rest spent twice the CPU, each peer's refresh a wake-up (20 peers at
        ``--liveness-interval 1``: 0.38 -> 0.21 CPU s a seed a minute, 40 -> 21 wake-ups a
        second; a peer's own cost the same, the answers come with its pongs;
        benchmarks/RESULTS.md, "A network at rest")."""
        return max(self.liveness_interval, self.registration_ttl / 3)

    @property
    def suspicion_timeout(self) -> float:
        """How long a peer waits for its helpers' word on a suspect: they probe for a
        request timeout, and their answers need a moment more to come back."""
        return 2 * self.request_timeout

    @property
    def unreachable_for(self) -> float:
        """How long a peer does not link again to a neighbour that lives but does not answer
        it (a helper reached it): two death windows, for the way between them to mend."""
        return 2 * self.death_window

    @property
    def join_patience(self) -> float:
        """How long a peer waits to join (a majority of the seeds answering) before it says
        why it is still waiting, and how often it says so again: a few request timeouts."""
        return 3 * self.request_timeout

    @property
    def recall_interval(self) -> float:
        """How often a peer pings the neighbours it lost for dead (see ``max_recalled``)."""
        return self.recall_rounds * self.liveness_interval

    @property
    def max_cross_rounds(self) -> int:
        """A peer at rest asks across half as often after each ask, down to one every this
        many intervals (see ``cross_rounds``): half the store's age, so that a part cut
        off from messages is still found while the others keep them. 4 at the default
        timers (no slower), 60 at a 1 s liveness (an ask every 4 s cost a peer at rest 8-20%
        more CPU)."""
        return max(self.cross_rounds, int(self.store_age / 2 / self.liveness_interval))

    @property
    def cross_age(self) -> float:
        """A peer answers the digest of one it does not link to (see ``cross_rounds``)
        with the messages it has held this long: by then the asker's own links, their
        gossip and digests, would have brought those to it unless it is cut off from us;
        a newer one may be on its way still, and would link the two for nothing."""
        return 2 * self.liveness_interval

    @property
    def digest_spacing(self) -> float:
        """How often at most a peer answers one neighbour's anti-entropy digests (each
        costs a look through its store): a neighbour sends one a liveness interval, and
        one a gap delay at most when its tree gives a message up."""
        return self.gap_delay / 2

    @property
    def gap_delay(self) -> float:
        """How long a gap in an origin's sequence numbers must last before it is asked
        for: gossip comes by several paths, out of order."""
        return self.request_timeout / 2
