"""Test support: free ports, and waiting on events as they happen (never by sleeping)."""

from __future__ import annotations

import json
import os
import random
import selectors
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from zgossip.protocol import records
from zgossip.protocol.config import Config
from zgossip.simulate import Scenario, Simulation

Event = dict[str, Any]

#: The installed command, next to this Python.
ZGOSSIP = str(Path(sys.executable).with_name("zgossip"))


def timer_flags(config: Config) -> list[str]:
    """The command-line flags that give a node process ``config``'s timers."""
    return [
        "--gossip-interval",
        str(config.gossip_interval),
        "--liveness-interval",
        str(config.liveness_interval),
        "--liveness-misses",
        str(config.liveness_misses),
    ]


#: Fast timers for node processes: the local preset, a few times slower. The system tests
#: run tens of interpreters on a couple of cores, each slower to start and to be scheduled
#: than a node thread of the in-process tests, so their pings get more room.
TIMERS = timer_flags(Config.local(gossip_interval=0.25, liveness_interval=0.3))


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (held open together so they are distinct), below
    the kernel's ephemeral range: a peer's PUB binds any free port and every connection
    takes an ephemeral one: at 50 peer processes, one of those took a port handed out here
    before its peer bound it."""
    holders: list[socket.socket] = []
    try:
        while len(holders) < count:
            holder = socket.socket()
            try:
                holder.bind(("127.0.0.1", random.randrange(_PORTS_FROM, _ephemeral_from())))
            except OSError:  # in use
                holder.close()
                continue
            holders.append(holder)
        return [holder.getsockname()[1] for holder in holders]
    finally:
        for holder in holders:
            holder.close()


#: The lowest port free_ports hands out: above the well-known services.
_PORTS_FROM = 10_000


def _ephemeral_from() -> int:
    """The first port of the kernel's ephemeral range (32768 unless configured)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def write_config(path: Path, ports: Iterable[int]) -> Path:
    path.write_text("".join(f"127.0.0.1:{port}\n" for port in ports))
    return path


class Events:
    """Collects events from many nodes; tests wait on a condition over them."""

    def __init__(self) -> None:
        self.all: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.all.append(event)
            self._cond.notify_all()

    def of(self, name: str, node: str | None = None) -> list[Event]:
        with self._cond:
            return [
                e for e in self.all if e["event"] == name and (node is None or e["node"] == node)
            ]

    def bad_inputs(self, node: str) -> int:
        """The bad inputs ``node`` dropped: each bad.message is one, or says how many it
        stands for (a sender's bad input is said once a while, with a count)."""
        return sum(int(e.get("count", 1)) for e in self.of("bad.message", node))

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "a condition"
    ) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                counts: dict[str, int] = {}
                for e in self.all:
                    counts[e["event"]] = counts.get(e["event"], 0) + 1
                raise AssertionError(f"timed out waiting for {what}; events so far: {counts}")

    def wait_event(self, name: str, timeout: float = 20.0, **fields: Any) -> Event:
        """The first event ``name`` whose fields include ``fields``, waiting for it."""
        found: list[Event] = []

        def match() -> bool:
            found[:] = [
                e
                for e in self.all
                if e["event"] == name and all(e.get(k) == v for k, v in fields.items())
            ]
            return bool(found)

        self.wait_for(match, timeout, f"{name} {fields}")
        return found[0]


class LogTap(Events):
    """Reads the JSON event logs of node processes as they are written.

    Each node gets a FIFO as its ``--json-log``; one thread reads them all, so a
    test awaits events the moment they happen instead of polling files.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory
        self._selector = selectors.DefaultSelector()
        self._buffers: dict[int, bytes] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._running = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def fifo(self, name: str) -> Path:
        path = self._directory / f"{name}.jsonl"
        os.mkfifo(path)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._buffers[fd] = b""
        self._selector.register(fd, selectors.EVENT_READ)
        os.write(self._wake_w, b"x")  # re-enter select with the new fd
        return path

    def _read(self) -> None:
        while self._running:
            for key, _ in self._selector.select():
                fd = int(key.fd)
                if fd == self._wake_r:
                    os.read(fd, 4096)
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:  # the writer exited
                    self._selector.unregister(fd)
                    os.close(fd)
                    continue
                lines = (self._buffers[fd] + chunk).split(b"\n")
                self._buffers[fd] = lines.pop()
                for line in lines:
                    self(json.loads(line))

    def close(self) -> None:
        self._running = False
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        for key in list(self._selector.get_map().values()):
            os.close(int(key.fd))
        self._selector.close()
        os.close(self._wake_w)


class Cluster:
    """Node processes whose JSON event logs flow into one LogTap; all killed at the end."""

    def __init__(self, directory: Path, seeds: int) -> None:
        self.directory = directory
        self.tap = LogTap(directory)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ended: list[subprocess.Popen[bytes]] = []  # earlier runs of a restarted node
        self.seeds = [f"127.0.0.1:{port}" for port in free_ports(seeds)]
        self.config = write_config(directory / "config.txt", (int(s[10:]) for s in self.seeds))

    def start(
        self,
        role: str,
        address: str,
        *extra: str,
        stdin: int = subprocess.DEVNULL,
        preexec_fn: Callable[[], None] | None = None,
    ) -> subprocess.Popen[bytes]:
        name = f"{role}-{address.replace(':', '-')}"
        if address in self.procs:  # started again: its earlier run keeps its own files
            self.ended.append(self.procs[address])
            name += f"-run{len(self.ended) + 1}"
        args = [ZGOSSIP, role, "--port", address.rpartition(":")[2], *TIMERS, *extra]
        args += ["--json-log", str(self.tap.fifo(name)), "--log-file", f"{name}.log"]
        with open(self.directory / f"{name}.out", "wb") as out:
            proc = subprocess.Popen(
                args,
                cwd=self.directory,
                stdin=stdin,
                stdout=out,
                stderr=out,
                preexec_fn=preexec_fn,
            )
        self.procs[address] = proc
        return proc

    def boot(self, peers: int, *peer_flags: str) -> list[str]:
        """Start the seeds, then the peers one after the other, as a user would."""
        for seed in self.seeds:
            self.start("seed", seed)
        for seed in self.seeds:
            self.tap.wait_event("started", node=seed)
        addresses = [f"127.0.0.1:{port}" for port in free_ports(peers)]
        for peer in addresses:
            self.start("peer", peer, *peer_flags)
            self.tap.wait_event("seed.registered", node=peer)
        return addresses

    def close(self) -> None:
        kill_all([*self.ended, *self.procs.values()])
        self.tap.close()


def kill_all(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """Kill what still runs of ``procs`` and reap them all."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` now, in MB (10^6 bytes), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for process {pid}")


def run_zgossip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed command to its end, as a user at a terminal with no input would."""
    return subprocess.run(
        [ZGOSSIP, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a user error prints on stderr (never a traceback)."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


#: What a simulated network said: (simulated time, node, event), in order.
Heard = list[tuple[float, str, records.Event]]


def simulated(nodes: int, seed: int, interval: float, **options: Any) -> tuple[Simulation, Heard]:
    """A simulated network of ``nodes`` peers (liveness every ``interval`` simulated seconds,
    ``options`` for every node's Config), all joined and settled; what it says from then."""
    heard: Heard = []
    scenario = Scenario(
        nodes=nodes,
        messages=0,
        seed=seed,
        liveness_interval=interval,
        members=True,
        options=dict(options),
    )
    sim = Simulation(scenario, listener=lambda node, event: heard.append((sim.now, node, event)))
    sim.boot()
    for n in range(nodes):
        sim.at(n * scenario.join_interval, sim.join)
    sim.advance(nodes * scenario.join_interval + scenario.settle)
    return sim, heard
