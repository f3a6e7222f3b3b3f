"""``python -m benchmarks.healed``: a partition between two hosts, and what crosses after.

Two network-namespace hosts on a bridged LAN (``tests.netns``; needs root): seeds 2 / 1
and ``--peers`` peers on each. Every peer gossips without end, so that each side sends
``--rate`` messages a second. The cable of the second host is pulled for ``--cut``
seconds, then plugged back in. Printed: of the messages either side sent during the cut,
how many reached every peer of the other side, and when the last one did after the heal;
how many were said lost (``gossip.lost``) and how many are unexplained.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.netns import Lan, Nodes, unavailable

SEED_PORTS = (5001, 5002, 5003)
FIRST_PEER_PORT = 6001


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zgossip-healed-") as tmp, Lan(str(os.getpid())) as lan:
        side_a, side_b = lan.add_host(), lan.add_host()
        nodes = Nodes(Path(tmp))
        try:
            seeds = [f"{side_a.address}:{SEED_PORTS[0]}", f"{side_a.address}:{SEED_PORTS[1]}",
                     f"{side_b.address}:{SEED_PORTS[2]}"]  # fmt: skip
            nodes.write_config(seeds)
            timers = ["--liveness-interval", str(args.liveness), "--gossip-interval", "1"]
            for seed in seeds:
                host = side_a if seed.startswith(side_a.address + ":") else side_b
                nodes.start(host, "seed", int(seed.rpartition(":")[2]), *timers)
            for seed in seeds:
                nodes.tap.wait_event("started", timeout=30, node=seed)
            interval = args.peers / args.rate  # each side's peers together send --rate a second
            gossip = ["--liveness-interval", str(args.liveness), "--gossip-count", "-1",
                      "--gossip-interval", f"{interval:.6f}"]  # fmt: skip
            ports = range(FIRST_PEER_PORT, FIRST_PEER_PORT + args.peers)
            peers = [
                nodes.start(h, "peer", port, *gossip) for h in (side_a, side_b) for port in ports
            ]
            nodes.tap.wait_for(
                lambda: {e["node"] for e in nodes.tap.of("neighbour.added")} >= set(peers),
                timeout=60,
                what="every peer linked",
            )
            time.sleep(3.0)
            lan.cut(side_b)
            cut_at = time.time()
            time.sleep(args.cut)
            lan.heal(side_b)
            healed_at = time.time()
            figures: dict[str, Any] = {}

            def crossed() -> bool:
                figures.update(_account(nodes.tap.all, side_a.address, cut_at, healed_at))
                return bool(figures["missing"] == 0)

            with contextlib.suppress(AssertionError):  # what never crossed is reported
                nodes.tap.wait_for(crossed, timeout=args.drain, what="every message across")
            figures["linked_across_s"] = _first_link_across(
                nodes.tap.all, side_a.address, healed_at
            )
            return figures
        finally:
            nodes.close()


def _on(address: str, node: str) -> bool:
    return node.startswith(address + ":")


def _account(
    events: list[dict[str, Any]], side_a: str, cut_at: float, healed_at: float
) -> dict[str, Any]:
    """The messages sent during the cut, each at every peer of the other side."""
    during: dict[str, tuple[str, int]] = {}  # id -> origin, seq
    peers: set[str] = set()
    for e in events:
        if e["event"] == "gossip.sent":
            peers.add(e["node"])
            if cut_at <= e["ts"] < healed_at:
                during[e["id"]] = (e["node"], e.get("seq", 0))
    got: dict[tuple[str, str], float] = {}  # (peer, id) -> when
    lost: set[tuple[str, str, int]] = set()
    for e in events:
        if e["event"] == "gossip.received" and e["id"] in during:
            got[(e["node"], e["id"])] = e["ts"]
        elif e["event"] == "gossip.lost":
            lost.update((e["node"], e["origin"], seq) for seq in e.get("seqs") or [])
    wanted = [(peer, msg_id) for msg_id, (origin, _) in during.items() for peer in peers
              if _on(side_a, peer) != _on(side_a, origin)]  # fmt: skip
    arrived = [got[key] for key in wanted if key in got]
    said = sum(1 for peer, msg_id in wanted
               if (peer, msg_id) not in got and (peer, *during[msg_id]) in lost)  # fmt: skip
    return {
        "during": len(during),
        "wanted": len(wanted),
        "arrived": len(arrived),
        "lost": said,
        "missing": len(wanted) - len(arrived) - said,
        "last_after_s": round(max(arrived) - healed_at, 3) if arrived else None,
    }


def _first_link_across(events: list[dict[str, Any]], side_a: str, healed_at: float) -> float | None:
    times = [e["ts"] - healed_at for e in events
             if e["event"] == "neighbour.added" and e["ts"] >= healed_at
             and _on(side_a, e["node"]) != _on(side_a, e["neighbour"])]  # fmt: skip
    return round(min(times), 3) if times else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.healed", description=__doc__)
    parser.add_argument("--peers", type=int, default=3, help="on each side")
    parser.add_argument("--rate", type=float, default=200.0, help="messages a second a side")
    parser.add_argument("--cut", type=float, default=10.0)
    parser.add_argument("--liveness", type=float, default=1.0)
    parser.add_argument("--drain", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason is not None:
        raise SystemExit(f"needs network namespaces: {reason}")
    for k in range(args.runs):
        f = run(args)
        print(
            f"run {k + 1}: cut {args.cut:g} s, {f['during']} messages sent meanwhile; "
            f"{f['arrived']} of {f['wanted']} deliveries across arrived, the last "
            f"{f['last_after_s']} s after the heal (first link across "
            f"{f['linked_across_s']} s after); {f['lost']} said lost, {f['missing']} unexplained",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
