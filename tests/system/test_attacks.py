"""Attacks from outside on node processes: raw pyzmq sockets speaking to their ports."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

import pytest
import zmq

from tests.support import Cluster, free_ports, kill_all, rss_mb
from zgossip.protocol import wire

pytestmark = [pytest.mark.system, pytest.mark.timeout(90)]

#: How long a node is watched for the harm an attack would do (it shows within a second).
WATCH = 2.0

_STRANGER = """
import sys, time, zmq
xsub = zmq.Context().socket(zmq.XSUB)
xsub.connect(sys.argv[1])
for n in range(8):  # a real subscription is a few dozen bytes
    xsub.send(b"\\x01" + bytes([n + 1]) * 900_000)
print("sent", flush=True)
time.sleep(60)
"""


def test_a_strangers_huge_subscriptions_do_not_eat_a_peers_memory(cluster: Cluster) -> None:
    (peer,) = cluster.boot(1, "--gossip-count", "0")
    pub = cluster.tap.wait_event("started", node=peer)["endpoints"][1]
    pid = cluster.procs[peer].pid
    before = rss_mb(pid)
    # A process of its own: libzmq frees a subscription trie this deep by recursion, and the
    # stranger's own copy overflows its stack when it closes (so it is killed, not closed).
    stranger = subprocess.Popen([sys.executable, "-c", _STRANGER, pub], stdout=subprocess.PIPE)
    try:
        assert stranger.stdout is not None and stranger.stdout.readline() == b"sent\n"
        worst, end = before, time.monotonic() + WATCH
        while time.monotonic() < end:  # an absence, watched for a bounded time
            worst = max(worst, rss_mb(pid))
            time.sleep(0.05)
    finally:
        kill_all([stranger])
    with zmq.Context() as ctx:
        pinger = ctx.socket(zmq.DEALER)
        pinger.setsockopt(zmq.LINGER, 0)
        pinger.connect(f"tcp://{peer}")
        pinger.send(wire.encode(wire.Ping("127.0.0.1:9", 1.0)))
        assert pinger.poll(5000), "the peer stopped answering"
        assert isinstance(wire.decode(pinger.recv()), wire.Pong)
        pinger.close()
    assert worst < before + 30, f"{before:.0f} MB -> {worst:.0f} MB"


def _small_disk() -> None:
    """In the child: files may grow to 64 KB, as on a nearly full disk (EFBIG, not a signal)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))


def test_a_full_disk_is_said_once_counted_and_gossip_goes_on(cluster: Cluster) -> None:
    (talker,) = cluster.boot(1, "--gossip-interval", "0.02", "--gossip-count", "100000")
    full = f"127.0.0.1:{free_ports(1)[0]}"
    cluster.start("peer", full, "--gossip-interval", "0.02", "--gossip-count", "100000",
                  preexec_fn=_small_disk)  # fmt: skip
    tap = cluster.tap
    unwritable = tap.wait_event("log.unwritable", node=full)
    assert unwritable["file"].endswith(".log") and unwritable["error"]
    said = len(tap.all)
    tap.wait_for(  # it still gossips, and still hears the others
        lambda: (
            any(e["event"] == "gossip.received" and e["node"] == full for e in tap.all[said:])
            and any(e["event"] == "gossip.received" and e["origin"] == full for e in tap.all[said:])
        ),
        what="gossip to and from the peer with the full disk",
    )
    assert len(tap.of("log.unwritable", full)) == 1  # said once, not once a line
    log = cluster.directory / f"peer-{full.replace(':', '-')}.log"
    os.truncate(log, 0)  # room again
    again = tap.wait_event("log.writable", node=full)
    assert again["lost"] > 0
    assert cluster.procs[full].poll() is None and cluster.procs[talker].poll() is None


def test_a_log_file_deleted_under_a_node_is_written_anew(cluster: Cluster) -> None:
    (peer,) = cluster.boot(1, "--gossip-interval", "0.05", "--gossip-count", "100000")
    log = cluster.directory / f"peer-{peer.replace(':', '-')}.log"
    log.unlink()
    recreated = cluster.tap.wait_event("log.recreated", node=peer)
    assert recreated["file"].endswith(log.name)
    cluster.tap.wait_for(lambda: log.exists() and log.stat().st_size > 0, what="a new log")


FLOOD_LINES = 20_000


def test_a_flooding_origin_is_paced_and_every_line_it_sent_arrives(cluster: Cluster) -> None:
    (listener,) = cluster.boot(1, "--gossip-count", "0")
    origin = f"127.0.0.1:{free_ports(1)[0]}"
    proc = cluster.start("peer", origin, "--stdin", "--gossip-count", "0", stdin=subprocess.PIPE)
    tap = cluster.tap
    tap.wait_event("neighbour.added", node=origin)
    assert proc.stdin is not None
    proc.stdin.write(b"".join(b"line %d\n" % n for n in range(FLOOD_LINES)))  # all at once
    proc.stdin.close()
    tap.wait_for(
        lambda: len(tap.of("gossip.received", listener)) == FLOOD_LINES,
        timeout=50,
        what=f"all {FLOOD_LINES} lines at the listener",
    )
    # the origin sends a turn's messages before it writes that turn's lines: the
    # listener may say it received the last ones before the origin has said it sent them
    tap.wait_for(
        lambda: len(tap.of("gossip.sent", origin)) == FLOOD_LINES,
        timeout=10,
        what=f"all {FLOOD_LINES} lines said sent at the origin",
    )
    assert tap.of("broadcast.paced", origin), "the flood was not paced"
    assert not tap.of("liveness.late", origin), "the flood starved liveness"
    assert not [e for e in tap.of("peer.removed") if e["peer"] == origin]
