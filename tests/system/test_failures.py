"""Failures and interaction, with the installed command as processes."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.support import Cluster, free_ports

pytestmark = pytest.mark.system


def test_stalled_peer_accuses_no_live_neighbour_and_rejoins(cluster: Cluster) -> None:
    others = cluster.boot(3, "--gossip-count", "100000")  # gossip never stops
    tap = cluster.tap
    stalled = f"127.0.0.1:{free_ports(1)[0]}"
    cluster.start("peer", stalled, "--gossip-count", "100000", "--liveness-misses", "2")
    tap.wait_event("neighbour.added", node=stalled)
    # Catch it with a ping out: pause everyone else until it has missed one answer (and
    # sent a new ping), pause it, then let the others answer into its unread buffers.
    for peer in others:
        cluster.procs[peer].send_signal(signal.SIGSTOP)
    try:
        tap.wait_event("liveness.missed", node=stalled)
        cluster.procs[stalled].send_signal(signal.SIGSTOP)
        stopped_at = time.time()
    finally:
        for peer in others:
            cluster.procs[peer].send_signal(signal.SIGCONT)
    try:  # stopped well past the miss window: its neighbours and seeds give it up
        tap.wait_event("neighbour.dead", timeout=30, neighbour=stalled)
        tap.wait_event("peer.removed", timeout=30, peer=stalled)
        resumed = len(tap.all)  # what follows, follows the resume
    finally:
        cluster.procs[stalled].send_signal(signal.SIGCONT)
        continued_at = time.time()
    tap.wait_event("liveness.late", timeout=30, node=stalled)

    def back() -> bool:  # registered, linked, and hearing new gossip again
        later = tap.all[resumed:]
        return (
            any(e["event"] == "peer.registered" and e["peer"] == stalled for e in later)
            and any(e["event"] == "neighbour.added" and e["neighbour"] == stalled for e in later)
            and any(e["event"] == "gossip.received" and e["node"] == stalled for e in later)
        )

    tap.wait_for(back, timeout=30, what="the stalled peer back in the network")
    assert not tap.of("neighbour.dead", stalled), "a stalled peer accused a live neighbour"

    def caught_up() -> bool:  # given up for dead meanwhile, it still gets what it missed
        # (not its own: once SIGCONT wakes it, it may send before continued_at is read)
        missed = {e["id"] for e in tap.of("gossip.sent")
                  if e["node"] != stalled and stopped_at <= e["ts"] < continued_at}  # fmt: skip
        return missed <= {e["id"] for e in tap.of("gossip.received", stalled)}

    tap.wait_for(caught_up, timeout=30, what="every message sent while it was stopped")
    assert not tap.of("gossip.lost", stalled)


def test_stdin_lines_are_gossiped_to_the_network(cluster: Cluster) -> None:
    (listener,) = cluster.boot(1, "--gossip-count", "0")
    talker = f"127.0.0.1:{free_ports(1)[0]}"
    proc = cluster.start("peer", talker, "--stdin", "--gossip-count", "0", stdin=subprocess.PIPE)
    assert proc.stdin is not None
    cluster.tap.wait_event("neighbour.added", node=talker)
    proc.stdin.write(b"hello, network\n\nsecond line\n")
    proc.stdin.flush()
    cluster.tap.wait_for(
        lambda: len(cluster.tap.of("gossip.received", listener)) == 2, what="two lines"
    )
    bodies = [e["body"] for e in cluster.tap.of("gossip.received", listener)]
    assert bodies == ["hello, network", "second line"]
    proc.stdin.close()  # the end of stdin does not stop the peer
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 0


def test_a_seed_killed_and_restarted_empty_is_refilled_by_the_peers(cluster: Cluster) -> None:
    cluster.boot(4, "--gossip-count", "0")
    tap = cluster.tap
    # as the peers hold it (a seed may also hold a peer that gave it up as slow to answer)
    held = {
        s: {e["node"] for e in tap.of("seed.registered") if e["seed"] == s} for s in cluster.seeds
    }
    seed = max(held, key=lambda s: len(held[s]))
    cluster.procs[seed].kill()  # kill -9: no goodbye, its list is gone
    cluster.procs[seed].wait()
    for peer in held[seed]:
        tap.wait_event("seed.lost", timeout=30, node=peer, seed=seed)
    mark = len(tap.all)
    cluster.start("seed", seed)

    def refilled() -> set[str]:
        later = tap.all[mark:]
        return {e["peer"] for e in later if e["event"] == "peer.registered" and e["node"] == seed}

    tap.wait_for(lambda: held[seed] <= refilled(), timeout=30, what="the restarted seed refilled")


def test_messages_sent_right_after_a_third_of_the_peers_die_reach_every_survivor(
    cluster: Cluster,
) -> None:
    for seed in cluster.seeds:
        cluster.start("seed", seed)
    tap = cluster.tap
    peers = [f"127.0.0.1:{port}" for port in free_ports(12)]
    for peer in peers:
        cluster.start("peer", peer, "--stdin", "--gossip-count", "0", stdin=subprocess.PIPE)
        tap.wait_event("seed.registered", node=peer)
    for peer in peers:
        tap.wait_event("neighbour.added", node=peer)

    def say(peer: str, body: str) -> None:
        stdin = cluster.procs[peer].stdin
        assert stdin is not None
        stdin.write(body.encode() + b"\n")
        stdin.flush()

    def reaches(body: str, who: list[str]) -> None:
        def got() -> bool:
            return {e["node"] for e in tap.of("gossip.received") if e["body"] == body} >= set(who)

        tap.wait_for(got, timeout=30, what=f"{body!r} at {len(who)} peers")

    for k, peer in enumerate(peers[:4]):  # the tree forms: copies prune their links
        say(peer, f"warm-up {k}")
        reaches(f"warm-up {k}", [p for p in peers if p != peer])
    killed, survivors = peers[::3], [p for p in peers if p not in peers[::3]]
    for peer in killed:  # kill -9, all at once: a third of the tree's links are gone
        cluster.procs[peer].kill()
    for k, peer in enumerate(survivors[:4]):
        say(peer, f"after {k}")
    for k, peer in enumerate(survivors[:4]):
        reaches(f"after {k}", [p for p in survivors if p != peer])
    receipts = [(e["node"], e["body"]) for e in tap.of("gossip.received")]
    assert len(receipts) == len(set(receipts)), "a message was received twice"
