"""``python -m benchmarks.run [--quick]``: every benchmark, one table, one PNG.

Each figure stands next to a baseline measured in the same run (see each module), so
that the noise of a shared 2-core machine falls on both sides of a ratio. ``--quick``
runs everything small, to keep the code working (tests/test_benchmarks.py); its
figures mean little.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import zgossip
from benchmarks import plot, propagation, raw, serf, simulation, throughput, versus, wakeup
from benchmarks.stats import Row, ms, percentile, revision, table


@dataclass(frozen=True, slots=True)
class Plan:
    """How big each benchmark runs."""

    sizes: tuple[int, ...]
    per_peer: int  # messages each peer sends at each N
    interval: float  # liveness interval of the network a peer is killed in (s)
    misses: int
    raw_hops: int
    raw_woken: int  # frames 100 ms apart for the raw receiver's CPU when woken
    raw_flood: int
    flood: int  # throughput messages
    total: int  # messages through the peer for the memory figure
    chunks: int
    sim_nodes: int
    sim_messages: int
    sim_liveness_nodes: int  # simulated with liveness running for 60 s, a tenth killed
    wake_burst: int  # messages one peer receives back to back, for its hot CPU cost
    wake_spaced: int  # messages it receives 10 ms apart, for its cost when woken
    others_n: int  # serf agents
    others_events: int
    versus_messages: int  # zgossip against Pyre, same work, at each of sizes
    serf_failure: bool


FULL = Plan(
    sizes=(10, 25, 50, 100), per_peer=4, interval=0.5, misses=3, raw_hops=2000, raw_woken=60,
    raw_flood=100_000, flood=20_000, total=1_000_000, chunks=8, sim_nodes=10_000, sim_messages=20,
    sim_liveness_nodes=1000, wake_burst=2000, wake_spaced=300,
    others_n=10, others_events=10, serf_failure=True, versus_messages=60,
)  # fmt: skip
QUICK = Plan(
    sizes=(5,), per_peer=2, interval=0.2, misses=3, raw_hops=300, raw_woken=10, raw_flood=5_000,
    flood=2_000, total=24_000, chunks=2, sim_nodes=1_000, sim_messages=5,
    sim_liveness_nodes=100, wake_burst=100, wake_spaced=20,
    others_n=3, others_events=2, serf_failure=False, versus_messages=5,
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small and fast: a smoke run")
    parser.add_argument(
        "--plot", type=Path, default=Path("benchmarks/delivery-cdf.png"), help="PNG to write"
    )
    parser.add_argument(
        "--profile", type=Path, help="run the throughput peer under cProfile, stats to this file"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    print(_header(args.quick), flush=True)
    rows, notes = _run_all(plan, args.plot, args.profile)
    print()
    print(table(rows))
    for note in notes:
        print(note)
    return 0


def _header(quick: bool) -> str:
    command = "python -m benchmarks.run" + (" --quick" if quick else "")
    return (
        f"zgossip {zgossip.__version__} ({revision()}) from {Path(zgossip.__file__).parent}\n"
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}, "
        f"Python {platform.python_version()}\ncommand: {command}"
    )


def _step(name: str) -> float:
    print(f"... {name}", file=sys.stderr, flush=True)
    return time.monotonic()


def _run_all(plan: Plan, png: Path, profile: Path | None) -> tuple[list[Row], list[str]]:
    _step("raw pyzmq + msgpack between two processes")
    raw_figures, raw_hops = raw.measure(plan.raw_hops, plan.raw_flood)
    raw_woken = raw.woken_cpu(plan.raw_woken, 0.1)
    _step(f"propagation, N = {', '.join(map(str, plan.sizes))}")
    net = propagation.measure(
        list(plan.sizes), plan.per_peer, plan.interval, plan.misses, kill_at=plan.sizes[0]
    )
    _step("CPU a message costs one peer, hot and woken")
    wake = wakeup.measure(plan.wake_burst, plan.wake_spaced, 0.01)
    _step("throughput and memory of one peer")
    peer = throughput.measure(plan.flood, plan.total, plan.chunks, profile)
    _step(f"simulation, {plan.sim_nodes} nodes")
    sim = simulation.measure(plan.sim_nodes, plan.sim_messages, plan.sim_liveness_nodes)
    _step(f"serf, {plan.others_n} agents")
    serf_figures = serf.measure(plan.others_n, plan.others_events, plan.serf_failure)
    duels: list[tuple[versus.Result, versus.Result]] = []
    for n in plan.sizes:
        _step(f"zgossip and pyre, same work, N = {n}")
        duels.append((versus.measure_zgossip(n, plan.versus_messages),
                      versus.measure_pyre(n, plan.versus_messages)))  # fmt: skip
    rows = _raw_rows(raw_figures, raw_woken)
    rows += _propagation_rows(net, raw_figures)
    rows += _cpu_rows(wake, net.stages)
    rows += _throughput_rows(peer, raw_figures)
    rows += _failure_rows(net.failure)
    rows += _memory_rows(peer)
    rows += _simulation_rows(sim)
    first = net.stages[0]
    rows += _serf_rows(serf_figures, first, net.failure)
    rows += _versus_rows(duels)
    notes = [plot.cdf_png(png, net.stages, raw_hops)]
    if peer.profile is not None:
        notes.append(f"profile of the throughput peer: {peer.profile}")
    return rows, notes


def _raw_rows(r: raw.RawFigures, woken: float) -> list[Row]:
    return [
        Row("0", "raw SUB woken every 100 ms: CPU to receive + unpack one",
            f"{woken * 1e6:.0f} us", "the floor of a Python process woken for a message"),
        Row("0", "raw PUB->SUB msgpack hop, p50 / p99", f"{ms(r.hop_p50)} / {ms(r.hop_p99)}",
            "the physical limit of one hop"),
        Row("0", "raw PUB->SUB msgpack rate", f"{r.rate:,.0f} msg/s",
            f"lost {r.lost}" if r.lost else "the physical limit of one link"),
    ]  # fmt: skip


def _propagation_rows(net: propagation.Figures, r: raw.RawFigures) -> list[Row]:
    rows = []
    for s in net.stages:
        p50, p99 = percentile(s.time_to_all, 50), percentile(s.time_to_all, 99)
        limit = s.diameter * r.hop_p50
        ratio = p50 / limit
        last = s is net.stages[-1]
        rows += [
            Row("1", f"N={s.n}: time-to-all p50 / p99 / max ({s.messages} msgs)",
                f"{ms(p50)} / {ms(p99)} / {ms(max(s.time_to_all, default=math.nan))}",
                f"ratio {ratio:.1f} = p50 / (diameter {s.diameter} x raw hop)",
                "ratio <= 2" + ("; p50 <= 2 ms" if last else ""),
                ratio <= 2 and (not last or p50 <= 0.002)),
            Row("1", f"N={s.n}: hops p50 / max; dup copies per delivery",
                f"{percentile([float(h) for h in s.hops], 50):.0f} / {max(s.hops, default=0)};"
                f" {s.duplicates_per_delivery:.2f}",
                f"{s.edges} links, mean degree {2 * s.edges / s.n:.1f}",
                "copies <= 0.2", s.duplicates_per_delivery <= 0.2),
            Row("1", f"N={s.n}: messages that never reached everyone", str(s.incomplete),
                f"of {s.messages}", "0", s.incomplete == 0),
        ]  # fmt: skip
    return rows


def _cpu_rows(w: wakeup.WakeFigures, stages: list[propagation.Stage]) -> list[Row]:
    cores = os.cpu_count() or 1
    spent = " / ".join(ms(s.cpu_per_message) for s in stages)
    return [
        Row("1", f"N={' / '.join(str(s.n) for s in stages)}: CPU all nodes spent a message",
            spent, f"/ {cores} cores: {ms(stages[-1].cpu_per_message / cores)} at N={stages[-1].n}"
            " if all in parallel"),
        Row("1", f"one peer's CPU a message: in a burst / one every {w.pause * 1000:.0f} ms",
            f"{w.hot * 1e6:.0f} us / {w.woken * 1e6:.0f} us",
            f"x{w.woken / w.hot:.1f} when woken from idle" if w.hot else ""),
    ]  # fmt: skip


def _throughput_rows(p: throughput.PeerFigures, r: raw.RawFigures) -> list[Row]:
    share = p.throughput.rate / r.rate if r.rate else math.nan
    batched = p.batched.rate / r.rate if r.rate else math.nan
    plain = p.memory.rate / r.rate if r.rate else math.nan
    return [
        Row("2", "1 peer, 4 neighbours: msgs deduped + forwarded/s",
            f"{p.throughput.rate:,.0f} msg/s", f"{share:.0%} of raw (4 copies in, 3 out)",
            ">= 50% of raw", share >= 0.5),
        Row("2", f"same, neighbours forwarding {throughput.BATCH} msgs a frame",
            f"{p.batched.rate:,.0f} msg/s", f"{batched:.0%} of raw (4 copies in, 3 out)",
            ">= 50% of raw", batched >= 0.5),
        Row("2", "same peer, no duplicates: msgs forwarded/s", f"{p.memory.rate:,.0f} msg/s",
            f"{plain:.0%} of raw (1 copy in, 3 out)"),
    ]  # fmt: skip


def _failure_rows(f: propagation.Failure | None) -> list[Row]:
    if f is None:
        return []
    theory = f.misses * f.interval
    worst = max(f.neighbours, default=math.nan)
    seeds = max(f.seeds, default=math.nan)
    return [
        Row("3", f"kill -9: neighbours' neighbour.dead, max of {len(f.neighbours)}", ms(worst),
            f"misses x interval = {f.misses} x {ms(f.interval)} = {ms(theory)}",
            f"<= {ms(theory + f.interval)}", worst <= theory + f.interval),
        Row("3", f"kill -9: every seed listing it removed it ({f.seeds_listing})",
            f"{ms(seeds)} after 1st report", f"{ms(max(f.seeds_from_kill, default=math.nan))}"
            " after the kill", "<= 50 ms after report", seeds <= 0.05),
    ]  # fmt: skip


def _memory_rows(p: throughput.PeerFigures) -> list[Row]:
    messages, end = p.rss_samples[-1]
    peak = max(p.rss_busy)
    growth = end - p.rss_start
    return [
        Row("4", f"peer RSS: start / after {messages:,} msgs, idle (peak busy)",
            f"{p.rss_start:.1f} / {end:.1f} MB ({peak:.1f})", f"growth {growth:+.1f} MB",
            "<= 40 MB, growth <= 5 MB", end <= 40 and growth <= 5),
        Row("4", "messages the peer logged as received", f"{p.delivered:,}",
            f"{p.errors} bad/internal errors"),
    ]  # fmt: skip


def _simulation_rows(s: simulation.SimFigures) -> list[Row]:
    join, live = s.join.summary, s.liveness.summary
    nodes = join["nodes"]
    log2 = math.log2(nodes)
    hop = join["last_hop"]
    removed = live["dead_removed_s"] or {"p50": math.nan, "max": math.nan}
    return [
        Row("5", f"sim {nodes:,} nodes join via 3 seeds, {join['messages']} msgs: wall, memory",
            f"{s.join.seconds:.1f} s, {s.join.peak_mb:.0f} MB",
            f"reliability min {join['reliability_min']:.4f}", "< 60 s", s.join.seconds < 60),
        Row("5", "sim: last hop p50 / max; copies per delivery",
            f"{hop['p50']:.0f} / {hop['max']:.0f}; {join['copies_per_delivery']:.2f}",
            f"log2 N = {log2:.1f}", "about log2 N", hop["max"] <= log2 + 1),
        Row("5", "sim: overlay degree exponent (MLE, k >= 2), max degree",
            f"{join['degree_exponent']}, {join['degree_max']}", "BA: 3 (finite N: lower)"),
        Row("5", f"sim {live['nodes']:,} nodes, liveness 1 s for 60 s, 10% killed: wall",
            f"{s.liveness.seconds:.1f} s",
            f"{live['false_deaths']} false deaths; dead removed p50 {removed['p50']} s, "
            f"max {removed['max']} s", "< 60 s", s.liveness.seconds < 60),
    ]  # fmt: skip


def _serf_rows(
    s: serf.SerfFigures, z: propagation.Stage, f: propagation.Failure | None
) -> list[Row]:
    if s.unavailable:
        return [Row("6", f"serf, {s.n} agents", f"n/a ({s.unavailable})")]
    rows = [
        Row("6", f"serf {s.version}, {s.n} agents: event to all handlers, p50",
            ms(percentile(s.time_to_all, 50)),
            f"zgossip N={z.n}: {ms(percentile(z.time_to_all, 50))} (time-to-all p50)"),
    ]  # fmt: skip
    if not math.isnan(s.failed_all):
        zg = f"zgossip N={z.n}: {ms(max(f.neighbours, default=math.nan))}" if f else ""
        rows.append(
            Row("6", "serf: kill -9 -> member-failed at first / all",
                f"{ms(s.failed_first)} / {ms(s.failed_all)}", f"{zg} (neighbour.dead)")
        )  # fmt: skip
    return rows


def _versus_rows(duels: list[tuple[versus.Result, versus.Result]]) -> list[Row]:
    rows = []
    for z, p in duels:
        if z.unavailable or p.unavailable:
            why = z.unavailable or p.unavailable
            rows.append(Row("7", f"N={z.n}: zgossip against pyre", f"n/a ({why})"))
            continue
        z50, z99 = (percentile(z.time_to_all, q) for q in (50, 99))
        p50, p99 = (percentile(p.time_to_all, q) for q in (50, 99))
        zc, pc = z.cpu_per_message_per_node, p.cpu_per_message_per_node
        largest = z.n == max(d[0].n for d in duels)
        target = "below pyre's" + ("; p50 <= 1/3 of it" if largest else "")
        rows += [
            Row("7", f"N={z.n}: time-to-all p50 / p99, zgossip vs pyre ({z.messages} msgs)",
                f"{ms(z50)} / {ms(z99)} vs {ms(p50)} / {ms(p99)}",
                f"incomplete {z.incomplete} vs {p.incomplete}", target,
                z50 < p50 and z99 < p99 and (not largest or z50 <= p50 / 3)),
            Row("7", f"N={z.n}: CPU a message a node, net of idle, zgossip vs pyre",
                f"{zc * 1e6:.0f} us vs {pc * 1e6:.0f} us",
                f"copies per delivery {z.copies:.2f}; idle share {z.idle_share:.0%} vs "
                f"{p.idle_share:.0%}", "<= half of pyre's", zc <= pc / 2),
        ]  # fmt: skip
    return rows


if __name__ == "__main__":
    sys.exit(main())
