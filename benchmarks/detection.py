"""Crash detection at default timers, zgossip and kinship side by side in one run.

``python -m benchmarks.detection [--runs 5] [--peers 20] [--only zgossip|kinship]``

Why: the failure row of ``benchmarks.run`` measures zgossip at fast test timers (liveness
0.5 s); a user runs the defaults (liveness 13 s, 3 misses), where a crash is noticed when
the kernel closes the dead process's connections (``neighbour.suspect`` reason "closed",
helpers probe it, ``neighbour.dead``), not after 3 x 13 s of missed pings. This measures
that path, next to a SWIM + Lifeguard library at its own defaults, in the same run.

Each run starts a fresh network of each system, one system at a time (zgossip, then
kinship; never both at once), kills one node with SIGKILL and stops everything before
the next starts:

- zgossip: 3 seeds and ``--peers`` ``zgossip peer --gossip-count 0`` processes at the
  default timers (no timer flag), started one after the other, each with a JSON event log
  read through a FIFO (``tests.support.LogTap``). Once every peer has logged
  ``neighbour.added`` and the overlay had a few seconds to settle, a random peer with at
  least one neighbour (links both ends logged as up) is killed. Detection: the kill to
  the first ``neighbour.dead`` naming it, at any node. Removal: the kill to the last
  ``peer.removed`` (reason dead) of it at the seeds that had logged ``peer.registered``
  for it.
- kinship (PyPI, a Rust core; not a dependency of zgossip: ``.venv/bin/pip install
  kinship==0.4.0``): ``--peers`` nodes, each a process of this module
  (``--kinship-node``) at ``kinship.Config()``'s defaults (the LAN preset) on 127.0.0.1,
  encrypted with one key (a key is required off the local preset). Each node writes its
  membership events, stamped with ``time.time()``, as JSON lines to one FIFO
  (``benchmarks.procs.CountingTap``). Once every node knows every other, a random one
  is killed. Detection: the kill to the first ``MemberDead`` of it at any node; also
  the first ``MemberSuspect`` and every other node's ``MemberDead``.

Times are event timestamps (Unix seconds, one machine clock) minus ``time.time()`` at
the kill. A run gets 120 s from the kill; what has not happened by then is a miss. No
figure is asserted on: this prints a table.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zgossip
from benchmarks.overlay_state import NetState
from benchmarks.procs import CountingTap, start_node
from benchmarks.stats import markdown, percentile, revision
from tests.support import Event, Events, LogTap, free_ports, kill_all, write_config
from zgossip.protocol.config import Config

#: How long a run may take from the kill before what is missing counts as a miss.
RUN_TIMEOUT = 120.0
#: How long a network may take to form (every node started and linked or joined).
FORM_TIMEOUT = 120.0
#: Seconds the overlay is left alone once formed, before the kill: links that were coming
#: up are up, and the kill finds the network idle, as a crash in a real one would.
SETTLE = 3.0
#: A zgossip run slower than this to its first ``neighbour.dead`` prints its events
#: naming the victim (stderr): the expected path takes milliseconds.
SLOW = 2.0
#: The version kinship was measured at before (6.7-9.0 s at its defaults).
KINSHIP = "kinship==0.4.0"
#: Where a kinship node finds the cluster key (not on the command line, not in ``ps``).
_KEY_VARIABLE = "DETECTION_KINSHIP_KEY"
_ROOT = Path(__file__).resolve().parent.parent


@dataclass(slots=True)
class Run:
    """One kill: what was killed, and seconds from the kill to each verdict (None: missed)."""

    victim: str
    degree: int  # zgossip: its neighbours; kinship: the other members
    suspected: float | None = None  # first neighbour.suspect / MemberSuspect
    suspect_reason: str = ""  # zgossip: why the first suspicion ("closed", "silent")
    detected: float | None = None  # first neighbour.dead / MemberDead
    #: zgossip: the last peer.removed at the seeds listing it; kinship: the last MemberDead
    everyone: float | None = None
    expected: int = 0  # how many must say it for ``everyone`` (seeds listing it / nodes)
    said: int = 0  # how many did within the timeout
    error: str = ""  # why the run has no figures (the network never formed)


@dataclass(slots=True)
class System:
    name: str
    timers: str
    runs: list[Run] = field(default_factory=list)
    unavailable: str = ""  # why it was not measured at all


# --- zgossip ---------------------------------------------------------------------------


def zgossip_timers() -> str:
    c = Config()
    return (
        f"defaults: liveness {c.liveness_interval:g} s x {c.liveness_misses} misses "
        f"(death window {c.death_window:g} s), helpers' word awaited "
        f"{c.suspicion_timeout:g} s, {c.helpers} helpers"
    )


def zgossip_run(peers: int, rng: random.Random) -> Run:
    """A fresh network of 3 seeds and ``peers`` peers at default timers; one peer killed."""
    with tempfile.TemporaryDirectory(prefix="zgossip-detection-") as tmp:
        directory = Path(tmp)
        tap = LogTap(directory)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            return _zgossip_kill(directory, tap, procs, peers, rng)
        except AssertionError as e:  # a wait timed out: the network did not form
            return Run("", 0, error=str(e).partition(";")[0])
        finally:
            kill_all(procs.values())
            tap.close()


def _zgossip_start(
    directory: Path, tap: LogTap, role: str, port: int, *flags: str
) -> subprocess.Popen[bytes]:
    name = f"{role}-{port}"
    log = ["--json-log", str(tap.fifo(name)), "--log-file", f"{name}.log"]
    return start_node(role, port, directory, *flags, *log)


def zgossip_network(
    directory: Path,
    tap: LogTap,
    procs: dict[str, subprocess.Popen[bytes]],
    peers: int,
    state: NetState,
    *flags: str,
) -> list[str]:
    """3 seeds and ``peers`` peers (``flags`` to each node), started one after the other
    into ``procs``; once every peer has a link, ``SETTLE`` seconds later (the events so
    far folded into ``state``): the peers' addresses."""
    ports = free_ports(3)
    write_config(directory / "config.txt", ports)
    for port in ports:
        procs[f"127.0.0.1:{port}"] = _zgossip_start(directory, tap, "seed", port, *flags)
    for seed in list(procs):
        tap.wait_event("started", node=seed)
    addresses = []
    for port in free_ports(peers):
        address = f"127.0.0.1:{port}"
        peer_flags = ("--gossip-count", "0", *flags)
        procs[address] = _zgossip_start(directory, tap, "peer", port, *peer_flags)
        tap.wait_event("seed.registered", timeout=60, node=address)
        addresses.append(address)
    _fold_until(
        tap,
        state,
        lambda s: all(s.links.get(p) for p in addresses),
        FORM_TIMEOUT,
        "every peer's neighbour.added",
    )
    time.sleep(SETTLE)  # the settling the docstring names, not a wait for an event
    _fold_until(tap, state, lambda s: True, 1, "the events so far")
    return addresses


def _zgossip_kill(
    directory: Path,
    tap: LogTap,
    procs: dict[str, subprocess.Popen[bytes]],
    peers: int,
    rng: random.Random,
) -> Run:
    state = NetState()
    addresses = zgossip_network(directory, tap, procs, peers, state)
    graph = state.graph(set(addresses))
    victim = rng.choice(sorted(p for p in addresses if graph[p]))
    listing = {
        e["node"] for e in state.other if e["event"] == "peer.registered" and e["peer"] == victim
    }
    run = Run(victim, len(graph[victim]), expected=len(listing))
    killed = time.time()
    os.kill(procs[victim].pid, signal.SIGKILL)

    def removed(s: NetState) -> dict[str, float]:
        """Each listing seed's removal of the victim: seed -> seconds from the kill."""
        at: dict[str, float] = {}
        removals = (e for e in s.other if e["event"] == "peer.removed" and e["peer"] == victim)
        for e in removals:
            if e["reason"] == "dead" and e["node"] in listing:
                at.setdefault(e["node"], e["ts"] - killed)
        return at

    def done(s: NetState) -> bool:
        dead = any(e["event"] == "neighbour.dead" and e["neighbour"] == victim for e in s.other)
        return dead and len(removed(s)) == len(listing)

    _fold_until(tap, state, done, RUN_TIMEOUT, f"{victim} found dead", missing_ok=True)
    about = [e for e in state.other if e["ts"] >= killed and victim in e.values()]
    suspicions = [e for e in about if e["event"] == "neighbour.suspect"]
    if suspicions:
        run.suspected = suspicions[0]["ts"] - killed
        run.suspect_reason = str(suspicions[0].get("reason", "?"))
    deaths = [e["ts"] - killed for e in about if e["event"] == "neighbour.dead"]
    run.detected = min(deaths, default=None)
    removals = removed(state)
    run.said = len(removals)
    if listing and run.said == len(listing):
        run.everyone = max(removals.values())
    if run.detected is None or run.detected > SLOW:
        _print_timeline(f"zgossip, {victim} killed", about, killed)
    return run


def _fold_until(
    tap: Events,
    state: NetState,
    condition: Callable[[NetState], bool],
    timeout: float,
    what: str,
    missing_ok: bool = False,
) -> bool:
    """Wait for ``condition`` over ``state``, folding in the events as they arrive."""

    def check() -> bool:
        state.fold(tap.all)
        return condition(state)

    try:
        tap.wait_for(check, timeout, what)
    except AssertionError:
        if not missing_ok:
            raise
        return False
    return True


def _print_timeline(title: str, events: Sequence[Event], killed: float) -> None:
    print(f"  events of a slow run ({title}), seconds from the kill:", file=sys.stderr)
    for e in events:
        rest = {k: v for k, v in e.items() if k not in ("ts", "node", "event", "line")}
        print(f"    {e['ts'] - killed:8.3f} {e['node']} {e['event']} {rest}", file=sys.stderr)


# --- kinship ---------------------------------------------------------------------------


def kinship_missing() -> str:
    """Why kinship cannot be measured, or "" when it can."""
    if importlib.util.find_spec("kinship") is None:
        return f"kinship not installed (.venv/bin/pip install {KINSHIP}): not measured"
    try:
        import kinship
    except ImportError as e:
        return f"kinship does not import ({e}): not measured"
    wanted = KINSHIP.partition("==")[2]
    if kinship.__version__ != wanted:
        return f"kinship {kinship.__version__} installed, {wanted} wanted ({KINSHIP})"
    return ""


def kinship_timers() -> str:
    import kinship

    c = kinship.Config(keys=[_new_key()])
    return (
        f"{kinship.__version__}, Config() defaults ({c.preset} preset): probe every "
        f"{c.probe_interval:g} s, timeout {c.probe_timeout:g} s, {c.indirect_checks} "
        f"indirect checks, TCP fallback ping {'on' if c.tcp_fallback_ping else 'off'}, "
        f"suspicion_mult {c.suspicion_mult} (max {c.suspicion_max_mult}x, "
        f"{c.expected_confirmations} confirmations), gossip every {c.gossip_interval:g} s "
        f"to {c.gossip_nodes}"
    )


def _new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def kinship_run(peers: int, rng: random.Random) -> Run:
    """A fresh cluster of ``peers`` kinship node processes at defaults; one killed."""
    with tempfile.TemporaryDirectory(prefix="kinship-detection-") as tmp:
        directory = Path(tmp)
        tap = CountingTap(directory / "events.jsonl")
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            return _kinship_kill(directory, tap, procs, peers, rng)
        except AssertionError as e:
            return Run("", 0, error=str(e).partition(";")[0])
        finally:
            kill_all(procs.values())
            tap.close()


def kinship_cluster(
    directory: Path,
    tap: CountingTap,
    procs: dict[str, subprocess.Popen[bytes]],
    peers: int,
) -> set[str]:
    """``peers`` kinship nodes at defaults, started into ``procs``; once every node knows
    every other, ``SETTLE`` seconds later: their names."""
    env = os.environ | {_KEY_VARIABLE: _new_key()}
    ports = free_ports(peers)
    first = f"127.0.0.1:{ports[0]}"
    for port in ports:
        name = f"k{port}"
        join = [] if port == ports[0] else ["--join", first]
        args = [
            sys.executable,
            "-m",
            "benchmarks.detection",
            "--kinship-node",
            str(port),
            "--events",
            str(tap.path),
            *join,
        ]
        with open(directory / f"{name}.out", "wb") as out:
            procs[name] = subprocess.Popen(
                args,
                cwd=_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if port == ports[0]:
            try:
                tap.wait_event("kinship.started", timeout=30, node=name)
            except AssertionError:  # kinship itself fails: no run of it will do
                said = (directory / f"{name}.out").read_text(errors="replace").strip()
                last = said.splitlines()[-1] if said else "no output"
                raise RuntimeError(f"its first node did not start: {last}") from None
    names = set(procs)
    tap.wait_for(lambda: _everyone_knows(tap.all, names), FORM_TIMEOUT, f"{peers} nodes joined")
    time.sleep(SETTLE)  # as for zgossip: the kill finds the cluster idle
    return names


def _kinship_kill(
    directory: Path,
    tap: CountingTap,
    procs: dict[str, subprocess.Popen[bytes]],
    peers: int,
    rng: random.Random,
) -> Run:
    names = kinship_cluster(directory, tap, procs, peers)
    victim = rng.choice(sorted(names))
    others = names - {victim}
    run = Run(victim, len(others), expected=len(others))
    killed = time.time()
    os.kill(procs[victim].pid, signal.SIGKILL)

    def verdicts(kind: str) -> dict[str, float]:
        """Each node's first event ``kind`` about the victim: node -> seconds from the kill."""
        first: dict[str, float] = {}
        for e in tap.of(kind):  # under the events' lock
            if e["member"] == victim and e["ts"] >= killed:
                first.setdefault(e["node"], e["ts"] - killed)
        return first

    with contextlib.suppress(AssertionError):  # a miss: what was said is counted below
        tap.wait_for(
            lambda: len(verdicts("kinship.MemberDead")) == len(others),
            RUN_TIMEOUT,
            f"{victim} dead at every node",
        )
    dead, suspect = verdicts("kinship.MemberDead"), verdicts("kinship.MemberSuspect")
    run.suspected = min(suspect.values(), default=None)
    run.detected = min(dead.values(), default=None)
    run.said = len(dead)
    if run.said == len(others):
        run.everyone = max(dead.values())
    return run


def _everyone_knows(events: Sequence[Event], names: set[str]) -> bool:
    """Every node has said it knows every node: in its membership when it started, or
    joined since."""
    known: dict[str, set[str]] = {name: {name} for name in names}
    for e in events:
        if e["event"] == "kinship.started":
            known[e["node"]].update(e["members"])
        elif e["event"] == "kinship.MemberJoined":
            known[e["node"]].add(e["member"])
    return all(members >= names for members in known.values())


def kinship_node(port: int, events: Path, join: str | None) -> int:
    """One kinship node at default settings: its membership events as JSON lines."""
    import kinship
    from kinship.blocking import Cluster

    name = f"k{port}"
    cfg = kinship.Config(
        name=name,
        bind=f"127.0.0.1:{port}",
        keys=[os.environ[_KEY_VARIABLE]],
        seeds=[join] if join else [],
    )
    fd = os.open(events, os.O_WRONLY | os.O_APPEND)

    def say(event: str, **fields: Any) -> None:
        line = {"ts": time.time(), "node": name, "event": f"kinship.{event}", **fields}
        os.write(fd, json.dumps(line).encode() + b"\n")  # one write: atomic on a FIFO

    cluster = Cluster(cfg).start()
    stream = cluster.events()  # subscribed before the snapshot: no join falls between
    say("started", members=[m.name for m in cluster.members()])
    for event in stream:
        if isinstance(event, kinship.EventsLost):
            say("EventsLost", count=event.count, member="")
        elif isinstance(
            event,
            kinship.MemberJoined
            | kinship.MemberSuspect
            | kinship.MemberRecovered
            | kinship.MemberDead
            | kinship.MemberLeft,
        ):
            say(type(event).__name__, member=event.member.name)
    return 0


# --- the report ------------------------------------------------------------------------


def _s(seconds: float | None) -> str:
    return "miss" if seconds is None else f"{seconds:.3f} s"


def _p50_max(values: Sequence[float | None]) -> str:
    got = [v for v in values if v is not None]
    misses = len(values) - len(got)
    if not got:
        return f"n/a ({misses} missed)" if misses else "n/a"
    text = f"{percentile(got, 50):.3f} / {max(got):.3f} s"
    return text + (f" ({misses} missed)" if misses else "")


def summary(systems: Sequence[System]) -> str:
    """One row a system: p50 / max over its runs, then the timers each ran with."""
    rows = []
    for s in systems:
        if s.unavailable:
            rows.append((s.name, "0", s.unavailable, "", ""))
            continue
        runs = [r for r in s.runs if not r.error]
        count = str(len(runs))
        if len(runs) < len(s.runs):
            count += f" (+{len(s.runs) - len(runs)} not formed)"
        rows.append(
            (
                s.name,
                count,
                _p50_max([r.detected for r in runs]),
                _p50_max([r.suspected for r in runs]),
                _p50_max([r.everyone for r in runs]),
            )
        )
    header = (
        "system",
        "runs",
        "detection p50 / max: first dead",
        "first suspicion p50 / max",
        "all who must know p50 / max",
    )
    notes = [
        "first dead: zgossip's first neighbour.dead naming it, kinship's first MemberDead",
        "all who must know: zgossip's last peer.removed (dead) at the seeds that had "
        "registered it; kinship's last MemberDead at the other nodes",
        *(f"timers, {s.name}: {s.timers}" for s in systems if s.timers),
    ]
    return markdown(header, rows) + "\n\n" + "\n".join(notes)


def per_run(systems: Sequence[System]) -> str:
    rows = []
    for s in systems:
        for k, r in enumerate(s.runs, 1):
            if r.error:
                rows.append((s.name, str(k), "", "", "", "", "", f"not formed: {r.error}"))
                continue
            reason = f" ({r.suspect_reason})" if r.suspect_reason else ""
            rows.append(
                (
                    s.name,
                    str(k),
                    r.victim,
                    str(r.degree),
                    _s(r.suspected) + reason,
                    _s(r.detected),
                    _s(r.everyone),
                    f"{r.said} of {r.expected}",
                )
            )
    header = (
        "system",
        "run",
        "killed",
        "neighbours / others",
        "first suspicion",
        "first dead",
        "all who must know",
        "said it",
    )
    return markdown(header, rows)


def measure(runs: int, peers: int, only: str | None) -> list[System]:
    rng = random.Random()
    systems: list[System] = []
    if only in (None, "zgossip"):
        systems.append(System("zgossip", zgossip_timers()))
    if only in (None, "kinship"):
        why, timers = kinship_missing(), ""
        if not why:
            try:
                timers = kinship_timers()
            except Exception as e:  # an API unlike the one this was written against
                why = f"kinship unusable: {type(e).__name__}: {e}"
        systems.append(System("kinship", timers, unavailable=why))
        if why:
            print(why, flush=True)
    for k in range(runs):
        for s in systems:  # one system at a time, interleaved run by run
            if s.unavailable:
                continue
            print(
                f"... run {k + 1} of {runs}: {s.name}, {peers} nodes", file=sys.stderr, flush=True
            )
            try:
                run = zgossip_run(peers, rng) if s.name == "zgossip" else kinship_run(peers, rng)
            except Exception as e:  # kinship unusable: say so, go on with zgossip
                if s.name != "kinship":
                    raise
                s.unavailable = f"kinship unusable: {type(e).__name__}: {e}"
                print(s.unavailable, flush=True)
                continue
            s.runs.append(run)
            outcome = run.error or f"killed {run.victim}: first dead {_s(run.detected)}"
            print(f"    {outcome}", file=sys.stderr, flush=True)
    return systems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.detection", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--peers", type=int, default=20)
    parser.add_argument("--only", choices=("zgossip", "kinship"))
    # One kinship node of a run (the benchmark starts these itself).
    parser.add_argument("--kinship-node", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--join", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.kinship_node is not None:
        return kinship_node(args.kinship_node, args.events, args.join)
    command = " ".join(["python -m benchmarks.detection", *(argv or sys.argv[1:])])
    print(
        f"zgossip {zgossip.__version__} ({revision()}); machine: {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}\ncommand: {command}\n"
        f"a fresh network each run and system, one at a time; {args.peers} nodes; "
        f"{RUN_TIMEOUT:g} s from the kill before a miss",
        flush=True,
    )
    systems = measure(args.runs, args.peers, args.only)
    print()
    print(summary(systems))
    print()
    print(per_run(systems))
    return 0


if __name__ == "__main__":
    sys.exit(main())
