"""``python -m benchmarks.stopped``: a peer stopped (SIGSTOP) while messages flow.

3 seeds and ``--peers`` peer processes (the installed command, default timers, JSON logs
to files, as :mod:`benchmarks.burst` starts them). Once linked, ``--origins`` of them
gossip ``--rate`` messages a second between them on ``--stdin`` for ``--seconds``; after
a third of that, one other peer is stopped with SIGSTOP for ``--stop`` seconds, then
continued. Printed a run: of the messages sent while it was stopped, how many it got, and
when its last one came after SIGCONT; what it said lost; what is unexplained.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

from benchmarks.burst import stdin_network, wait_until


def run(args: argparse.Namespace) -> dict[str, Any]:
    with stdin_network("zgossip-stopped-", args.peers) as net:
        origins, victim = net.peers[: args.origins], net.peers[-1]
        start = time.monotonic()
        ticks = int(args.seconds * 100)
        stop_at, cont_at = ticks // 3, ticks // 3 + int(args.stop * 100)
        stopped = continued = 0.0
        sent = 0
        for tick in range(ticks):  # every 10 ms, the origins in turn
            time.sleep(max(0.0, start + tick / 100 - time.monotonic()))
            if tick == stop_at:
                os.kill(net.procs[victim].pid, signal.SIGSTOP)
                stopped = time.time()
            elif tick == cont_at:
                os.kill(net.procs[victim].pid, signal.SIGCONT)
                continued = time.time()
            due = int(args.rate * (tick + 1) / 100)
            for n in range(sent, due):
                net.feeds[origins[n % len(origins)]].write(f"flow {n}\n".encode())
            sent = due
            for origin in origins:
                net.feeds[origin].flush()
        figures: dict[str, Any] = {}

        def complete() -> bool:
            figures.update(_account(net.logs.events, victim, stopped, continued))
            return bool(figures["sent"] >= sent * 0.99 and figures["missing"] == 0)

        wait_until(net.logs, time.monotonic() + args.drain, complete)
        return figures


def _account(
    events: list[dict[str, Any]], victim: str, stopped: float, continued: float
) -> dict[str, Any]:
    """What the stopped peer got of the messages sent while it was stopped."""
    during: dict[str, tuple[str, int]] = {}  # id -> origin, seq
    got: dict[str, float] = {}  # id -> when the victim got it
    lost: set[tuple[str, int]] = set()  # (origin, seq) the victim said lost
    sent = throttled = 0
    for e in events:
        kind = e["event"]
        if kind == "gossip.sent":
            sent += 1
            if stopped <= e["ts"] < continued:
                during[e["id"]] = (e["node"], e.get("seq", 0))
        elif e["node"] != victim:
            continue
        elif kind == "gossip.received":
            got[e["id"]] = e["ts"]
        elif kind == "gossip.lost":
            lost.update((e["origin"], seq) for seq in e.get("seqs") or [])
        elif kind == "gossip.throttled":
            throttled += 1
    got = {msg_id: when for msg_id, when in got.items() if msg_id in during}
    said = sum(1 for msg_id, key in during.items() if msg_id not in got and key in lost)
    return {
        "sent": sent,
        "during": len(during),
        "got": len(got),
        "lost": said,
        "missing": len(during) - len(got) - said,
        "last_after_s": round(max(got.values()) - continued, 3) if got else None,
        "throttled": throttled,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stopped", description=__doc__)
    parser.add_argument("--peers", type=int, default=8)
    parser.add_argument("--origins", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--stop", type=float, default=5.0)
    parser.add_argument("--drain", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    for k in range(args.runs):
        f = run(args)
        print(
            f"run {k + 1}: stopped {args.stop:g} s; of the {f['during']} messages sent meanwhile "
            f"it got {f['got']}, the last {f['last_after_s']} s after SIGCONT; {f['lost']} said "
            f"lost, {f['missing']} unexplained; gossip.throttled said {f['throttled']} times",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
