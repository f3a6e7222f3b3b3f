"""Item 6: HashiCorp's serf (Debian package ``serf``, see setup-serf.sh), N agents on loopback.

Every agent binds 127.0.0.1 and joins the first one. Every agent's event handler is a
two-line bash script that writes the event, its ``$EPOCHREALTIME`` and the members it
names as one JSON line to a FIFO this process reads: handlers are how serf hands
events to users, so their start-up is part of what a user gets. Propagation: one
``serf event`` at a time, from the first handler run to the last. Failure: an agent is
killed with SIGKILL, timed until every other agent's handler has heard ``member-failed``.
Serf runs with its default LAN profile (gossip every 200 ms, probes every second).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.procs import CountingTap, stop
from tests.support import free_ports

_HANDLER = """#!/bin/bash
export LC_ALL=C
now=$EPOCHREALTIME
members=$(cut -f1 | tr '\\n' ' ')
printf '{"ts":%s,"node":"%s","event":"serf.%s","members":"%s"}\\n' \\
    "$now" "$SERF_SELF_NAME" "$SERF_EVENT" "$members" >> "{fifo}"
"""


@dataclass(slots=True)
class SerfFigures:
    n: int
    version: str = ""
    time_to_all: list[float] = field(default_factory=list)  # first handler -> last, per event
    incomplete: int = 0
    failed_first: float = float("nan")  # kill -> first member-failed handler
    failed_all: float = float("nan")  # kill -> every other agent's
    unavailable: str | None = None  # why there are no figures


def measure(n: int, events: int, detect_failure: bool) -> SerfFigures:
    """Run ``n`` agents; time ``events`` user events and, optionally, one failure."""
    if shutil.which("serf") is None:
        return SerfFigures(n, unavailable="serf not installed: run benchmarks/setup-serf.sh")
    version = subprocess.run(["serf", "version"], capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory(prefix="zgossip-serf-") as tmp:
        figures = _run(Path(tmp), n, events, detect_failure)
    figures.version = version.splitlines()[0] if version else "?"
    return figures


def _run(directory: Path, n: int, events: int, detect_failure: bool) -> SerfFigures:
    tap = CountingTap(directory / "events.jsonl")
    handler = directory / "handler.sh"
    handler.write_text(_HANDLER.replace("{fifo}", str(tap.path)))
    handler.chmod(0o755)
    ports = free_ports(2 * n)
    names = [f"agent{i}" for i in range(n)]
    agents: list[subprocess.Popen[bytes]] = []
    try:
        for i, name in enumerate(names):
            # -join exits when the first agent is not listening yet; -retry-join tries again
            first = f"127.0.0.1:{ports[0]}"
            join = [] if i == 0 else [f"-retry-join={first}", "-retry-interval=100ms"]
            args = [
                "serf", "agent", f"-node={name}", f"-bind=127.0.0.1:{ports[2 * i]}",
                f"-rpc-addr=127.0.0.1:{ports[2 * i + 1]}", f"-event-handler={handler}",
                "-log-level=err", *join,
            ]  # fmt: skip
            with open(directory / f"{name}.out", "wb") as out:
                agents.append(subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT))
        try:
            tap.wait_for(lambda: _everyone_knows(tap, names), 60, f"{n} serf agents joined")
        except AssertionError:  # a figure for the table, not a failure of the benchmark
            return SerfFigures(n, unavailable=f"not all {n} serf agents joined within 60 s")
        figures = SerfFigures(n)
        for k in range(events):
            _one_event(tap, names, ports[1], k, figures)
        if detect_failure:
            _one_failure(tap, names, agents, figures)
        return figures
    finally:
        for agent in agents:
            stop(agent)
        tap.close()


def _everyone_knows(tap: CountingTap, names: list[str]) -> bool:
    """Every agent's handler has seen a member-join naming every agent."""
    known: dict[str, set[str]] = {name: set() for name in names}
    for event in tap.all:
        if event["event"] == "serf.member-join":
            known[event["node"]].update(event["members"].split())
    return all(len(members) == len(names) for members in known.values())


def _one_event(
    tap: CountingTap, names: list[str], rpc_port: int, k: int, figures: SerfFigures
) -> None:
    before = len(tap.all)
    subprocess.run(
        ["serf", "event", f"-rpc-addr=127.0.0.1:{rpc_port}", f"bench{k}", str(k)],
        check=True, capture_output=True,
    )  # fmt: skip

    def arrived() -> list[float]:
        return [e["ts"] for e in tap.all[before:] if e["event"] == "serf.user"]

    try:
        tap.wait_for(lambda: len(arrived()) == len(names), 30, "a serf event at every agent")
    except AssertionError:
        figures.incomplete += 1
        return
    stamps = arrived()
    figures.time_to_all.append(max(stamps) - min(stamps))


def _one_failure(
    tap: CountingTap, names: list[str], agents: list[subprocess.Popen[bytes]], figures: SerfFigures
) -> None:
    victim = names[-1]
    killed = time.time()
    agents[-1].send_signal(signal.SIGKILL)

    def noticed() -> list[float]:
        return [
            e["ts"]
            for e in tap.all
            if e["event"] == "serf.member-failed" and victim in e["members"].split()
        ]

    try:
        tap.wait_for(lambda: len(noticed()) == len(names) - 1, 60, f"{victim} failed everywhere")
    except AssertionError:
        return  # the failure figures stay n/a (NaN)
    figures.failed_first = min(noticed()) - killed
    figures.failed_all = max(noticed()) - killed
