"""Pyre's side of ``benchmarks.versus``: Pyre nodes (``zeromq-pyre``, Zyre's Python port).

Pyre finds its peers by UDP beacons on the first interface that is not loopback, so
on a machine with a network it would broadcast there. The benchmark keeps every
packet on loopback by running the nodes in a network namespace of their own
(``unshare --net``, which needs root) whose only interface is ``lo``: Pyre then falls
back to multicast beacons on 127.0.0.1, with a route for 224.0.0.0/4 on ``lo``.

Inside the namespace, a :class:`Driver` starts N ``python -m benchmarks.pyre_bench node
NAME`` processes (:func:`node`) and reads what they say, one JSON line each: the JOINs and
SHOUTs they get, and the SHOUTs they were told to send on stdin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import zmq

from benchmarks.procs import stop

_GROUP = "BENCH"
NAMESPACE_SETUP = (
    "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
)


def why_not() -> str | None:
    """Why Pyre cannot run here, or None."""
    try:
        import pyre  # noqa: F401
    except ImportError:
        return "zeromq-pyre not installed: run benchmarks/setup-serf.sh"
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs root, unshare and ip for a loopback-only network namespace"
    return None


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


if __name__ == "__main__":
    node(sys.argv[2])
