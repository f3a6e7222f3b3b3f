"""Soak: 20 peers, some of them coming and going all the time; nothing lost, memory flat.

Twelve peers live through the whole run and gossip steadily; eight slots churn, a peer
leaving (SIGTERM, or kill -9 every other time) and a new one joining every two seconds.
Every message one long-lived peer sent while the others were all up must reach every
other long-lived peer, exactly once, whatever the churn did to the links between them.
``ZGOSSIP_SOAK_SECONDS`` makes the churn last longer (60 s by default).
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support import Cluster, free_ports, rss_mb

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

STAYING, CHURNING = 12, 8
SECONDS = float(os.environ.get("ZGOSSIP_SOAK_SECONDS", "60"))
GOSSIP_INTERVAL = 0.5
CHURN_EVERY = 2.0  # pacing the churn, not waiting for anything


def test_no_message_between_long_lived_peers_is_lost_while_others_churn(
    cluster: Cluster,
) -> None:
    tap = cluster.tap
    count = str(int(SECONDS / GOSSIP_INTERVAL))  # they stop sending when the churn stops
    flags = ("--gossip-interval", str(GOSSIP_INTERVAL), "--gossip-count", count)
    staying = cluster.boot(STAYING, *flags)
    for peer in staying:
        tap.wait_event("neighbour.added", node=peer, timeout=30)
    churners = [_join(cluster, *flags) for _ in range(CHURNING)]
    rss_before = {peer: rss_mb(cluster.procs[peer].pid) for peer in staying}
    start = time.time()
    for turn in range(int(SECONDS / CHURN_EVERY)):
        time.sleep(CHURN_EVERY)  # pacing the churn
        leaving = churners.pop(0)
        cluster.procs[leaving].send_signal(signal.SIGKILL if turn % 2 else signal.SIGTERM)
        churners.append(_join(cluster, *flags))
    end = time.time()
    rss_after = {peer: rss_mb(cluster.procs[peer].pid) for peer in staying}

    sent = {
        e["id"]: e["node"]
        for e in tap.of("gossip.sent")
        if e["node"] in staying and start <= e["ts"] <= end
    }

    def missing() -> dict[str, int]:
        got: dict[str, set[str]] = {peer: set() for peer in staying}
        for e in tap.of("gossip.received"):
            if e["node"] in got and e["id"] in sent:
                got[e["node"]].add(e["id"])
        return {
            peer: sum(1 for i, origin in sent.items() if origin != peer and i not in got[peer])
            for peer in staying
        }

    tap.wait_for(lambda: not any(missing().values()), timeout=60, what="every message")
    for peer in staying:
        ids = [e["id"] for e in tap.of("gossip.received", peer) if e["id"] in sent]
        assert len(ids) == len(set(ids)), f"{peer} received a message twice"
    growth = {peer: rss_after[peer] - rss_before[peer] for peer in staying}
    print(
        f"\nsoak: {SECONDS:.0f} s, {len(sent)} messages among {STAYING} long-lived peers, "
        f"{len(cluster.ended) + len(cluster.procs) - STAYING - 3} churning peers in all; "
        f"none lost. RSS of the long-lived peers: {min(rss_before.values()):.1f}-"
        f"{max(rss_before.values()):.1f} MB -> {min(rss_after.values()):.1f}-"
        f"{max(rss_after.values()):.1f} MB (growth at most {max(growth.values()):+.1f} MB)"
    )
    assert max(growth.values()) < 20.0, f"RSS grew: {growth}"  # a leak, not noise


def _join(cluster: Cluster, *flags: str) -> str:
    address = f"127.0.0.1:{free_ports(1)[0]}"
    cluster.start("peer", address, *flags)
    return address
