"""The physical limit in this run: raw pyzmq PUB -> SUB with msgpack, between two processes.

The sender (a child process, ``python -m benchmarks.raw``) packs a frame shaped like a
zgossip gossip frame (same fields, same size, same two-frame message) and the receiver
(this process) unpacks it: exactly the work a gossip hop cannot avoid, and nothing else.

:func:`woken_cpu` turns it round: a child receives and unpacks frames that come
``pause`` apart, sleeping in a poll between them as a peer does, and its CPU a frame is
the floor of a Python process per node that is woken for each message.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

import msgpack
import zmq

from benchmarks.procs import cpu_seconds
from benchmarks.stats import percentile
from zgossip.protocol import wire

#: Poll timeout after which a missing message counts as lost (the run goes on).
_QUIET_MS = 5000
#: Floods a rate is the median of: one flood's rate varies by a fifth on a shared machine.
RUNS = 3


@dataclass(frozen=True, slots=True)
class RawFigures:
    hop_p50: float  # seconds, one PUB->SUB hop
    hop_p99: float
    rate: float  # messages per second, received and unpacked
    lost: int


def frame(seq: int) -> bytes:
    """A message as a zgossip PUB sends it: one frame, sender id then msgpack envelope."""
    now = time.time()
    envelope = {
        "v": wire.VERSION,
        "type": "gossip",
        "origin": "127.0.0.1:40000",
        "seq": seq,
        "ts": now,
        "body": f"{now:.6f}:127.0.0.1:{seq}",
    }
    return wire.gossip_frame(b"127.0.0.1:40000", msgpack.packb(envelope, use_bin_type=True))


def send(endpoint: str, count: int, interval: float) -> None:
    """Child side: connect an XPUB, wait for the SUB's subscription, send ``count`` frames."""
    with zmq.Context() as ctx, ctx.socket(zmq.XPUB) as pub:
        pub.setsockopt(zmq.SNDHWM, 0)  # never drop: the receiver's pace is what we measure
        pub.setsockopt(zmq.LINGER, 5000)
        pub.connect(endpoint)
        pub.recv()  # the subscription: from now on nothing is lost to the slow joiner
        for seq in range(count):
            pub.send(frame(seq))
            if interval:
                time.sleep(interval)  # pacing the load, not waiting for anything


def _receive(count: int, interval: float) -> tuple[list[float], float, int]:
    """Parent side: bind a SUB, start the sender, unpack what arrives.

    Returns the one-way latencies, the receive rate and how many never came.
    """
    latencies: list[float] = []
    with zmq.Context() as ctx, ctx.socket(zmq.SUB) as sub:
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        port = sub.bind_to_random_port("tcp://127.0.0.1")
        args = [sys.executable, "-m", "benchmarks.raw", f"tcp://127.0.0.1:{port}"]
        child = subprocess.Popen([*args, str(count), str(interval)])
        try:
            first = last = 0.0
            while len(latencies) < count and sub.poll(_QUIET_MS):
                _, payload = wire.split_gossip(sub.recv())
                last = time.time()
                latencies.append(last - msgpack.unpackb(payload, raw=False)["ts"])
                first = first or last
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    rate = (len(latencies) - 1) / (last - first) if last > first else 0.0
    return latencies, rate, count - len(latencies)


def measure(hops: int, flood: int) -> tuple[RawFigures, list[float]]:
    """Raw hop latency over ``hops`` paced messages, raw rate over a ``flood`` (the median
    of ``RUNS``).

    Returns the figures and the hop latencies (for the CDF plot).
    """
    latencies, _, lost = _receive(hops, 0.001)
    rates = []
    for _ in range(RUNS):
        _, rate, lost_flood = _receive(flood, 0.0)
        rates.append(rate)
        lost += lost_flood
    figures = RawFigures(
        hop_p50=percentile(latencies, 50),
        hop_p99=percentile(latencies, 99),
        rate=percentile(rates, 50),
        lost=lost,
    )
    return figures, latencies


def woken_cpu(count: int, pause: float) -> float:
    """CPU seconds a child spends to be woken for, receive and unpack one frame, with the
    frames ``pause`` apart (it sleeps in a poll between them)."""
    with zmq.Context() as ctx, ctx.socket(zmq.XPUB) as pub:
        pub.setsockopt(zmq.LINGER, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        args = [sys.executable, "-m", "benchmarks.raw", "receive", f"tcp://127.0.0.1:{port}"]
        child = subprocess.Popen([*args, str(count)])
        try:
            pub.recv()  # its subscription: it is up and waiting
            before = cpu_seconds(child.pid)
            for seq in range(count):
                pub.send(frame(seq))
                time.sleep(pause)  # pacing: each frame finds the child asleep
            spent = cpu_seconds(child.pid) - before
            pub.send(frame(count))  # one more, to let it go: its exit is not counted
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    return spent / count


def receive(endpoint: str, count: int) -> None:
    """Child side of :func:`woken_cpu`: a SUB that polls, receives and unpacks ``count``
    frames and one more, which ends it."""
    with zmq.Context() as ctx, ctx.socket(zmq.SUB) as sub:
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(endpoint)
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        for _ in range(count + 1):
            if not poller.poll(_QUIET_MS):
                return
            _, payload = wire.split_gossip(sub.recv())
            msgpack.unpackb(payload, raw=False)


if __name__ == "__main__":
    if sys.argv[1] == "receive":
        receive(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
