"""The CPU floor under the propagation figures: what a message costs the peer receiving it.

Two ``zgossip peer --stdin`` processes (A and B, linked, 3 seeds), the installed command
as in the propagation benchmark. A gossips; B's CPU time (all its threads, from /proc)
is read around the messages and divided by their count: once for a burst, sent back to
back (B runs hot), once for messages spaced ``pause`` apart, as each message of the
propagation benchmark finds its network idle (B is woken for each, caches cold).

In the propagation benchmark a peer is woken for most copies of a message (1 + the
duplicates per delivery, each): its network pays the woken cost, not the hot one.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import propagation
from benchmarks.overlay_state import NetState
from benchmarks.procs import cpu_seconds


@dataclass(frozen=True, slots=True)
class WakeFigures:
    hot: float  # seconds of B's CPU per message received in a burst
    woken: float  # seconds of B's CPU per message received after a pause
    pause: float


def measure(burst: int, spaced: int, pause: float) -> WakeFigures:
    with tempfile.TemporaryDirectory(prefix="zgossip-bench-") as tmp:
        net = propagation.Network(Path(tmp), propagation.PROPAGATION_INTERVAL, 3)
        try:
            net.grow(2)
            hot = _per_message(net, "burst", burst, 0.0)
            woken = _per_message(net, "spaced", spaced, pause)
        finally:
            net.close()
    return WakeFigures(hot, woken, pause)


def _per_message(net: propagation.Network, tag: str, count: int, pause: float) -> float:
    sender, receiver = net.alive
    pid = net.cluster.procs[receiver].pid
    before = cpu_seconds(pid)
    for k in range(count):
        net.say(sender, f"{tag}-{k}")
        if pause:
            time.sleep(pause)  # pacing: each message finds B idle; not a wait for anything

    def received(state: NetState) -> bool:
        bodies = [
            body for i, (_, _, body) in state.sent.items() if receiver in state.receipts.get(i, {})
        ]
        return sum(body.startswith(f"{tag}-") for body in bodies) >= count

    net.wait(received, 60, f"{count} {tag} messages at {receiver}")
    return (cpu_seconds(pid) - before) / count
