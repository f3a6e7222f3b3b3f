"""``python -m benchmarks.partition``: how fast two halves merge after a partition heals.

A simulated network of ``--nodes`` peers and 3 seeds (the real cores, see
:mod:`zgossip.simulate`), 1 s liveness; then nothing crosses between half of the nodes
(seeds too: 2 on one side, 1 on the other) and the rest for ``--cut`` seconds, long enough
for each side to declare its links across dead and relink on its own side. After the heal:
the time to the first link across again, and the time until a message, broadcast every
half second, reaches every live peer.
"""

from __future__ import annotations

import argparse
import sys
import time

from zgossip.protocol import records
from zgossip.simulate import Partition, Scenario, Simulation

STEP = 0.1  # seconds of simulated time between two looks at the overlay


def measure(
    nodes: int, cut: float, seed: int, recall: bool = True, give_up: float = 120.0
) -> dict[str, float | None]:
    reached: dict[str, set[str]] = {}
    sent: dict[str, float] = {}

    def heard(node: str, event: records.Event) -> None:
        if isinstance(event, records.GossipReceived) and event.id in reached:
            reached[event.id].add(node)
        elif isinstance(event, records.GossipSent):
            reached[event.id], sent[event.id] = {node}, sim.now

    options = {} if recall else {"max_recalled": 0}  # the baseline: nothing remembered
    scenario = Scenario(nodes=nodes, messages=0, seed=seed, liveness_interval=1.0, options=options)
    sim = Simulation(scenario, listener=heard)
    started = time.perf_counter()
    sim.boot()
    for n in range(nodes):
        sim.at(n * scenario.join_interval, sim.join)
    sim.advance(nodes * scenario.join_interval + 5.0)
    split = Partition(sim.now, sim.now + cut)
    scenario.partitions.append(split)
    sim.advance(split.end)
    first_cross = merged = None
    k = 0
    while sim.now < split.end + give_up and merged is None:
        sim.advance(sim.now + STEP)
        peers = sim.peers()
        if first_cross is None and any(
            n.up and sim.side(p.id, split) != sim.side(n.id, split)
            for p in peers
            for n in p.neighbours.values()
        ):
            first_cross = sim.now - split.end
        if round((sim.now - split.end) / STEP) % 5 == 0:  # a message every half second
            k += 1
            sim.broadcast(peers[k * 7919 % len(peers)].id, f"after the heal {k}")
        live = {p.id for p in peers}
        for msg_id, at in sent.items():
            if live <= reached[msg_id] and merged is None and at >= split.end:
                merged = at - split.end
    crossing = sum(
        n.up and sim.side(p.id, split) != sim.side(n.id, split)
        for p in sim.peers()
        for n in p.neighbours.values()
    )
    return {
        "first link across (s after the heal)": first_cross,
        "a message reaches every peer (s)": merged,
        "links across then": float(crossing),
        "wall (s)": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.partition", description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--cut", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with_recall = measure(args.nodes, args.cut, args.seed)
    without = measure(args.nodes, args.cut, args.seed, recall=False)
    print(f"| {args.nodes} peers, cut {args.cut:g} s | recalling lost neighbours | without |")
    print("|---|---|---|")
    for name, value in with_recall.items():
        print(f"| {name} | {_show(value)} | {_show(without[name])} |")
    return 0


def _show(value: float | None) -> str:
    return "never (in 120 s)" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
