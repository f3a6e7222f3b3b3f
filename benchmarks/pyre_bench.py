"""Item 7: Pyre (``zeromq-pyre``, the Python port of Zyre), N nodes, one SHOUT to all.

Pyre finds its peers by UDP beacons on the first interface that is not loopback, so
on a machine with a network it would broadcast there. This benchmark keeps every
packet on loopback by running the nodes in a network namespace of their own
(``unshare --net``, which needs root) whose only interface is ``lo``: Pyre then falls
back to multicast beacons on 127.0.0.1, with a route for 224.0.0.0/4 on ``lo``.

Layout: this module's :func:`measure` starts ``python -m benchmarks.pyre_bench N K``
inside the namespace; that driver starts N ``python -m benchmarks.pyre_bench node``
processes, waits until each has seen the other N-1 join the group, makes the first
SHOUT K times, one at a time, and prints the figures as one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import zmq

from benchmarks.procs import stop

_GROUP = "BENCH"
NAMESPACE_SETUP = (
    "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
)


@dataclass(slots=True)
class PyreFigures:
    n: int
    time_to_all: list[float] = field(default_factory=list)  # SHOUT sent -> last receipt
    incomplete: int = 0
    unavailable: str | None = None


def why_not() -> str | None:
    """Why Pyre cannot run here, or None."""
    try:
        import pyre  # noqa: F401
    except ImportError:
        return "zeromq-pyre not installed: run benchmarks/setup-serf.sh"
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs root, unshare and ip for a loopback-only network namespace"
    return None


def measure(n: int, shouts: int, timeout: float = 60.0) -> PyreFigures:
    """Run the driver in a fresh network namespace and read its figures."""
    reason = why_not()
    if reason is not None:
        return PyreFigures(n, unavailable=reason)
    driver = f"exec {sys.executable} -m benchmarks.pyre_bench {n} {shouts}"
    command = ["unshare", "--net", "--", "sh", "-c", f"{NAMESPACE_SETUP} && {driver}"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        return PyreFigures(n, unavailable=f"no result within {timeout:.0f} s")
    finally:
        stop(proc)
    if proc.returncode != 0 or not out.strip():
        last = (err.strip().splitlines() or ["?"])[-1]
        return PyreFigures(n, unavailable=f"driver failed: {last[:80]}")
    result = json.loads(out.strip().splitlines()[-1])
    return PyreFigures(n, result["time_to_all"], result["incomplete"])


# -- inside the namespace: one node ------------------------------------------------


def node(name: str) -> None:
    """A Pyre node: joins the group; says JOINs and SHOUTs it gets, SHOUTs on command."""
    # only here: an optional package, imported where it is needed; it has no type hints
    from pyre import Pyre

    pyre = Pyre(name)
    pyre.join(_GROUP)
    pyre.start()
    poller = zmq.Poller()
    poller.register(pyre.socket(), zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    try:
        while True:
            ready = dict(poller.poll())
            if pyre.socket() in ready:
                frames = pyre.recv()
                now = time.time()
                kind = frames[0].decode()
                if kind in ("JOIN", "SHOUT"):
                    _say({"kind": kind, "ts": now, "node": name, "body": frames[-1].decode()})
            if sys.stdin.fileno() in ready:
                line = sys.stdin.readline()
                if not line:
                    return
                pyre.shouts(_GROUP, line.strip())
                _say({"kind": "SENT", "ts": time.time(), "node": name, "body": line.strip()})
    finally:
        pyre.stop()


def _say(document: dict[str, Any]) -> None:
    print(json.dumps(document), flush=True)


# -- inside the namespace: the driver ----------------------------------------------


class Driver:
    def __init__(self, n: int) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.pyre_bench", "node", f"node{i}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(n)
        ]
        self.poller = zmq.Poller()
        self.by_fd: dict[int, subprocess.Popen[str]] = {}
        for proc in self.procs:
            assert proc.stdout is not None
            self.poller.register(proc.stdout.fileno(), zmq.POLLIN)
            self.by_fd[proc.stdout.fileno()] = proc
        self.seen: list[dict[str, Any]] = []
        self.tails: dict[int, bytes] = dict.fromkeys(self.by_fd, b"")

    def wait(self, done: Any, timeout: float) -> bool:
        """Read the nodes' lines until ``done(seen)`` or ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not done(self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for fd, _ in self.poller.poll(int(left * 1000) + 1):
                lines = (self.tails[fd] + os.read(fd, 1 << 16)).split(b"\n")
                self.tails[fd] = lines.pop()  # raw reads: no line waits unseen in a buffer
                self.seen.extend(json.loads(line) for line in lines)
        return True

    def close(self) -> None:
        for proc in self.procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self.procs:
            stop(proc)


def drive(n: int, shouts: int) -> None:
    driver = Driver(n)
    result: dict[str, Any] = {"time_to_all": [], "incomplete": 0}
    try:
        joined = n * (n - 1)
        if not driver.wait(lambda s: sum(e["kind"] == "JOIN" for e in s) >= joined, 30):
            raise SystemExit("the Pyre nodes did not all find each other in 30 s")
        sender = driver.procs[0]
        assert sender.stdin is not None
        for k in range(shouts):
            body = f"shout{k}"
            sender.stdin.write(body + "\n")
            sender.stdin.flush()

            def got(seen: list[dict[str, Any]], body: str = body) -> list[dict[str, Any]]:
                return [e for e in seen if e["body"] == body]

            if not driver.wait(lambda s, got=got: len(got(s)) == n, 10):
                result["incomplete"] += 1
                continue
            stamps = got(driver.seen)
            sent = next(e["ts"] for e in stamps if e["kind"] == "SENT")
            result["time_to_all"].append(max(e["ts"] for e in stamps) - sent)
    finally:
        driver.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "node":
        node(sys.argv[2])
    else:
        drive(int(sys.argv[1]), int(sys.argv[2]))
