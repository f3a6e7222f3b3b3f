"""zgossip against Pyre, same work: N nodes, M messages from origins in turn, to all.

``python -m benchmarks.versus [--sizes 10,25,50,100] [--messages 60] [--only zgossip|pyre]``

For each N, each system in a fresh network of its own (started, measured, stopped before
the next one starts: one at a time, never both at once), the same work: M messages,
100 ms apart, message k from node k % N, each to every other node.

zgossip: three seeds and N ``zgossip peer --stdin --gossip-count 0`` processes with
liveness every 5 s, started as :mod:`benchmarks.propagation` starts them (its
``Network``: one peer after the other, until the overlay is linked and connected);
message k is a line on peer k % N's stdin. Pyre: N nodes in a loopback-only network
namespace, as :mod:`benchmarks.pyre_bench` runs them (its nodes and their driver, here
driven by this module inside the namespace); message k is a SHOUT to the group by node
k % N.

Per system and N:

- time-to-all of a message: its last receipt's ``ts`` minus its ``ts`` at the origin
  (``gossip.sent`` / the node's SENT line); p50 and p99 over the complete messages.
  A message some node has not received 10 s after the last was sent is incomplete.
- CPU per message per node, net of idle: the CPU seconds every node process spent
  (:func:`benchmarks.procs.cpu_seconds`, in nanoseconds; zgossip's seeds included, the
  benchmark's own not) from just
  before the first message to the moment the last receipt is seen, minus what they
  spend in a window of the same length with the network up and no messages (measured
  after the work has settled), divided by M x N. The idle CPU share is the idle window's
  CPU over the busy window's: how much of the busy figure the network spends anyway.
- copies per delivery (zgossip only): each peer logs ``gossip.copies`` with its
  cumulative first receipts and duplicates at each liveness round after they changed;
  sum of Delta duplicates over sum of Delta received, between each peer's last event
  before the work and its first one after its own last receipt (a round later, waited
  for up to two liveness intervals and 5 s: ``propagation.count_copies``). NaN when
  the peers log no such event (code older than the event).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
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
from benchmarks import propagation
from benchmarks.overlay_state import NetState
from benchmarks.procs import cpu_of, stop
from benchmarks.pyre_bench import NAMESPACE_SETUP, Driver, why_not
from benchmarks.stats import markdown, percentile, revision

#: Seconds between two messages of the work.
SPACING = 0.1
#: How long after the last message was sent its receipts may take; later: incomplete.
GRACE = 10.0
#: Liveness of the zgossip network: the pace of benchmarks.propagation.
INTERVAL = propagation.PROPAGATION_INTERVAL
MISSES = 3


@dataclass(slots=True)
class Result:
    """One system at one N."""

    system: str
    n: int
    messages: int
    time_to_all: list[float] = field(default_factory=list)  # seconds, complete messages
    incomplete: int = 0
    busy_cpu: float = math.nan  # CPU seconds of all node processes in the busy window
    idle_cpu: float = math.nan  # and in an idle window of the same length
    copies: float = math.nan  # duplicates per first receipt (zgossip)
    unavailable: str | None = None

    @property
    def cpu_per_message_per_node(self) -> float:
        return (self.busy_cpu - self.idle_cpu) / (self.messages * self.n)

    @property
    def idle_share(self) -> float:
        return self.idle_cpu / self.busy_cpu if self.busy_cpu > 0 else math.nan


def _pace(start: float, k: int) -> float:
    """Seconds until message ``k`` is due."""
    return max(0.0, start + k * SPACING - time.monotonic())


# -- zgossip -----------------------------------------------------------------------


def measure_zgossip(n: int, messages: int) -> Result:
    """The work on 3 seeds and ``n`` peers, in a network of their own."""
    with tempfile.TemporaryDirectory(prefix="zgossip-versus-") as tmp:
        net = propagation.Network(Path(tmp), INTERVAL, MISSES)
        try:
            net.grow(n)
            return _zgossip_work(net, n, messages)
        except AssertionError as exc:  # the network never linked: a row that says so
            return Result("zgossip", n, messages, unavailable=str(exc)[:80])
        finally:
            net.close()


def _zgossip_work(net: propagation.Network, n: int, messages: int) -> Result:
    result = Result("zgossip", n, messages)
    peers = set(net.alive)
    pids = [proc.pid for proc in net.cluster.procs.values() if proc.poll() is None]
    net.wait(lambda s: True, 1, "the events so far")  # fold them in
    before = {p: net.state.counted(p) or (0, 0) for p in peers}
    tag = f"versus-{n}-"
    started = time.time()
    cpu = cpu_of(pids)
    start = time.monotonic()
    for k in range(messages):
        time.sleep(_pace(start, k))  # pacing the work, not a wait
        net.say(net.alive[k % n], f"{tag}{k}")
    deadline = start + (messages - 1) * SPACING + GRACE
    with contextlib.suppress(AssertionError):  # what has not arrived counts as incomplete
        net.wait(_all_arrived(tag, messages, peers), deadline - time.monotonic(), "every receipt")
    busy = time.monotonic() - start
    result.busy_cpu = cpu_of(pids) - cpu
    ids = [i for i, (_, _, body) in net.state.sent.items() if body.startswith(tag)]
    result.incomplete = messages - len(ids)
    for msg_id in ids:
        span = net.state.time_to_all(msg_id, peers)
        if span is None:
            result.incomplete += 1
        else:
            result.time_to_all.append(span)
    # each peer's counts as it logged them after its last receipt (a liveness round later)
    received, duplicates = propagation.count_copies(net, peers, before, started)
    result.copies = duplicates / received if received else math.nan
    cpu = cpu_of(pids)
    time.sleep(busy)  # the idle window: a measurement, the network up and no messages
    result.idle_cpu = cpu_of(pids) - cpu
    return result


def _all_arrived(tag: str, messages: int, peers: set[str]) -> Callable[[NetState], bool]:
    """Every message of the work sent, and received by every peer but its origin.

    Evaluated at each event: a count of receipts first, the sets only once it adds up.
    """

    def arrived(state: NetState) -> bool:
        ids = [i for i, (_, _, body) in state.sent.items() if body.startswith(tag)]
        if len(ids) < messages:
            return False
        if sum(len(state.receipts.get(i, ())) for i in ids) < messages * (len(peers) - 1):
            return False
        return not any(state.missing(i, peers) for i in ids)

    return arrived


# -- Pyre --------------------------------------------------------------------------


def measure_pyre(n: int, messages: int) -> Result:
    """The work on ``n`` Pyre nodes, driven in a fresh loopback-only network namespace."""
    result = Result("pyre", n, messages)
    reason = why_not()
    if reason is not None:
        result.unavailable = reason
        return result
    driver = f"exec {sys.executable} -m benchmarks.versus pyre-driver {n} {messages}"
    command = ["unshare", "--net", "--", "sh", "-c", f"{NAMESPACE_SETUP} && {driver}"]
    timeout = _join_timeout(n) + 2 * (messages * SPACING + GRACE) + 30
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        result.unavailable = f"no result within {timeout:.0f} s"
        return result
    finally:
        stop(proc)
    if proc.returncode != 0 or not out.strip():
        last = (err.strip().splitlines() or ["?"])[-1]
        result.unavailable = f"driver failed: {last[:80]}"
        return result
    figures = json.loads(out.strip().splitlines()[-1])
    result.time_to_all = figures["time_to_all"]
    result.incomplete = figures["incomplete"]
    result.busy_cpu = figures["busy_cpu"]
    result.idle_cpu = figures["idle_cpu"]
    return result


def _join_timeout(n: int) -> float:
    """Seconds N Pyre nodes may take to start and all find each other (N Pythons start
    at once on few cores, then N x (N-1) connections)."""
    return 60.0 + 2.0 * n


class _Count:
    """``done(seen)`` for the driver: reads only the lines past its cursor each time."""

    def __init__(self, kind: str, target: Callable[[dict[str, int]], bool]) -> None:
        self.kind = kind
        self.target = target
        self.counts: dict[str, int] = {}
        self._cursor = 0

    def __call__(self, seen: list[dict[str, Any]]) -> bool:
        for line in seen[self._cursor :]:
            if line["kind"] == self.kind:
                self.counts[line["body"]] = self.counts.get(line["body"], 0) + 1
        self._cursor = len(seen)
        return self.target(self.counts)


def _never(seen: list[dict[str, Any]]) -> bool:
    return False


def pyre_drive(n: int, messages: int) -> None:
    """Inside the namespace: start the nodes, do the work, print the figures as JSON."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stopped: stop the nodes too
    driver = Driver(n)
    try:
        joins = _Count("JOIN", lambda c: sum(c.values()) >= n * (n - 1))
        if not driver.wait(joins, _join_timeout(n)):
            raise SystemExit(f"the Pyre nodes did not all find each other in {_join_timeout(n)} s")
        pids = [proc.pid for proc in driver.procs]
        bodies = [f"versus-{k}" for k in range(messages)]
        cpu = cpu_of(pids)
        start = time.monotonic()
        for k, body in enumerate(bodies):
            driver.wait(_never, _pace(start, k))  # pacing the work, reading what comes
            sender = driver.procs[k % n].stdin
            assert sender is not None
            sender.write(body + "\n")
            sender.flush()
        arrived = _Count("SHOUT", lambda c: sum(c.values()) >= messages * (n - 1))
        driver.wait(arrived, start + (messages - 1) * SPACING + GRACE - time.monotonic())
        busy = time.monotonic() - start
        busy_cpu = cpu_of(pids) - cpu
        cpu = cpu_of(pids)
        driver.wait(_never, busy)  # the idle window: a measurement, no messages
        idle_cpu = cpu_of(pids) - cpu
        sent = {e["body"]: e["ts"] for e in driver.seen if e["kind"] == "SENT"}
        last: dict[str, float] = {}
        for e in driver.seen:
            if e["kind"] == "SHOUT":
                last[e["body"]] = max(last.get(e["body"], 0.0), e["ts"])
        complete = [b for b in bodies if b in sent and arrived.counts.get(b, 0) >= n - 1]
        figures = {
            "time_to_all": [last[b] - sent[b] for b in complete],
            "incomplete": messages - len(complete),
            "busy_cpu": busy_cpu,
            "idle_cpu": idle_cpu,
        }
    finally:
        driver.close()
    print(json.dumps(figures), flush=True)


# -- the table ---------------------------------------------------------------------

_HEADER = (
    "N",
    "system",
    "time-to-all p50 / p99 (ms)",
    "messages incomplete",
    "CPU per message per node, net of idle (µs)",
    "idle CPU share",
    "copies per delivery",
)


def _cells(r: Result) -> tuple[str, ...]:
    if r.unavailable is not None:
        return (str(r.n), r.system, f"n/a ({r.unavailable})", "", "", "", "")
    p50, p99 = (percentile(r.time_to_all, q) * 1000 for q in (50, 99))
    copies = "" if r.system != "zgossip" else f"{r.copies:.2f}"
    return (
        str(r.n),
        r.system,
        f"{p50:.2f} / {p99:.2f}",
        f"{r.incomplete} of {r.messages}",
        f"{r.cpu_per_message_per_node * 1e6:.0f}",
        "n/a" if math.isnan(r.idle_share) else f"{r.idle_share:.0%}",
        copies,
    )


def table(results: Sequence[Result]) -> str:
    """The results as a Markdown table."""
    return markdown(_HEADER, [_cells(r) for r in results])


def _header(argv: Sequence[str]) -> str:
    command = " ".join(["python -m benchmarks.versus", *argv])
    return (
        f"zgossip {zgossip.__version__} ({revision()}) against Pyre "
        f"({_pyre_version()})\nmachine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Linux {platform.release()}, Python {platform.python_version()}\ncommand: {command}"
    )


def _pyre_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"zeromq-pyre {version('zeromq-pyre')}"
    except PackageNotFoundError:
        return "zeromq-pyre not installed"


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError("sizes are numbers of nodes, 2 or more, with commas")
    return sizes


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pyre-driver"]:  # inside the namespace, started by measure_pyre
        pyre_drive(int(argv[1]), int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.versus", description=__doc__)
    parser.add_argument("--sizes", type=_sizes, default=[10, 25, 50, 100], help="N, with commas")
    parser.add_argument("--messages", type=int, default=60, help="M, the messages at each N")
    parser.add_argument("--only", choices=("zgossip", "pyre"), help="one system only")
    args = parser.parse_args(argv)
    print(_header(argv), flush=True)
    systems = [
        (name, how)
        for name, how in (("zgossip", measure_zgossip), ("pyre", measure_pyre))
        if args.only in (None, name)
    ]
    results = []
    for n in args.sizes:
        for name, how in systems:  # one after the other: never both at once
            print(f"... {name}, N = {n}", file=sys.stderr, flush=True)
            results.append(how(n, args.messages))
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
