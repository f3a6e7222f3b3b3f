"""Items 2 and 4: one peer process with 4 neighbours, flooded; its rate and its memory.

The peer under test is the installed ``zgossip peer``, with a JSON event log and its
human log, as a user runs it. Its four neighbours live in one ``benchmarks.neighbour`` process,
speaking the link protocol (LINK / READY, PING answered). Throughput: every neighbour
sends the same stream of messages, as the neighbours of a real peer each pass on what they
got, so the peer receives each message four times, forwards it to the three neighbours
whose copy did not come first, and drops three duplicates. The peer runs the flood
(``--dissemination flood``): down the tree it would prune three of the four links, and a
link of the tree costs what a link of the flood does. Then the same flood once more with
the neighbours forwarding in batches (``BATCH`` messages a frame, the ``batch`` envelope),
as real peers do when one turn of their loop forwards several: under load. Memory: each
neighbour sends a quarter of the messages (one receipt, three forwards a message), a
million in all, the peer's RSS read from /proc between chunks: as a chunk ends (the peak)
and once the peer has idled (what it keeps).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import raw
from benchmarks.procs import CountingTap, start_node, stop
from tests.support import free_ports, rss_mb, write_config

NEIGHBOURS = 4
#: Messages in flight (sent, not yet forwarded to every neighbour): keeps the peer busy,
#: its queues short.
WINDOW = 500
#: Seconds a peer idles before its memory is read: it hands freed heap memory back to
#: the system when it goes idle, at most once a second (zgossip.node._TRIM_INTERVAL).
_SETTLE = 1.5
#: Timers of the peer under test: slow enough that liveness is no load.
_TIMERS = ["--liveness-interval", "5", "--liveness-misses", "3", "--gossip-count", "0"]
#: Every link eager, whatever the neighbours send: see the module's text.
_FLOOD = ["--dissemination", "flood"]
#: Messages a frame in the batched flood: Config.max_batch, what a busy peer sends.
BATCH = 64


@dataclass(slots=True)
class FloodFigures:
    messages: int  # distinct messages the peer forwarded
    receipts_per_message: int  # copies the peer received of each
    rate: float  # distinct messages forwarded per second


@dataclass(slots=True)
class PeerFigures:
    throughput: FloodFigures
    batched: FloodFigures  # the same, the neighbours forwarding BATCH messages a frame
    memory: FloodFigures
    rss_start: float  # MB, linked and idle
    #: (messages so far, MB) once the peer went idle after each flood (see _SETTLE)
    rss_samples: list[tuple[int, float]] = field(default_factory=list)
    rss_busy: list[float] = field(default_factory=list)  # MB the moment each flood ended
    delivered: int = 0  # gossip.received events the peer logged
    errors: int = 0  # bad.message / internal.error events
    profile: Path | None = None


class _Neighbours:
    """The neighbours' process, driven in lock step through its stdin and stdout."""

    def __init__(self, peer: str, pub: str) -> None:
        command = [sys.executable, "-m", "benchmarks.neighbour", peer, pub, str(NEIGHBOURS)]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._ask(None)  # {"linked": ids}: both directions of every link are up

    def _ask(self, command: str | None) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if command is not None:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the neighbours' process exited with {self.proc.wait()}")
        document: dict[str, Any] = json.loads(line)
        return document

    def flood(self, messages: int, copies: bool, batch: int = 1) -> FloodFigures:
        """Encode ``messages`` distinct messages (``batch`` a frame), then flood them; the
        rate is forwards over the span from the first forward to the last."""
        self._ask(f"prepare {messages} {int(copies)} {batch}")
        result = self._ask(f"go {WINDOW}")
        span = result["last"] - result["first"]
        rate = (result["forwards"] - 1) / span if span > 0 else 0.0
        return FloodFigures(result["forwards"], NEIGHBOURS if copies else 1, rate)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()  # EOF: the neighbours close their sockets and exit
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def measure(flood: int, total: int, chunks: int, profile: Path | None = None) -> PeerFigures:
    """Throughput over ``flood`` messages (the median of raw.RUNS floods), then memory up to
    ``total`` messages in all.

    With ``profile``, the peer runs under cProfile and its stats are written there.
    """
    with tempfile.TemporaryDirectory(prefix="zgossip-bench-") as tmp:
        return _run(Path(tmp), flood, total, chunks, profile)


def _run(directory: Path, flood: int, total: int, chunks: int, profile: Path | None) -> PeerFigures:
    seed_port, peer_port = free_ports(2)
    write_config(directory / "config.txt", [seed_port])
    tap = CountingTap(directory / "peer.jsonl")
    python_flags = ("-m", "cProfile", "-o", str(profile)) if profile else ()
    seed = start_node("seed", seed_port, directory, *_TIMERS[:4], "--log-file", "seed.log")
    peer = start_node(
        "peer", peer_port, directory, *_TIMERS, *_FLOOD, "--json-log", str(tap.path),
        "--log-file", "peer.log", python_flags=python_flags,
    )  # fmt: skip
    neighbours: _Neighbours | None = None
    try:
        started = tap.wait_event("started", timeout=30)
        peer_id = f"127.0.0.1:{peer_port}"
        neighbours = _Neighbours(peer_id, started["endpoints"][1])
        tap.wait_for(lambda: len(tap.of("neighbour.added")) == NEIGHBOURS, 30, "4 links")
        rss_start = rss_mb(peer.pid)
        floods = [neighbours.flood(flood, copies=True) for _ in range(raw.RUNS)]
        batched = [neighbours.flood(flood, copies=True, batch=BATCH) for _ in range(raw.RUNS)]
        figures = PeerFigures(_median(floods), _median(batched), _median(floods), rss_start)
        done = sum(f.messages for f in floods + batched)
        _sample(figures, peer.pid, done)
        figures.memory = _memory(neighbours, figures, peer.pid, total - done, chunks)
    finally:
        if neighbours is not None:
            neighbours.close()
        stop(peer)
        stop(seed)
        tap.close()
    figures.delivered = tap.gossip_lines
    figures.errors = len(tap.of("bad.message")) + len(tap.of("internal.error"))
    figures.profile = profile
    return figures


def _median(floods: list[FloodFigures]) -> FloodFigures:
    return sorted(floods, key=lambda f: f.rate)[len(floods) // 2]


def _memory(
    neighbours: _Neighbours, figures: PeerFigures, pid: int, messages: int, chunks: int
) -> FloodFigures:
    """Flood ``messages`` more in ``chunks``, sampling the peer's RSS after each."""
    done = figures.rss_samples[-1][0]
    forwarded, seconds = 0, 0.0
    for _ in range(chunks):
        run = neighbours.flood(messages // chunks, copies=False)
        forwarded += run.messages
        seconds += (run.messages - 1) / run.rate if run.rate else 0.0
        done += run.messages
        _sample(figures, pid, done)
    return FloodFigures(forwarded, 1, forwarded / seconds if seconds else 0.0)


def _sample(figures: PeerFigures, pid: int, messages: int) -> None:
    """The peer's RSS as a flood ends, and again once the peer has been idle a while."""
    figures.rss_busy.append(rss_mb(pid))
    time.sleep(_SETTLE)  # what is measured is the state after idling: nothing to await
    figures.rss_samples.append((messages, rss_mb(pid)))
