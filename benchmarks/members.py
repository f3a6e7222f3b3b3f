"""``python -m benchmarks.members``: how fast member lists learn, what a member costs, and
how soon a query ends.

``procs``: 3 seeds and ``--peers`` peer processes (the installed command, default
timers), each writing its JSON event log. Once every peer lists every other:

- ``--changes`` tag changes, one peer at a time (``zgossip tag --via``, as a client):
  from the client's request to each other peer's ``member.updated``;
- ``--leaves`` peers stopped with SIGTERM: from the signal to each ``member.left``;
- ``--kills`` peers killed -9: from the seeds' decision (the first ``peer.removed``) to
  each ``member.failed``;
- ``--queries`` queries to the peers tagged ``q=yes`` (``--matching`` of them) through
  another peer (``zgossip query --via``, as a client): from the last answer to the
  client's exit; and one with a matching peer killed -9 first.

``sim``: the simulator (the real cores) at ``--nodes`` peers, each with a tag: from the
last join to the moment every live peer's list holds every member with its tags.

``cost``: the bytes one member list takes a member, measured with tracemalloc on a list
filled from decoded frames (as a peer's is: nothing shared).
"""

from __future__ import annotations

import argparse
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks.burst import Logs, start_node, wait_until
from tests.support import ZGOSSIP, free_ports, kill_all, write_config
from zgossip.protocol import wire
from zgossip.protocol.members import Members
from zgossip.simulate import Scenario, Simulation
from zgossip.tools import survey


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _show(name: str, values: list[float]) -> None:
    print(
        f"{name}: n={len(values)} p50={_pct(values, 0.5) * 1000:.0f} ms "
        f"p99={_pct(values, 0.99) * 1000:.0f} ms max={max(values) * 1000:.0f} ms",
        flush=True,
    )


def procs(peers: int, changes: int, leaves: int, kills: int, queries: int, matching: int) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="zgossip-members-") as tmp:
        directory, logs = Path(tmp), Logs()
        seed_ports = free_ports(3)
        write_config(directory / "config.txt", seed_ports)
        procs = {f"127.0.0.1:{p}": start_node(directory, logs, "seed", p) for p in seed_ports}
        names = []
        try:
            for k, port in enumerate(free_ports(peers)):
                flags = ["--gossip-count", "0", "--tag", f"q={'yes' if k < matching else 'no'}"]
                names.append(f"127.0.0.1:{port}")
                procs[names[-1]] = start_node(directory, logs, "peer", port, *flags)
            started = time.monotonic()

            def everyone_listed() -> bool:
                joined: dict[str, set[str]] = {}
                for e in logs.events:
                    if e["event"] == "member.joined":
                        joined.setdefault(e["node"], set()).add(e["member"])
                return all(len(joined.get(p, ())) >= peers - 1 for p in names)

            if not wait_until(logs, time.monotonic() + 120, everyone_listed):
                raise SystemExit("the member lists did not fill within 120 s")
            print(f"{peers} peers: every list full {time.monotonic() - started:.1f} s after start")
            live = list(names)

            def heard(event: str, member: str, count: int, since: float) -> list[float]:
                def enough() -> bool:
                    return len(_at(logs, event, member)) >= count

                wait_until(logs, time.monotonic() + 30, enough)
                return [ts - since for ts in _at(logs, event, member).values()]

            delays: list[float] = []
            for k in range(changes):
                peer = rng.choice(live)
                start = time.time()
                survey.tag(peer, (("change", str(k)),), (), 5.0)
                got = heard("member.updated", peer, len(live) - 1, start)
                delays += got
                logs.events = [e for e in logs.events if e["event"] != "member.updated"]
            if delays:
                _show("tag change, request to each member.updated", delays)
            for label, count, how in (("leave", leaves, signal.SIGTERM), ("kill", kills, None)):
                delays = []
                for _ in range(count):
                    peer = rng.choice(live[matching:])
                    live.remove(peer)
                    start = time.time()
                    if how is None:
                        procs[peer].kill()
                        event = "member.failed"
                    else:
                        procs[peer].send_signal(how)
                        event = "member.left"
                    got = heard(event, peer, len(live), start)
                    if how is None:  # from the seeds' decision
                        wait_until(logs, time.monotonic() + 30, lambda p=peer: _decided(logs, p))
                        decided = _decided(logs, peer)
                        assert decided is not None
                        got = [d + start - decided for d in got]
                    delays += got
                    if len(got) < len(live):
                        print(f"  {label} {peer}: only {len(got)} of {len(live)} heard", flush=True)
                if delays:
                    what = "SIGTERM" if how else "the seeds' decision"
                    _show(f"{label}, {what} to each member.{event.split('.')[1]}", delays)
            for k in range(queries):
                via = live[-1]
                victim = live[0] if k == queries - 1 else None
                if victim is not None:
                    procs[victim].kill()
                    live.remove(victim)
                ask = wire.Ask("info", "", (("q", "yes"),), 10.0)
                start = time.monotonic()
                last = 0.0
                answers = 0
                for message in survey.query(via, ask):
                    if isinstance(message, wire.Answered):
                        answers, last = answers + 1, time.monotonic()
                    else:
                        end = time.monotonic()
                        print(
                            f"query {k + 1}{' (one matching killed first)' if victim else ''}: "
                            f"{answers} answers of {message.expected} asked, last at "
                            f"{(last - start) * 1000:.0f} ms, end {(end - last) * 1000:.0f} ms "
                            f"after it; missing {list(message.missing)} gone {list(message.gone)}"
                            f"{' (timed out)' if message.timed_out else ''}",
                            flush=True,
                        )
            _cli_query(directory, live[-1])
        finally:
            kill_all(procs.values())
            logs.close()


def _cli_query(directory: Path, via: str) -> None:
    """``zgossip query --via`` as a user runs it: from its last answer line to its exit."""
    cli = subprocess.Popen(
        [ZGOSSIP, "query", "--via", via, "info", "--tag", "q=yes", "--json", "--timeout", "5"],
        cwd=directory,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert cli.stdout is not None
    last, answers = 0.0, 0
    for line in cli.stdout:
        if '"ended"' not in line:
            last, answers = time.monotonic(), answers + 1
    cli.wait()
    print(
        f"zgossip query --via (a process): {answers} answers, exit "
        f"{(time.monotonic() - last) * 1000:.0f} ms after the last (timeout 5 s)",
        flush=True,
    )


def _at(logs: Logs, event: str, member: str) -> dict[str, float]:
    """When each node first said ``event`` of ``member``."""
    first: dict[str, float] = {}
    for e in logs.events:
        if e["event"] == event and e.get("member") == member:
            first.setdefault(e["node"], e["ts"])
    return first


def _decided(logs: Logs, peer: str) -> float | None:
    times = [e["ts"] for e in logs.events if e["event"] == "peer.removed" and e.get("peer") == peer]
    return min(times) if times else None


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def sim(nodes: int) -> None:
    scenario = Scenario(nodes=nodes, messages=0, seed=1, members=True)
    simulation = Simulation(scenario)
    wall = time.perf_counter()
    simulation.boot()
    joined: list[str] = []

    def join() -> None:
        peer = simulation.join()
        simulation.tag(peer, [("n", str(len(joined)))])
        joined.append(peer)

    for k in range(nodes):
        simulation.at(k * scenario.join_interval, join)
    last = (nodes - 1) * scenario.join_interval
    for k in range(1000, nodes, 1000):  # a long run says how far it is
        simulation.advance(k * scenario.join_interval)
        print(
            f"  {k} joined: wall {time.perf_counter() - wall:.0f} s, "
            f"max RSS {_max_rss_mb():.0f} MB",
            flush=True,
        )
    simulation.advance(last)
    step = 0.1
    while simulation.now < last + 60:
        simulation.advance(simulation.now + step)
        peers = simulation.peers()
        if len({p.members.sums() for p in peers}) == 1 and all(
            len(p.members) == nodes for p in peers
        ):
            tags = {f.peer: f.tags for f in peers[0].members}
            assert all(tags[p] == (("n", str(k)),) for k, p in enumerate(joined))
            print(
                f"simulated {nodes} peers: every list complete, latest tags, "
                f"{simulation.now - last:.1f} s after the last join "
                f"(wall {time.perf_counter() - wall:.0f} s, max RSS {_max_rss_mb():.0f} MB)",
                flush=True,
            )
            return
    print(f"simulated {nodes} peers: lists still differ 60 s after the last join")


def cost(members: int) -> None:
    facts = tuple(
        wire.Fact(
            f"10.{k // 65536}.{k // 256 % 256}.{k % 256}:5000",
            1_767_225_600_000_000_000 + k,
            1,
            "alive",
            1_767_225_600.0 + k,
            (("role", "web"), ("zone", f"eu-{k % 3}")),
        )
        for k in range(members)
    )
    frame = wire.encode(wire.Facts("10.255.255.255:5000", facts, True, False))
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    table = Members("10.255.255.254:5000", run=1, since=0.0, tags=(), limit=members + 1, keep=1e9)
    decoded = wire.decode(frame)
    assert isinstance(decoded, wire.Facts)
    for fact in decoded.facts:
        table.merge(fact, 1_767_225_600.0)
    del decoded
    after = tracemalloc.take_snapshot()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(
        f"member list of {len(table)} members, 2 tags each: {size / len(table):.0f} bytes a member "
        f"(a fact on the wire: {len(frame) / members:.0f} bytes)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.members")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("procs")
    p.add_argument("--peers", type=int, default=50)
    p.add_argument("--changes", type=int, default=20)
    p.add_argument("--leaves", type=int, default=5)
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--queries", type=int, default=4)
    p.add_argument("--matching", type=int, default=10)
    s = sub.add_parser("sim")
    s.add_argument("--nodes", type=int, default=1000)
    c = sub.add_parser("cost")
    c.add_argument("--members", type=int, default=10_000)
    args: Any = parser.parse_args(argv)
    if args.what == "procs":
        procs(args.peers, args.changes, args.leaves, args.kills, args.queries, args.matching)
    elif args.what == "sim":
        sim(args.nodes)
    else:
        cost(args.members)


if __name__ == "__main__":
    main(sys.argv[1:])
