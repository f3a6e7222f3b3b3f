"""``python -m benchmarks.parts``: many deaths at once can leave the survivors in parts that
no link joins; how often, and how soon the digests across (``Config.cross_rounds``) join
them again.

``--runs`` simulated networks (the real cores, see :mod:`zgossip.simulate`) of ``--nodes``
peers and 3 seeds, 1 s liveness; ``--fail`` of the peers are killed at once, then a survivor
broadcasts a message every half second for ``--watch`` seconds. Each run goes twice, with
the digests across every 4 intervals (the default) and with none (``cross_rounds = 0``):
the kill comes before the first digest across, so both runs of a seed lose the same peers
and relink the same way. Printed for each: the runs whose survivors were in parts 5 s after
the kill (every dead link replaced by then: the kernel closes a dead peer's connections at
once), how many of those were one part again by the end and how long after the kill, and
the messages that never reached every survivor.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from benchmarks.overlay_state import distances
from benchmarks.stats import percentile
from zgossip.protocol import records
from zgossip.simulate import Scenario, Simulation

#: Seconds between two looks at the overlay, and between two messages.
STEP, SPACING = 0.1, 0.5
#: After the kill, when the survivors have replaced their dead links.
SETTLED = 5.0


def _parts(sim: Simulation) -> int:
    """How many parts the live peers' links make (a link to a dead peer joins nothing)."""
    live = {p.id for p in sim.peers()}
    graph = {p.id: {n.id for n in p.neighbours.values() if n.up} & live for p in sim.peers()}
    left, parts = set(graph), 0
    while left:
        parts += 1
        left -= set(distances(graph, next(iter(left))))
    return parts


def run(nodes: int, fail: float, seed: int, cross_rounds: int, watch: float) -> dict[str, float]:
    """One run: whether the survivors were split, when they were one part again (seconds
    after the kill; -1: never), and the messages that did not reach every survivor."""
    reached: dict[str, set[str]] = {}

    def heard(node: str, event: records.Event) -> None:
        if isinstance(event, records.GossipReceived) and event.id in reached:
            reached[event.id].add(node)
        elif isinstance(event, records.GossipSent):
            reached[event.id] = {node}

    options = {"cross_rounds": cross_rounds}
    scenario = Scenario(nodes=nodes, messages=0, seed=seed, liveness_interval=1.0, options=options)
    sim = Simulation(scenario, listener=heard)
    sim.boot()
    for n in range(nodes):
        sim.at(n * scenario.join_interval, sim.join)
    sim.advance(nodes * scenario.join_interval + 2.0)  # before the first digest across
    rng = random.Random(seed)
    killed_at = sim.now
    sim.kill(rng.sample(sorted(p.id for p in sim.peers()), round(fail * nodes)))
    split, joined, k = False, -1.0, 0
    while sim.now < killed_at + watch:
        sim.advance(sim.now + STEP)
        k += 1
        since = sim.now - killed_at
        if k % round(SPACING / STEP) == 0:
            survivors = sorted(p.id for p in sim.peers())
            sim.broadcast(rng.choice(survivors), f"after the kill {k}")
        if since >= SETTLED and not split and joined < 0:
            split = _parts(sim) > 1
            if not split:
                break
        elif split and joined < 0 and _parts(sim) == 1:
            joined = since
    sim.advance(sim.now + 10.0)  # the last messages' time to arrive
    live = {p.id for p in sim.peers()}
    short = sum(1 for got in reached.values() if not live <= got)
    return {"split": float(split), "joined": joined, "short": float(short)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parts", description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=12)
    parser.add_argument("--fail", type=float, default=0.5)
    parser.add_argument("--watch", type=float, default=60.0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(
        f"| {args.runs} runs, {args.nodes} peers, {args.fail:.0%} killed | digests across"
        " every 4 intervals | none |"
    )
    print("|---|---|---|")
    rows: dict[str, list[str]] = {
        "survivors in parts 5 s after the kill": [],
        "one part again by the end": [],
        "one part again, s after the kill (p50 / max)": [],
        "messages that missed a survivor": [],
    }
    for cross_rounds in (4, 0):
        results = [
            run(args.nodes, args.fail, seed, cross_rounds, args.watch)
            for seed in range(1, args.runs + 1)
        ]
        split = [r for r in results if r["split"]]
        joined = [r["joined"] for r in split if r["joined"] >= 0]
        rows["survivors in parts 5 s after the kill"].append(str(len(split)))
        rows["one part again by the end"].append(f"{len(joined)} of {len(split)}")
        rows["one part again, s after the kill (p50 / max)"].append(
            f"{percentile(joined, 50):.1f} / {max(joined):.1f}" if joined else "-"
        )
        rows["messages that missed a survivor"].append(str(int(sum(r["short"] for r in results))))
    for name, values in rows.items():
        print(f"| {name} | {' | '.join(values)} |")
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
