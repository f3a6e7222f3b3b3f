"""What a network at rest costs, zgossip and kinship side by side in one run.

``python -m benchmarks.idle [--peers 20] [--window 60] [--liveness 1,13] [--only zgossip|kinship]``

Why: a gossip network spends most of its life at rest, and a user who wants crashes
noticed sooner shortens the liveness interval; what that costs each node is the price of
fast detection. Issue 24 asks for a zgossip peer at ``--liveness-interval 1`` at or below
kinship's idle CPU (SWIM + Lifeguard, a Rust core, probing every second at its defaults).

One network at a time, never two at once, each started, measured and stopped before the
next: for each liveness interval, 3 seeds and ``--peers`` ``zgossip peer --gossip-count
0`` processes with ``--liveness-interval`` at that value (seeds too), formed as
:func:`benchmarks.detection.zgossip_network` forms them; then ``--peers`` kinship nodes at
their defaults (:func:`benchmarks.detection.kinship_cluster`). Once formed and settled,
each process's CPU (:func:`benchmarks.procs.cpu_seconds`) and its threads' voluntary
context switches (each a sleep the process woke from: a wake-up) are read, and again
``--window`` seconds later. Printed per system: CPU seconds a node a minute and wake-ups
a node a second, for the peers (kinship: every node) and, apart, zgossip's seeds.
No figure is asserted on.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import zgossip
from benchmarks import detection
from benchmarks.overlay_state import NetState
from benchmarks.procs import CountingTap, cpu_of
from benchmarks.stats import markdown, revision
from tests.support import LogTap, kill_all


@dataclass(frozen=True, slots=True)
class Rest:
    system: str
    nodes: int
    cpu: float  # CPU seconds a node a minute
    wakeups: float  # wake-ups a node a second
    seeds_cpu: float | None = None  # zgossip: the same for each seed
    seeds_wakeups: float | None = None


def wakeups(pid: int) -> int:
    """The voluntary context switches of every thread of ``pid`` so far: each is a wait
    (poll, read, sleep) that the process woke up from."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def _over(window: float, groups: Iterable[list[int]]) -> list[tuple[float, float]]:
    """Per group of pids: (CPU s a node a minute, wake-ups a node a second) over ``window``."""
    groups = list(groups)
    before = [(cpu_of(g), sum(map(wakeups, g))) for g in groups]
    time.sleep(window)  # the window measured: a span of rest, not a wait for an event
    after = [(cpu_of(g), sum(map(wakeups, g))) for g in groups]
    return [
        ((c1 - c0) / len(g) * 60 / window, (w1 - w0) / len(g) / window)
        for g, (c0, w0), (c1, w1) in zip(groups, before, after, strict=True)
    ]


def measure_zgossip(peers: int, liveness: float, window: float) -> Rest:
    with tempfile.TemporaryDirectory(prefix="zgossip-idle-") as tmp:
        tap = LogTap(Path(tmp))
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            flags = ("--liveness-interval", f"{liveness:g}")
            addresses = detection.zgossip_network(Path(tmp), tap, procs, peers, NetState(), *flags)
            seeds = [p.pid for a, p in procs.items() if a not in addresses]
            (cpu, woke), (seeds_cpu, seeds_woke) = _over(
                window, ([procs[a].pid for a in addresses], seeds)
            )
            name = f"zgossip, liveness {liveness:g} s"
            return Rest(name, peers, cpu, woke, seeds_cpu, seeds_woke)
        finally:
            kill_all(procs.values())
            tap.close()


def measure_kinship(peers: int, window: float) -> Rest:
    with tempfile.TemporaryDirectory(prefix="kinship-idle-") as tmp:
        tap = CountingTap(Path(tmp) / "events.jsonl")
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            detection.kinship_cluster(Path(tmp), tap, procs, peers)
            ((cpu, woke),) = _over(window, [[p.pid for p in procs.values()]])
            return Rest("kinship, defaults (probe every 1 s)", peers, cpu, woke)
        finally:
            kill_all(procs.values())
            tap.close()


def table(rests: Iterable[Rest]) -> str:
    def seeds(r: Rest) -> str:
        if r.seeds_cpu is None or r.seeds_wakeups is None:
            return "-"
        return f"{r.seeds_cpu:.3f} s / {r.seeds_wakeups:.1f}"

    return markdown(
        ("system", "nodes", "CPU a node a minute", "wake-ups a node a second", "seeds (each)"),
        [(r.system, str(r.nodes), f"{r.cpu:.3f} s", f"{r.wakeups:.1f}", seeds(r)) for r in rests],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.idle")
    parser.add_argument("--peers", type=int, default=20)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--liveness", default="1,13", help="zgossip's liveness intervals, s")
    parser.add_argument("--only", choices=("zgossip", "kinship"))
    args = parser.parse_args(argv)
    print(
        f"zgossip {zgossip.__version__}, {zgossip.build()} ({revision()}); machine: "
        f"{os.cpu_count()} cores, {platform.python_version()}; {args.peers} nodes a network, "
        f"{args.window:g} s at rest measured",
        flush=True,
    )
    runs: list[Callable[[], Rest]] = []
    if args.only != "kinship":
        for text in args.liveness.split(","):
            runs.append(partial(measure_zgossip, args.peers, float(text), args.window))
    if args.only != "zgossip":
        why = detection.kinship_missing()
        if why:
            print(f"kinship: {why}")
        else:
            runs.append(partial(measure_kinship, args.peers, args.window))
    rests = []
    for run in runs:
        rests.append(run())
        print(table(rests[-1:]).splitlines()[-1], flush=True)
    print(table(rests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
