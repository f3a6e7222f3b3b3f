"""``python -m benchmarks.survivors``: kill -9 of 30% of 50 peer processes at once, then gossip.

A network of ``--peers`` zgossip peers (3 seeds, liveness every 5 s, as
:mod:`benchmarks.propagation` starts them), its broadcast tree formed by ``--warmup``
messages; then ``--kill`` of the peers are killed with SIGKILL, all at once, and
``--messages`` are sent right away from survivors in turn, 100 ms apart, before any death
is detected (the first suspicion is 15 s away). Each must reach every survivor: down the
tree where its links live, by announcements and grafts where a dead peer cut it, and to
a survivor whose every neighbour died, once it has linked anew (after liveness found the
deaths) through the history a new link hands over.

Printed: how the survivors' links split (a survivor whose every neighbour died waits for
liveness, whatever the dissemination), how many of the messages reached every survivor,
their time-to-all (p50, p99, max) against the warm-up's, and within the largest part of
the survivors (what grafting around dead tree links costs, in processes), the grafts the
survivors logged, and copies per delivery over the messages after the kill.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import propagation
from benchmarks.overlay_state import distances
from benchmarks.stats import ms, percentile

#: Seconds between two messages.
SPACING = 0.1
#: How long the messages after the kill may take to reach every survivor: liveness (3 x 5 s)
#: finds the dead, cut-off survivors link anew and get the messages as history.
GRACE = 60.0


def _time_to_all(net: propagation.Network, ids: list[str], peers: set[str]) -> list[float]:
    """Time-to-all of each message in ``ids`` that reached every one of ``peers``."""
    spans = (net.state.time_to_all(msg_id, peers) for msg_id in ids)
    return [span for span in spans if span is not None]


def _send(net: propagation.Network, origins: list[str], tag: str, count: int) -> list[str]:
    """``count`` messages from ``origins`` in turn, ``SPACING`` apart; their ids once sent."""
    start = time.monotonic()
    for k in range(count):
        time.sleep(max(0.0, start + k * SPACING - time.monotonic()))  # pacing, not a wait
        net.say(origins[k % len(origins)], f"{tag}{k}")
    net.wait(lambda s: sum(b.startswith(tag) for _, _, b in s.sent.values()) == count, 30,
             f"{count} {tag} messages sent")  # fmt: skip
    return [i for i, (_, _, body) in net.state.sent.items() if body.startswith(tag)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.survivors", description=__doc__)
    parser.add_argument("--peers", type=int, default=50)
    parser.add_argument("--kill", type=float, default=0.3, help="fraction killed at once")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1, help="which peers die")
    parser.add_argument("--dissemination", choices=("tree", "flood"), default="tree")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zgossip-survivors-") as tmp:
        spread = ["--dissemination", args.dissemination]
        net = propagation.Network(Path(tmp), propagation.PROPAGATION_INTERVAL, 3, spread)
        try:
            net.grow(args.peers)
            everyone = set(net.alive)
            warm = _send(net, net.alive, "warm-", args.warmup)
            with contextlib.suppress(AssertionError):
                net.wait(lambda s: not any(s.missing(i, everyone) for i in warm), 30, "warm-up")
            doomed = random.Random(args.seed).sample(net.alive, round(args.kill * args.peers))
            graph = net.state.graph(set(net.alive) - set(doomed))  # the overlay left
            for peer in doomed:  # kill -9, all at once
                os.kill(net.cluster.procs[peer].pid, signal.SIGKILL)
                net.alive.remove(peer)
            killed = time.time()
            survivors = set(net.alive)
            before = {p: net.state.counted(p) or (0, 0) for p in survivors}
            after = _send(net, net.alive, "after-", args.messages)
            with contextlib.suppress(AssertionError):  # what never arrives is reported
                net.wait(lambda s: not any(s.missing(i, survivors) for i in after), GRACE,
                         "every message at every survivor")  # fmt: skip
            received, duplicates = propagation.count_copies(net, survivors, before, killed)
            grafts = [e for e in net.state.other if e["event"] == "gossip.graft"
                      and e["ts"] >= killed and e["node"] in survivors]  # fmt: skip
            parts = _components(graph)
            _report(net, args, warm, after, everyone, survivors, len(grafts),
                    duplicates / received if received else float("nan"), parts)  # fmt: skip
        finally:
            net.close()
    return 0


def _report(
    net: propagation.Network,
    args: argparse.Namespace,
    warm: list[str],
    after: list[str],
    everyone: set[str],
    survivors: set[str],
    grafts: int,
    copies: float,
    parts: list[set[str]],
) -> None:
    before_spans = _time_to_all(net, warm, everyone)
    after_spans = _time_to_all(net, after, survivors)
    main = parts[0] if parts else set()
    inside = [i for i in after if net.state.sent[i][0] in main]  # sent inside the main part
    main_spans = _time_to_all(net, inside, main)
    print(f"{args.peers} peers ({args.dissemination}), {args.peers - len(survivors)} killed at "
          f"once; the survivors' links make {len(parts)} part(s) of "
          f"{', '.join(str(len(p)) for p in parts)} peers")  # fmt: skip
    rows = (("warm-up", "peer", before_spans, len(warm)),
            ("after the kill", "survivor", after_spans, len(after)),
            ("  in its part", f"peer of the largest part ({len(main)})", main_spans,
             len(inside)))  # fmt: skip
    for name, who, spans, count in rows:
        print(
            f"{name:15s} {len(spans)} of {count} reached every {who}; time-to-all p50 "
            f"{ms(percentile(spans, 50))}, p99 {ms(percentile(spans, 99))}, "
            f"max {ms(max(spans, default=float('nan')))}"
        )
    print(f"grafts by the survivors after the kill: {grafts}; copies per delivery {copies:.2f}")


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """The connected parts of ``graph``, largest first."""
    parts: list[set[str]] = []
    left = set(graph)
    while left:
        part = set(distances(graph, next(iter(left))))
        parts.append(part)
        left -= part
    return sorted(parts, key=len, reverse=True)


if __name__ == "__main__":
    sys.exit(main())
