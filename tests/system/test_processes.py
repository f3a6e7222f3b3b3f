"""The installed ``zgossip`` command, run as processes on loopback: as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator

import pytest
import zmq

from tests.support import ZGOSSIP, Cluster

pytestmark = pytest.mark.system

PEERS, MESSAGES = 8, 5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """3 seeds and 8 peers, started one after the other as a user would."""
    network = Cluster(tmp_path_factory.mktemp("cluster"), seeds=3)
    try:
        network.boot(PEERS, "--gossip-count", str(MESSAGES))
        yield network
    finally:
        network.close()
    assert not network.tap.of("internal.error"), network.tap.of("internal.error")


def _peers(cluster: Cluster) -> list[str]:
    return [a for a in cluster.procs if a not in cluster.seeds]


def test_every_message_reaches_every_other_peer_exactly_once(cluster: Cluster) -> None:
    peers = _peers(cluster)
    expected = (len(peers) - 1) * MESSAGES
    tap = cluster.tap
    tap.wait_for(
        lambda: all(len(tap.of("gossip.received", p)) >= expected for p in peers),
        timeout=60,
        what=f"{expected} messages at each peer",
    )
    sent = {e["id"]: e["node"] for e in tap.of("gossip.sent")}
    assert len(sent) == len(peers) * MESSAGES
    for peer in peers:
        received = tap.of("gossip.received", peer)
        counts = Counter(e["id"] for e in received)
        assert max(counts.values()) == 1, f"{peer} received a message twice"
        assert set(counts) == {i for i, origin in sent.items() if origin != peer}
        assert all(e["from"] in cluster.procs and e["origin"] == sent[e["id"]] for e in received)


def test_killed_peer_is_reported_by_neighbours_and_removed_by_its_seeds(cluster: Cluster) -> None:
    tap = cluster.tap
    victim = _peers(cluster)[2]
    holders = {e["node"] for e in tap.of("peer.registered") if e["peer"] == victim}
    cluster.procs[victim].send_signal(signal.SIGKILL)
    dead = tap.wait_event("neighbour.dead", timeout=30, neighbour=victim)
    tap.wait_event("dead.reported", timeout=30, node=dead["node"], dead=victim)
    for seed in holders:
        removed = tap.wait_event("peer.removed", timeout=30, node=seed, peer=victim)
        assert removed["reason"] == "dead" and "reporter" in removed


def test_terminated_peer_leaves_and_exits_zero(cluster: Cluster) -> None:
    tap = cluster.tap
    leaver = _peers(cluster)[4]
    holders = {e["node"] for e in tap.of("peer.registered") if e["peer"] == leaver}
    cluster.procs[leaver].send_signal(signal.SIGTERM)
    assert cluster.procs[leaver].wait(timeout=20) == 0
    tap.wait_event("stopped", node=leaver)
    for seed in holders:
        assert tap.wait_event("peer.removed", node=seed, peer=leaver)["reason"] == "left"


def test_garbage_on_a_seed_and_a_peer_port_is_survived(cluster: Cluster) -> None:
    tap = cluster.tap
    peer = _peers(cluster)[0]
    for target in (cluster.seeds[0], peer):
        host, port = target.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(os.urandom(4096))
        with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as dealer:
            dealer.setsockopt(zmq.LINGER, 1000)
            dealer.connect(f"tcp://{target}")
            dealer.send_multipart([b"\x92\x01\x02", b"extra"])
            dealer.send(b"\xc1 not msgpack")
            tap.wait_for(lambda t=target: len(tap.of("bad.message", t)) >= 2, what="bad.message")
    listing = subprocess.run(
        [ZGOSSIP, "peers", "--json", "--config", str(cluster.config)],
        capture_output=True,
        timeout=30,
        check=True,
    )
    seeds = json.loads(listing.stdout)["seeds"]
    assert seeds[cluster.seeds[0]] is not None
    assert any(peer in {p["peer"] for p in listed or ()} for listed in seeds.values())
    assert all(cluster.procs[n].poll() is None for n in (cluster.seeds[0], peer))
