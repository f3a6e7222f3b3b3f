"""``python -m benchmarks.burst``: a burst, and whether any message went missing unsaid.

3 seeds and ``--peers`` peer processes (the installed command, default timers), each
writing its JSON event log to a file. Once linked, one peer is fed ``--lines`` lines on
``--stdin`` in ``--seconds`` seconds while ``--quiet`` others gossip ``--each`` messages
apiece over the same time. Then, up to ``--drain`` seconds, until every message is
accounted for: each origin's ``gossip.sent`` must be, at every other peer, a
``gossip.received`` or named in a ``gossip.lost`` (by its seq, or its id). Printed a run:
what reached whom, what was said lost, what is unexplained (neither), when the last
message arrived after the burst, and the tree's prunes and grafts during the burst, against
the messages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.support import ZGOSSIP, free_ports, kill_all, write_config

POLL = 0.5  # seconds between two reads of the logs


class Logs:
    """Every node's JSON event log, read incrementally from its file."""

    def __init__(self) -> None:
        self._files: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []

    def add(self, path: Path) -> None:
        path.touch()
        self._files[str(path)] = path.open("rb")

    def read(self) -> list[dict[str, Any]]:
        new: list[dict[str, Any]] = []
        for handle in self._files.values():
            while line := handle.readline():
                if not line.endswith(b"\n"):  # a line still being written
                    handle.seek(-len(line), 1)
                    break
                new.append(json.loads(line))
        self.events += new
        return new

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()


def start_node(
    directory: Path, logs: Logs, role: str, port: int, *flags: str, stdin: int | None = None
) -> subprocess.Popen[bytes]:
    name = f"{role}-{port}"
    log = directory / f"{name}.jsonl"
    logs.add(log)
    with open(directory / f"{name}.out", "wb") as out:
        return subprocess.Popen(
            [ZGOSSIP, role, "--port", str(port), "--json-log", str(log), *flags],
            cwd=directory,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=out,
            stderr=out,
        )


def wait_until(logs: Logs, until: float, done: Any) -> bool:
    while time.monotonic() < until:
        logs.read()
        if done():
            return True
        time.sleep(POLL)
    return False


@dataclass(slots=True)
class StdinNetwork:
    """3 seeds and peers reading ``--stdin``, linked; their logs, processes and feeds."""

    logs: Logs
    peers: list[str]
    procs: dict[str, subprocess.Popen[bytes]]  # by address, seeds too
    feeds: dict[str, IO[bytes]]  # each peer's stdin


@contextlib.contextmanager
def stdin_network(prefix: str, peers: int) -> Iterator[StdinNetwork]:
    """Start the network (default timers), wait until every peer linked and 2 s more; stop
    every process (a stopped one continued first) and close the logs at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        directory = Path(tmp)
        net = StdinNetwork(Logs(), [], {}, {})
        try:
            seed_ports = free_ports(3)
            write_config(directory / "config.txt", seed_ports)
            for port in seed_ports:
                net.procs[f"127.0.0.1:{port}"] = start_node(directory, net.logs, "seed", port)
            for port in free_ports(peers):
                address = f"127.0.0.1:{port}"
                proc = start_node(
                    directory, net.logs, "peer", port, "--stdin", "--gossip-count", "0",
                    stdin=subprocess.PIPE,
                )  # fmt: skip
                assert proc.stdin is not None
                net.peers.append(address)
                net.procs[address], net.feeds[address] = proc, proc.stdin

            def linked() -> bool:
                added = {e["node"] for e in net.logs.events if e["event"] == "neighbour.added"}
                return added >= set(net.peers)

            if not wait_until(net.logs, time.monotonic() + 60, linked):
                raise SystemExit("the peers did not link within 60 s")
            time.sleep(2.0)  # the overlay settles
            yield net
        finally:
            for proc in net.procs.values():
                if proc.poll() is None:  # a stopped process is killed all the same,
                    os.kill(proc.pid, signal.SIGCONT)  # but it should not wait on us
                if proc.stdin is not None:
                    proc.stdin.close()
            kill_all(net.procs.values())
            net.logs.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    with stdin_network("zgossip-burst-", args.peers) as net:
        logs, peers, feeds = net.logs, net.peers, net.feeds
        flooder, quiet = peers[-1], peers[: args.quiet]
        start, wall = time.monotonic(), time.time()
        lines = 0
        ticks = int(args.seconds * 100)
        for tick in range(ticks):  # every 10 ms: the flooder's share, a quiet one's turn
            time.sleep(max(0.0, start + tick / 100 - time.monotonic()))
            due = args.lines * (tick + 1) // ticks
            batch = b"".join(f"burst {n}\n".encode() for n in range(lines, due))
            lines = due
            feeds[flooder].write(batch)
            feeds[flooder].flush()
            for k, origin in enumerate(quiet):
                if tick * args.each // ticks != (tick + 1) * args.each // ticks:
                    feeds[origin].write(f"quiet {k} {tick}\n".encode())
                    feeds[origin].flush()
        sent_by: dict[str, int] = {
            p: (args.lines if p == flooder else args.each) for p in [*quiet, flooder]
        }

        def all_sent() -> bool:
            counts = Counter(e["node"] for e in logs.events if e["event"] == "gossip.sent")
            return all(counts[p] >= n for p, n in sent_by.items())

        wait_until(logs, time.monotonic() + 60, all_sent)
        figures: dict[str, Any] = {}

        def accounted() -> bool:
            figures.update(_account(logs.events, peers))
            return bool(figures["unexplained"] == 0)

        wait_until(logs, time.monotonic() + args.drain, accounted)
        tree = Counter(
            e["event"]
            for e in logs.events
            if e["event"] in ("gossip.prune", "gossip.graft") and e["ts"] <= wall + args.seconds + 1
        )
        figures["prunes"], figures["grafts"] = tree["gossip.prune"], tree["gossip.graft"]
        figures["burst_s"] = args.seconds
        return figures


def _account(events: list[dict[str, Any]], peers: list[str]) -> dict[str, Any]:
    """Each sent message at each other peer: received, said lost, or unexplained."""
    sent: dict[str, tuple[str, int, float]] = {}  # id -> origin, seq, when
    for e in events:
        if e["event"] == "gossip.sent":
            sent[e["id"]] = (e["node"], e.get("seq", 0), e["ts"])  # older peers log no seq
    got: dict[str, set[str]] = defaultdict(set)  # id -> peers that received it
    last = 0.0
    for e in events:
        if e["event"] == "gossip.received" and e["id"] in sent:
            got[e["id"]].add(e["node"])
            last = max(last, e["ts"])
    lost_seqs: set[tuple[str, str, int]] = set()  # (peer, origin, seq)
    lost_ids: set[tuple[str, str]] = set()
    for e in events:
        if e["event"] == "gossip.lost":
            for seq in e.get("seqs") or []:
                lost_seqs.add((e["node"], e["origin"], seq))
            for msg_id in e.get("ids") or []:
                lost_ids.add((e["node"], msg_id))
    by_origin: dict[str, Counter[str]] = defaultdict(Counter)
    for msg_id, (origin, seq, _) in sent.items():
        for peer in peers:
            if peer == origin:
                continue
            if peer in got[msg_id]:
                outcome = "received"
            elif (peer, origin, seq) in lost_seqs or (peer, msg_id) in lost_ids:
                outcome = "lost"
            else:
                outcome = "unexplained"
            by_origin[origin][outcome] += 1
    total = sum(by_origin.values(), Counter())
    last_sent = max((when for _, _, when in sent.values()), default=0.0)
    return {
        "sent": len(sent),
        "deliveries": total["received"] + total["lost"] + total["unexplained"],
        "received": total["received"],
        "lost": total["lost"],
        "unexplained": total["unexplained"],
        "last_after_s": round(last - last_sent, 3) if last else None,
        "by_origin": {o: dict(c) for o, c in by_origin.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.burst", description=__doc__)
    parser.add_argument("--peers", type=int, default=8)
    parser.add_argument("--lines", type=int, default=24_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quiet", type=int, default=3)
    parser.add_argument("--each", type=int, default=50)
    parser.add_argument("--drain", type=float, default=90.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    for k in range(args.runs):
        f = run(args)
        print(
            f"run {k + 1}: {f['sent']} messages, {f['received']} of {f['deliveries']} deliveries "
            f"received, {f['lost']} said lost, {f['unexplained']} unexplained; last receipt "
            f"{f['last_after_s']} s after the last sending; prunes {f['prunes']}, grafts "
            f"{f['grafts']} in the burst ({f['prunes'] / f['burst_s']:.1f} / "
            f"{f['grafts'] / f['burst_s']:.1f} a second)",
            flush=True,
        )
        for origin, outcome in sorted(f["by_origin"].items()):
            print(f"    {origin}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
