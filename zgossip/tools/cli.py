"""The ``zgossip`` command: parse the options, build a Config, run the node. Nothing else."""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import json
import math
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, overload

import typer

from zgossip import __version__, build
from zgossip.protocol import wire
from zgossip.protocol.config import Address, Config, ConfigError
from zgossip.protocol.wire import MAX_BODY, PeerInfo
from zgossip.seedlist import parse_seeds

if TYPE_CHECKING:  # the commands import what needs pyzmq themselves: simulate needs none
    from zgossip.node import Node
    from zgossip.peer import Peer
    from zgossip.security import Curve
    from zgossip.seed import Seed
    from zgossip.simulate import Partition

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="A gossip network on ZeroMQ: seeds bootstrap it, peers gossip and watch each other.",
)

ConfigPath = Annotated[Path, typer.Option("--config", help="The seed list: one IP:PORT a line.")]
Host = Annotated[
    str | None,
    typer.Option(help="IP to bind and advertise. [default: the seed's config entry / 127.0.0.1]"),
]
GOSSIP_INTERVAL = "Seconds between a peer's own gossip messages."
GOSSIP_COUNT = "Messages a peer creates (0: none; -1: without end)."
LIVENESS_INTERVAL = "Seconds between pings to each neighbour (and seed refreshes)."
LIVENESS_MISSES = "Unanswered pings in a row after which a neighbour is dead."
GossipInterval = Annotated[float, typer.Option(help=GOSSIP_INTERVAL, min=0.001)]
GossipCount = Annotated[int, typer.Option(help=GOSSIP_COUNT, min=-1)]
#: A seed creates no messages: it takes the gossip flags so that one set of timer flags
#: serves every node (the launcher, scripts), and says so in its help.
_FOR_PEERS = (
    "Peers' only: a seed creates no messages (it takes the flag so that seeds and peers "
    "share one set of flags)."
)
SeedGossipInterval = Annotated[float, typer.Option(help=_FOR_PEERS, min=0.001)]
SeedGossipCount = Annotated[int, typer.Option(help=_FOR_PEERS, min=-1)]
LivenessInterval = Annotated[float, typer.Option(help=LIVENESS_INTERVAL, min=0.001)]
LivenessMisses = Annotated[int, typer.Option(help=LIVENESS_MISSES, min=1)]
JsonLog = Annotated[Path | None, typer.Option(help="Append one JSON event a line to this file.")]
Verbose = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        metavar="",
        show_default=False,  # a flag, no value
        help="Also print liveness chatter.",
    ),
]


class Spread(StrEnum):
    """``--dissemination``: the values of ``Config.dissemination``."""

    tree = "tree"
    flood = "flood"


Dissemination = Annotated[
    Spread,
    typer.Option(
        help="How gossip spreads: down an epidemic broadcast tree, announcing ids on the "
        "other links (tree), or whole down every link (flood)."
    ),
]
Compact = Annotated[
    bool,
    typer.Option(
        "--compact",
        help="Console lines without the node's role and address (for a window or a tmux "
        "pane whose title shows them).",
    ),
]
MetricsPort = Annotated[
    int | None,
    typer.Option(
        help="Serve Prometheus metrics on this port of the node's address, at /metrics "
        "(needs the metrics extra: prometheus_client).",
        min=1,
        max=65535,
    ),
]
CurveSecret = Annotated[
    Path | None,
    typer.Option(
        "--curve-secret",
        help="CurveZMQ: this node's secret key file (from zgossip keygen). With --curve-allow, "
        "encrypts every connection and lets in only the allowed keys.",
    ),
]
CurveAllow = Annotated[
    Path | None,
    typer.Option(
        "--curve-allow",
        help="CurveZMQ: the directory of the public certificates (*.key) allowed in the "
        "network; a node's certificate also gives its address. Needs --curve-secret.",
    ),
]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"zgossip: error: {message}", err=True)
    raise typer.Exit(code)


def _seeds(config: Path) -> list[Address]:
    try:
        return parse_seeds(config)
    except ConfigError as exc:
        _fail(str(exc), 2)


def _address(host: str, port: int) -> Address:
    try:
        return Address.parse(f"{host}:{port}")
    except ValueError as exc:
        _fail(f"--host: {exc}", 2)


def _run(node: Node) -> None:
    """Serve until SIGINT or SIGTERM, then leave cleanly and exit 0. SIGHUP is a hangup for
    a node on a terminal (it leaves, as the default action would kill it) and, for one
    without (a daemon), a request to read the allow directory again."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        node.stop()

    from zgossip.node import BindError

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        if sys.stdin.isatty() or sys.stdout.isatty():  # its terminal went away: leave
            node.stop()
        else:  # a daemon's SIGHUP, sent on purpose: read the allow directory again
            node.reload_keys()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    try:
        node.run()
    except BindError as exc:
        _fail(str(exc), 1)


def _build(
    address: Address,
    seeds: list[Address],
    *,
    gossip_interval: float,
    gossip_count: int,
    liveness_interval: float,
    liveness_misses: int,
    log_file: Path,
    json_log: Path | None,
    verbose: int,
    curve_secret: Path | None,
    curve_allow: Path | None,
    metrics_port: int | None,
    compact: bool,
    dissemination: Spread = Spread.tree,
    tags: tuple[tuple[str, str], ...] = (),
) -> Config:
    try:
        return Config(
            seeds=seeds,
            address=address,
            gossip_interval=gossip_interval,
            gossip_count=gossip_count,
            liveness_interval=liveness_interval,
            liveness_misses=liveness_misses,
            log_file=log_file,
            json_log=json_log,
            verbose=verbose,
            curve_secret=curve_secret,
            curve_allow=curve_allow,
            metrics_port=metrics_port,
            compact=compact,
            dissemination=dissemination.value,
            tags=tags,
        )
    except ConfigError as exc:
        _fail(str(exc), 2)


def _tags(given: list[str], what: str = "--tag") -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` words as pairs, checked: a one-line error naming ``what``, exit 2."""
    pairs = []
    for tag in given:
        key, equals, value = tag.partition("=")
        if not equals:
            _fail(f"{what} {tag!r}: expected KEY=VALUE", 2)
        pairs.append((key, value))
    try:
        return wire.check_tags(pairs)
    except wire.WireError as exc:
        _fail(f"{what}: {exc}", 2)


@app.command()
def seed(
    port: Annotated[int, typer.Option(help="Port of the seed's ROUTER.", min=1, max=65535)],
    host: Host = None,
    config: ConfigPath = Path("config.txt"),
    gossip_interval: SeedGossipInterval = 5.0,
    gossip_count: SeedGossipCount = 10,
    liveness_interval: LivenessInterval = 13.0,
    liveness_misses: LivenessMisses = 3,
    log_file: Annotated[Path, typer.Option(help="Human log file.")] = Path("seed_network.log"),
    json_log: JsonLog = None,
    verbose: Verbose = 0,
    curve_secret: CurveSecret = None,
    curve_allow: CurveAllow = None,
    metrics_port: MetricsPort = None,
    compact: Compact = False,
) -> None:
    """Run a seed: it keeps the list of live peers and hands it to peers that register."""
    from zgossip.seed import Seed

    seeds = _seeds(config)
    if host is None:
        hosts = {s.host for s in seeds if s.port == port}
        host = hosts.pop() if len(hosts) == 1 else "127.0.0.1"
    address = _address(host, port)
    if address not in seeds:
        typer.echo(
            f"zgossip: warning: {address} is not listed in {config}; peers will not find this seed",
            err=True,
        )
    cfg = _build(
        address, seeds, gossip_interval=gossip_interval, gossip_count=gossip_count,
        liveness_interval=liveness_interval, liveness_misses=liveness_misses,
        log_file=log_file, json_log=json_log, verbose=verbose,
        curve_secret=curve_secret, curve_allow=curve_allow, metrics_port=metrics_port,
        compact=compact,
    )  # fmt: skip
    _run(_open(Seed, cfg))


@app.command()
def peer(
    port: Annotated[
        int | None,
        typer.Option(
            help="Port of the peer's ROUTER; its identity is IP:PORT. Asked for when "
            "missing and stdin is a terminal.",
            min=1,
            max=65535,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="IP to bind and advertise.")] = "127.0.0.1",
    config: ConfigPath = Path("config.txt"),
    gossip_interval: GossipInterval = 5.0,
    gossip_count: GossipCount = 10,
    liveness_interval: LivenessInterval = 13.0,
    liveness_misses: LivenessMisses = 3,
    log_file: Annotated[Path, typer.Option(help="Human log file.")] = Path("peer_network.log"),
    json_log: JsonLog = None,
    verbose: Verbose = 0,
    curve_secret: CurveSecret = None,
    curve_allow: CurveAllow = None,
    metrics_port: MetricsPort = None,
    compact: Compact = False,
    dissemination: Dissemination = Spread.tree,
    stdin: Annotated[
        bool,
        typer.Option(
            "--stdin",
            help="Gossip each line read from stdin as a message (besides the automatic ones, "
            "which --gossip-count 0 turns off).",
        ),
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag",
            metavar="KEY=VALUE",
            help="What this peer says of itself (repeatable; 4 KiB in all): the seeds show it "
            "(zgossip members).",
        ),
    ] = None,
) -> None:
    """Run a peer: register with the seeds, link up, gossip, watch the neighbours."""
    from zgossip.peer import Peer

    seeds = _seeds(config)
    if port is None:
        if not sys.stdin.isatty():
            _fail("--port is required when stdin is not a terminal", 2)
        port = _ask_port()
    address = _address(host, port)
    cfg = _build(
        address, seeds, gossip_interval=gossip_interval, gossip_count=gossip_count,
        liveness_interval=liveness_interval, liveness_misses=liveness_misses,
        log_file=log_file, json_log=json_log, verbose=verbose,
        curve_secret=curve_secret, curve_allow=curve_allow, metrics_port=metrics_port,
        compact=compact, dissemination=dissemination, tags=_tags(tag or []),
    )  # fmt: skip
    node = _open(Peer, cfg)
    node.answer_info()
    if stdin:
        threading.Thread(target=_gossip_lines, args=(node,), daemon=True).start()
    _run(node)


def _ask_port() -> int:
    """The port, asked at the terminal until it is one (a word or 99999 is asked again)."""
    while True:
        port: int = typer.prompt("Port for this peer", type=int)
        if 1 <= port <= 65535:
            return port
        typer.echo(f"Error: {port} is not a port from 1 to 65535.", err=True)


def _gossip_lines(peer: Peer) -> None:
    """Broadcast every non-empty line of stdin until it ends or the peer stops."""
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        if not text:
            continue
        try:
            peer.broadcast(text)
        except ValueError as exc:
            typer.echo(f"zgossip: line not sent: {exc}", err=True)
        except RuntimeError:  # stopped
            return


@overload
def _open(kind: type[Seed], cfg: Config) -> Seed: ...
@overload
def _open(kind: type[Peer], cfg: Config) -> Peer: ...
def _open(kind: type[Seed] | type[Peer], cfg: Config) -> Node:
    try:
        return kind(cfg, console=True)
    except ConfigError as exc:  # the CURVE keys
        _fail(str(exc), 2)
    except OSError as exc:  # the log files
        _fail(f"{exc.filename}: {exc.strerror}", 2)


@app.command()
def peers(
    config: ConfigPath = Path("config.txt"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    links: Annotated[
        bool, typer.Option("--links", help="Also ask every listed peer for its neighbours.")
    ] = False,
    dot: Annotated[
        Path | None,
        typer.Option(
            help="Write the overlay (every peer's links) as Graphviz DOT to this file ('-': "
            "standard output, instead of the table)."
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Draw the overlay and its degree distribution (log-log) into this PNG "
            "(needs the plot extra: matplotlib, networkx)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the nodes.", min=0.01)] = 2.0,
    curve_secret: CurveSecret = None,
    curve_allow: CurveAllow = None,
) -> None:
    """Ask every seed of the config for its peer list and print it; exit 1 if none answers."""
    from zgossip.tools.survey import query_links, query_peers

    seeds = [str(s) for s in _seeds(config)]
    curve = _curve(curve_secret, curve_allow)
    for unknown in [s for s in seeds if curve is not None and s not in curve.servers]:
        typer.echo(
            f"zgossip: warning: no certificate for seed {unknown} in {curve_allow}", err=True
        )
    answers = query_peers(seeds, timeout, curve)
    if all(infos is None for infos in answers.values()):
        _no_seed_answered(config, timeout, curve)
    overlay: dict[str, tuple[str, ...] | None] | None = None
    if links or dot is not None or plot is not None:
        listed = sorted({i.id for infos in answers.values() for i in infos or ()})
        overlay = query_links(listed, timeout, curve)
    if _is_stdout(dot):
        pass  # standard output is the DOT's: `zgossip peers --dot - | dot -Tsvg`
    elif as_json:
        typer.echo(json.dumps(_document(answers, overlay), indent=2))
    else:
        _print_lists(answers)
        if links and overlay is not None:
            _print_links(overlay)
    if overlay is not None:
        _draw(overlay, dot, plot)


@app.command()
def members(
    config: ConfigPath = Path("config.txt"),
    via: Annotated[
        str | None,
        typer.Option(metavar="IP:PORT", help="Ask this one peer for its list (no seed needed)."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="Only peers with this tag; VALUE may be a pattern such as 'db*' (repeatable).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.", min=0.01)] = 2.0,
    curve_secret: CurveSecret = None,
    curve_allow: CurveAllow = None,
) -> None:
    """One row a peer: alive, suspect, left, dead (or revoked, as a seed says), since when,
    and its tags; as the seeds of the config see it together (the newest news of each
    wins), or as one peer's member list holds it (--via). Exit 1 if none answers."""
    from zgossip.protocol.members import matches
    from zgossip.tools.survey import query_members

    wanted = _tags(tag or [])
    asked = [_target(via)] if via is not None else [str(s) for s in _seeds(config)]
    curve = _curve(curve_secret, curve_allow)
    rows, silent = query_members(asked, timeout, curve)
    if len(silent) == len(asked):
        if via is None:
            _no_seed_answered(config, timeout, curve)
        _fail(f"{asked[0]} did not answer within {timeout} s", 1)
    rows = [row for row in rows if matches(row.tags, wanted)]
    if as_json:
        document: dict[str, object] = {
            "members": [
                {"peer": r.peer, "state": r.state, "since": r.since, "tags": dict(r.tags)}
                | ({} if via is not None else {"seeds": list(r.seeds)})
                for r in rows
            ],
        }
        document |= {"via": asked[0]} if via is not None else {"silent_seeds": silent}
        typer.echo(json.dumps(document, indent=2))
        return
    table: list[tuple[str, ...]] = [("PEER", "STATE", "SINCE", "SEEDS", "TAGS")]
    for row in sorted(rows, key=lambda r: _sort_key(r.peer)):
        since = datetime.fromtimestamp(row.since).strftime("%Y-%m-%d %H:%M:%S")
        tags = " ".join(f"{key}={value}" for key, value in row.tags)
        table.append((row.peer, row.state, since, f"{len(row.seeds)} of {len(asked)}", tags))
    if len(table) == 1:
        table.append(("(no peers)", "", "", "", ""))
    if via is not None:  # one list: no seeds to count
        table = [(*row[:3], row[4]) for row in table]
    _table(table)
    for seed in silent:
        typer.echo(f"zgossip: warning: seed {seed} did not answer within {timeout} s", err=True)


def _sort_key(peer: str) -> tuple[int, ...]:
    address = Address.parse(peer)
    return (*map(int, address.host.split(".")), address.port)


Target = Annotated[str, typer.Argument(metavar="IP:PORT", help="The node's address.")]
Timeout = Annotated[float, typer.Option(help="Seconds to wait for the node.", min=0.01)]


def _target(text: str) -> str:
    try:
        return str(Address.parse(text))
    except ValueError as exc:
        _fail(f"IP:PORT: {exc}", 2)


@app.command()
def monitor(
    target: Target,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON event log's lines instead.")
    ] = False,
    event: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this event (a name or a pattern such as 'gossip.*'); may be repeated."
        ),
    ] = None,
    verbose: Verbose = 0,
    timeout: Timeout = 3.0,
    curve_secret: CurveSecret = None,
    curve_allow: CurveAllow = None,
) -> None:
    """Stream a running node's events as they happen, until it stops (exit 0) or stops
    answering (exit 1)."""
    from zgossip.events import Stamps, console_line, wants_colour, who
    from zgossip.protocol import records
    from zgossip.tools.survey import NoAnswer, follow

    address = _target(target)
    curve = _curve(curve_secret, curve_allow)
    coloured, stamps = wants_colour(sys.stdout), Stamps()
    wanted = tuple(event or ())
    asked = (*wanted, "stopped") if wanted else ()  # to end when the node does
    try:
        for lost, events in follow(address, asked, timeout, curve):
            if lost < 0:
                typer.echo("zgossip: attached anew (the node let this monitor go, or it "
                           "restarted): events meanwhile are lost", err=True)  # fmt: skip
            elif lost:
                typer.echo(f"zgossip: {lost} event(s) lost: this monitor fell behind", err=True)
            stopped = False
            for line, text in events:
                record = json.loads(line)
                name = record["event"]
                stopped = stopped or name == "stopped"
                if wanted and not any(fnmatch.fnmatchcase(name, p) for p in wanted):
                    continue
                if as_json:
                    sys.stdout.write(line + "\n")
                    continue
                kind = records.KINDS.get(name)
                if kind is not None and kind.CHATTER and not verbose:
                    continue
                colour = "" if kind is None else kind.COLOUR
                node = who(str(record["role"]), str(record["node"]))
                when = stamps(float(record["ts"]))[11:]
                sys.stdout.write(console_line(when, node, name, colour, text, coloured))
            sys.stdout.flush()
            if stopped:
                return
    except NoAnswer as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        return


@app.command()
def send(
    via: Annotated[str, typer.Option(metavar="IP:PORT", help="The running peer that gossips it.")],
    text: Annotated[
        str | None, typer.Argument(help="The message. Without it, each line of stdin is one.")
    ] = None,
    timeout: Timeout = 3.0,
    curve_secret: CurveSecret = None,
    curve_allow: CurveAllow = None,
) -> None:
    """Ask a running peer to gossip a message as its own; say when it took it. Without
    CurveZMQ a peer takes it only from its own host; with it, from any allowed key."""
    from zgossip.tools.survey import NoAnswer, say

    address = _target(via)
    curve = _curve(curve_secret, curve_allow)
    lines = [text] if text is not None else (line.rstrip("\r\n") for line in sys.stdin)
    for line in lines:
        if not line:
            continue
        if len(line) > MAX_BODY:
            _fail(f"a message is at most {MAX_BODY} characters", 2)
        try:
            message_id = say(address, line, timeout, curve)
        except NoAnswer as exc:
            _fail(str(exc), 1)
        typer.echo(f"{address} took it: gossip {message_id}")


@app.command()
def query(
    via: Annotated[str, typer.Option(metavar="IP:PORT", help="The running peer that asks.")],
    name: Annotated[str, typer.Argument(help="The query: which handler answers it.")],
    payload: Annotated[str, typer.Argument(help="What the handlers are given.")] = "",
    tag: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="Only members with this tag; VALUE may be a pattern such as 'db*' (repeatable).",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds the query may run at most.", min=0.01, max=3600)
    ] = 5.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON object a line: each answer, then the end.")
    ] = False,
    curve_secret: CurveSecret = None,
    curve_allow: CurveAllow = None,
) -> None:
    """Ask every alive member whose tags match (through a running peer, which asks them
    directly) and print each answer as it comes; end as soon as all answered or are gone,
    or at the timeout, naming those that did not answer. Trusted clients only, as send."""
    from zgossip.tools.survey import NoAnswer
    from zgossip.tools.survey import query as ask

    address = _target(via)
    curve = _curve(curve_secret, curve_allow)
    try:
        request = wire.Ask(name, payload, _tags(tag or []), timeout)
        wire.decode(wire.encode(request))
    except wire.WireError as exc:
        _fail(str(exc), 2)
    try:
        for message in ask(address, request, curve):
            if isinstance(message, wire.Answered):
                text = wire.text(message.payload)
                if as_json:
                    document = {
                        "peer": message.peer,
                        "status": message.status,
                        "payload": text,
                        "took": message.took,
                    }
                    typer.echo(json.dumps(document))
                else:
                    typer.echo(f"{message.peer}  {message.status}  {message.took:.3f}s  {text}")
            elif as_json:
                ended = {
                    "ended": True,
                    "asked": message.expected,
                    "missing": list(message.missing),
                    "gone": list(message.gone),
                    "timed_out": message.timed_out,
                }
                typer.echo(json.dumps(ended))
            else:
                answered = message.expected - len(message.missing) - len(message.gone)
                how = "timed out" if message.timed_out else "done"
                typer.echo(f"{how}: {answered} of {message.expected} answered", err=True)
                if message.missing:
                    typer.echo(f"no answer from: {', '.join(message.missing)}", err=True)
                if message.gone:
                    typer.echo(f"gone before answering: {', '.join(message.gone)}", err=True)
    except NoAnswer as exc:
        _fail(str(exc), 1)


@app.command()
def tag(
    via: Annotated[str, typer.Option(metavar="IP:PORT", help="The running peer to tag.")],
    tags: Annotated[
        list[str] | None, typer.Argument(metavar="KEY=VALUE...", help="Tags to set.")
    ] = None,
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", metavar="KEY", help="A tag to remove (repeatable)."),
    ] = None,
    timeout: Timeout = 3.0,
    curve_secret: CurveSecret = None,
    curve_allow: CurveAllow = None,
) -> None:
    """Set (and drop) a running peer's tags, keeping the others; print all of them as they
    are then. Without CurveZMQ a peer takes it only from its own host; with it, from any
    allowed key."""
    from zgossip.tools.survey import NoAnswer
    from zgossip.tools.survey import tag as ask

    address = _target(via)
    curve = _curve(curve_secret, curve_allow)
    given, dropped = _tags(tags or [], "tag"), tuple(drop or [])
    try:
        now = ask(address, given, dropped, timeout, curve)
    except NoAnswer as exc:
        _fail(str(exc), 1)
    shown = " ".join(f"{key}={value}" for key, value in now) or "(none)"
    typer.echo(f"{address} tags: {shown}")


def _no_seed_answered(config: Path, timeout: float, curve: Curve | None) -> NoReturn:
    """No seed answered: why that may be (a CURVE network refuses a client without keys
    at the handshake, which looks the same from here)."""
    hint = (
        "if the network runs CurveZMQ, give --curve-secret and --curve-allow"
        if curve is None
        else f"is this client's key in the seeds' allow directories ({curve.allow} here)?"
    )
    _fail(f"no seed of {config} answered within {timeout} s ({hint})", 1)


def _curve(secret: Path | None, allow: Path | None) -> Curve | None:
    from zgossip import security

    try:
        return security.load(secret, allow)
    except ConfigError as exc:
        _fail(str(exc), 2)


@app.command()
def keygen(
    directory: Annotated[
        Path, typer.Option("--dir", help="Directory to write the key pair into.")
    ] = Path("."),
    address: Annotated[
        str | None,
        typer.Option(
            help="IP:PORT of the node (seed or peer) the keys are for: writes IP-PORT.key "
            "(the public certificate, naming the address) and IP-PORT.key_secret."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="A name for a client's keys instead (e.g. for zgossip peers): writes "
            "NAME.key and NAME.key_secret."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing keys.")] = False,
) -> None:
    """Write a CURVE key pair. Put every .key into the allow directory of every node; keep
    each .key_secret for its own node alone."""
    from zgossip import security

    where = None
    if address is not None:
        try:
            where = Address.parse(address)
        except ValueError as exc:
            _fail(f"--address: {exc}", 2)
    try:
        public, secret = security.keygen(directory, address=where, name=name, force=force)
    except ConfigError as exc:
        _fail(str(exc), 2)
    typer.echo(f"public certificate: {public}")
    typer.echo(f"secret key:         {secret}")


def _document(
    answers: dict[str, tuple[PeerInfo, ...] | None],
    overlay: dict[str, tuple[str, ...] | None] | None,
) -> dict[str, object]:
    seeds = {
        seed: None if infos is None else [
            {"peer": i.id, "pub": i.pub, "degree": i.degree, "since": i.since} for i in infos
        ]
        for seed, infos in answers.items()
    }  # fmt: skip
    document: dict[str, object] = {"seeds": seeds}
    if overlay is not None:
        document["links"] = {p: None if n is None else list(n) for p, n in overlay.items()}
    return document


def _print_lists(answers: dict[str, tuple[PeerInfo, ...] | None]) -> None:
    rows = [("SEED", "PEER", "DEGREE", "REGISTERED SINCE", "PUB")]
    for seed, infos in answers.items():
        if infos is None:
            rows.append((seed, "(no answer)", "", "", ""))
        elif not infos:
            rows.append((seed, "(no peers)", "", "", ""))
        for info in sorted(infos or (), key=lambda i: Address.parse(i.id).port):
            since = datetime.fromtimestamp(info.since).strftime("%Y-%m-%d %H:%M:%S")
            rows.append((seed, info.id, str(info.degree), since, info.pub))
    _table(rows)
    typer.echo(
        "DEGREE: the links both ends named to the seed at their last refreshes (at most a "
        "liveness interval ago); --links asks the peers now"
    )


def _print_links(overlay: dict[str, tuple[str, ...] | None]) -> None:
    typer.echo()
    rows = [("PEER", "DEGREE", "NEIGHBOURS")]
    for peer, neighbours in overlay.items():
        if neighbours is None:
            rows.append((peer, "?", "(no answer)"))
        else:
            rows.append((peer, str(len(neighbours)), " ".join(sorted(neighbours))))
    _table(rows)


def _table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` as aligned columns, the first row as the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _is_stdout(path: Path | None) -> bool:
    """Whether a file option was given as ``-``: standard output."""
    return path is not None and str(path) == "-"


def _draw(overlay: dict[str, tuple[str, ...] | None], dot: Path | None, plot: Path | None) -> None:
    from zgossip.tools.plot import PlotUnavailable, plot_overlay
    from zgossip.tools.survey import to_dot

    try:
        if _is_stdout(dot):
            typer.echo(to_dot(overlay), nl=False)
        elif dot is not None:
            dot.write_text(to_dot(overlay), encoding="utf-8")
            typer.echo(f"wrote {dot}", err=True)
        if plot is not None:
            plot_overlay(overlay, plot)
            typer.echo(f"wrote {plot}", err=True)
    except PlotUnavailable as exc:
        _fail(str(exc), 1)
    except OSError as exc:
        _fail(f"{exc.filename}: {exc.strerror}", 1)


@app.command()
def simulate(
    nodes: Annotated[int, typer.Option(help="Peers that join, one after the other.", min=1)] = 1000,
    seeds: Annotated[int, typer.Option(help="Seeds they register with.", min=1)] = 3,
    messages: Annotated[
        int, typer.Option(help="Messages broadcast once the network stands.", min=0)
    ] = 20,
    warmup: Annotated[
        int,
        typer.Option(
            help="Messages broadcast before the failure, left out of the summary: the "
            "broadcast tree forms on them.",
            min=0,
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same run.")] = 1,
    fail: Annotated[
        float,
        typer.Option(help="Fraction of the peers killed at once (kill -9).", min=0.0, max=1.0),
    ] = 0.0,
    fail_at: Annotated[
        float | None,
        typer.Option(help="When (simulated seconds). [default: once the network settled]"),
    ] = None,
    restart_after: Annotated[
        float | None,
        typer.Option(help="The killed peers start again (afresh) this many seconds later.", min=0),
    ] = None,
    loss: Annotated[
        float, typer.Option(help="Chance that any one delivery is lost.", min=0.0, max=1.0)
    ] = 0.0,
    latency: Annotated[
        float, typer.Option(help="One-way latency of a delivery, in milliseconds.", min=0.0)
    ] = 5.0,
    jitter: Annotated[
        float,
        typer.Option(
            help="Each delivery's latency varies by up to this fraction.", min=0.0, max=1.0
        ),
    ] = 0.2,
    partition: Annotated[
        list[str] | None,
        typer.Option(
            help="START:END[:FRACTION]: from START to END (simulated seconds) nothing crosses "
            "between FRACTION (0.5) of the nodes and the rest. May be given more than once."
        ),
    ] = None,
    stall: Annotated[
        float,
        typer.Option(
            help="Fraction of the peers stopped (SIGSTOP) at --fail-at.", min=0.0, max=1.0
        ),
    ] = 0.0,
    stall_for: Annotated[
        float, typer.Option(help="Seconds the stalled peers stay stopped.", min=0.0)
    ] = 0.0,
    join_interval: Annotated[
        float, typer.Option(help="Seconds between two peers' joins.", min=0.0)
    ] = 0.005,
    message_interval: Annotated[
        float, typer.Option(help="Seconds between two messages.", min=0.0)
    ] = 0.1,
    drain: Annotated[
        float, typer.Option(help="Seconds the run goes on after the last message.", min=0.0)
    ] = 5.0,
    liveness_interval: LivenessInterval = 13.0,
    liveness_misses: LivenessMisses = 3,
    dissemination: Dissemination = Spread.tree,
    events: Annotated[
        Path | None,
        typer.Option(help="Write the simulated nodes' JSON event log (as --json-log) here."),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Draw each message's delivery and the overlay's degree distribution into "
            "this PNG (needs the plot extra: matplotlib)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
    members: Annotated[
        bool,
        typer.Option(
            "--members",
            help="Every peer keeps the member list of the whole network, as real peers do "
            "(N^2 facts in one process: slow past a few thousand peers).",
        ),
    ] = False,
) -> None:
    """Run the real protocol on many simulated nodes in one process, on a simulated clock
    and network: reliability, hops, delay, redundancy, false and true deaths."""
    import resource
    import time

    from zgossip.simulate import Scenario, Simulation, summary_json, summary_lines

    scenario = Scenario(
        nodes=nodes, seeds=seeds, messages=messages, warmup=warmup, seed=seed,
        latency=latency / 1000.0, jitter=jitter, loss=loss, fail=fail, fail_at=fail_at,
        restart_after=restart_after, stall=stall, stall_for=stall_for,
        partitions=[_partition(text) for text in partition or ()],
        join_interval=join_interval, message_interval=message_interval, drain=drain,
        liveness_interval=liveness_interval, liveness_misses=liveness_misses, members=members,
        options={"dissemination": dissemination.value},
    )  # fmt: skip
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            log = (
                None if events is None else stack.enter_context(events.open("w", encoding="utf-8"))
            )
            simulation = Simulation(scenario, log)
            summary = simulation.run()
        if plot is not None:
            from zgossip.tools.plot import PlotUnavailable, plot_simulation

            try:
                delays, live = simulation.delays(), summary.live
                plot_simulation(delays, live, simulation.degrees(), plot)
                typer.echo(f"wrote {plot}", err=True)
            except PlotUnavailable as exc:
                _fail(str(exc), 1)
    except OSError as exc:
        _fail(f"{exc.filename}: {exc.strerror}", 2)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    if as_json:
        typer.echo(summary_json(summary))
    else:
        typer.echo("\n".join(summary_lines(summary)))
    typer.echo(f"wall time {wall:.1f} s, peak memory {peak:.0f} MB", err=True)


def _partition(text: str) -> Partition:
    from zgossip.simulate import Partition

    parts = text.split(":")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or not all(math.isfinite(n) for n in numbers):
        _fail(f"--partition: expected START:END[:FRACTION] in seconds, got {text!r}", 2)
    start, end, *rest = numbers
    fraction = rest[0] if rest else 0.5
    if not 0 <= start < end or not 0 < fraction < 1:
        _fail(f"--partition: expected 0 <= START < END and 0 < FRACTION < 1, got {text!r}", 2)
    return Partition(start, end, fraction)


tmux_app = typer.Typer(
    no_args_is_help=True,
    help="Run a whole network in one tmux session, a pane a node (bin/zgossip-tmux).",
)
app.add_typer(tmux_app, name="tmux")
Session = Annotated[str, typer.Option(help="The tmux session's name.")]


@tmux_app.command("up")
def tmux_up(
    peers: Annotated[int, typer.Option(help="Peers to start.", min=0)] = 4,
    config: ConfigPath = Path("config.txt"),
    session: Session = "zgossip",
    base_port: Annotated[
        int, typer.Option(help="Port of the first peer; the others follow.", min=1, max=65535)
    ] = 6001,
    log_dir: Annotated[
        Path | None,
        typer.Option(
            help="Write every node's logs here (and its JSON event log, ROLE-IP-PORT.jsonl)."
        ),
    ] = None,
    detach: Annotated[
        bool,
        typer.Option("--detach", help="Do not attach (the default when stdin is no terminal)."),
    ] = False,
    gossip_interval: Annotated[float | None, typer.Option(help=GOSSIP_INTERVAL, min=0.001)] = None,
    gossip_count: Annotated[int | None, typer.Option(help=GOSSIP_COUNT, min=-1)] = None,
    liveness_interval: Annotated[
        float | None, typer.Option(help=LIVENESS_INTERVAL, min=0.001)
    ] = None,
    liveness_misses: Annotated[int | None, typer.Option(help=LIVENESS_MISSES, min=1)] = None,
    verbose: Verbose = 0,
    peer_flags: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[-- PEER-FLAGS...]",
            help="After --: more flags for every peer.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start the seeds of the config, then the peers on ports P, P+1, ..., a pane each; the
    timer flags and -v go to seeds and peers alike. Exit 1 when a node fails to start."""
    from zgossip.tools import launcher

    node_flags: list[str] = []
    for flag, value in (
        ("--gossip-interval", gossip_interval),
        ("--gossip-count", gossip_count),
        ("--liveness-interval", liveness_interval),
        ("--liveness-misses", liveness_misses),
    ):
        if value is not None:
            node_flags += [flag, str(value)]
    node_flags += ["-v"] * verbose
    try:
        planned = launcher.plan(config, peers, base_port, node_flags, peer_flags or [], log_dir)
        launcher.up(launcher.Tmux(), session, planned, detach=detach, say=_say)
    except launcher.LaunchError as exc:
        _fail(str(exc), exc.code)


@tmux_app.command("down")
def tmux_down(session: Session = "zgossip") -> None:
    """Stop the session's peers (they tell their seeds they leave), then its seeds, and
    close it, whatever of it still runs."""
    from zgossip.tools import launcher

    try:
        launcher.down(launcher.Tmux(), session, _say)
    except launcher.LaunchError as exc:
        _fail(str(exc), exc.code)


def _say(line: str) -> None:
    typer.echo(f"zgossip: {line}")


@tmux_app.command("status")
def tmux_status(session: Session = "zgossip") -> None:
    """List the session's panes; exit 1 when a node is down or no such session runs."""
    from zgossip.tools import launcher

    try:
        lines, running = launcher.status(launcher.Tmux(), session)
    except launcher.LaunchError as exc:
        _fail(str(exc), exc.code)
    for line in lines:
        typer.echo(line)
    if not running:
        raise typer.Exit(1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zgossip {__version__}, {build()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """A gossip network on ZeroMQ."""


def _finite_floats(command: Any) -> Any:
    """Every float option of ``command`` and its subcommands refuses nan and inf: nan
    passes every range check (it compares false), and nan or inf seconds crashed or hung
    nodes and tools. (typer's click is its own: its option types are patched, not named.)"""
    for param in command.params:
        kind = param.type
        if type(kind).__name__ in ("FloatParamType", "FloatRange") and not hasattr(kind, "_finite"):
            kind.convert = _finite(kind.convert, kind.fail)
            kind._finite = True
    for sub in getattr(command, "commands", {}).values():
        _finite_floats(sub)
    return command


def _finite(convert: Callable[..., Any], fail: Callable[..., Any]) -> Callable[..., Any]:
    def checked(value: Any, param: Any, ctx: Any) -> Any:
        number = convert(value, param, ctx)
        if isinstance(number, float) and not math.isfinite(number):
            fail(f"{value!r} is not a finite number", param, ctx)
        return number

    return checked


def main() -> None:
    """The installed command. typer's own usage errors (a value out of range, an unknown
    flag) speak in the voice of ours: one line on stderr, ``zgossip: error: ...``, exit 2."""
    try:
        command = _finite_floats(typer.main.get_command(app))
        code = command(prog_name="zgossip", standalone_mode=False)
    except typer.Abort:  # end of input at a prompt (Ctrl-C exits 130)
        typer.echo("zgossip: aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise  # not a user's error: a bug, with its traceback
        message = exc.format_message()
        if message:  # none: no arguments at all, and the help was the answer
            context = getattr(exc, "ctx", None)
            see = f" (see {context.command_path} --help)" if context is not None else ""
            typer.echo(f"zgossip: error: {message}{see}", err=True)
        sys.exit(exc.exit_code)
    # The command is done and has closed what it opened: the process ends here, and the
    # system takes its memory back at once. Unfrozen, the collector would first walk all
    # of it once more at exit, to free what the system frees anyway: 4.3 s after a
    # 10,000-peer simulation (2.6 million objects). A node leaves little to walk.
    gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)
