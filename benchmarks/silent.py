"""``python -m benchmarks.silent``: a mass failure that sends no notice, by active view size.

A crash closes its connections and the neighbours know at once; a hang (or a partition)
closes nothing, and only the pings tell (3 missed at 13 s: 39 s and more). This measures
what ``Config.links`` buys then: ``--nodes`` simulated peers (the real cores, see
:mod:`zgossip.simulate`) joined and settled, their tree formed by 20 messages; then
``--fail`` of them stop for good (a stall that never ends: their connections stay open)
and 10 messages are broadcast right after from the others. Reliability is the fraction of
the other peers that deliver a message, counted ``--early`` and ``--late`` seconds after
the last one.
"""

from __future__ import annotations

import argparse
import random
import sys

from zgossip.simulate import Scenario, Simulation

FOREVER = 1e6  # seconds: a stall that outlasts any run
MESSAGES = 10


def measure(nodes: int, links: int, fail: float, seed: int, counts: list[float]) -> list[float]:
    """Mean reliability of the messages sent right after the hang, at each of ``counts``
    seconds after the last."""
    scenario = Scenario(nodes=nodes, messages=0, seed=seed, options={"links": links})
    sim = Simulation(scenario)
    sim.boot()
    for n in range(nodes):
        sim.at(n * scenario.join_interval, sim.join)
    now = nodes * scenario.join_interval + scenario.settle
    sim.advance(now)
    peers = [p.id for p in sim.peers()]
    for k in range(20):  # the tree forms
        sim.at(now + k * 0.1, sim.broadcast, peers[k * 31 % len(peers)], f"warm-up {k}")
    now += 4.0
    sim.advance(now)
    hung = set(random.Random(seed + 2).sample(peers, round(fail * len(peers))))
    sim.stall(hung, FOREVER)
    rest = [p for p in peers if p not in hung]
    before = len(sim.sent)
    for k in range(MESSAGES):
        sim.at(now + k * 0.1, sim.broadcast, rest[k * 7919 % len(rest)], f"message {k}")
    index = {node.id: node.index for node in sim.nodes}
    others = {index[p] for p in rest}
    result = []
    for count in counts:
        sim.advance(now + MESSAGES * 0.1 + count)
        fractions = [
            sum(i in sim.reached[msg_id] for i in others - {origin}) / (len(others) - 1)
            for msg_id, (_, origin) in list(sim.sent.items())[before:]
        ]
        result.append(sum(fractions) / len(fractions))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.silent", description=__doc__)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--fail", type=float, default=0.5)
    parser.add_argument("--links", type=int, nargs="+", default=[2, 3, 4, 5])
    parser.add_argument("--early", type=float, default=5.0)
    parser.add_argument("--late", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"| links | reliability {args.early:.0f} s after | {args.late:.0f} s after |")
    print("|---|---|---|")
    for links in args.links:
        early, late = measure(args.nodes, links, args.fail, args.seed, [args.early, args.late])
        print(f"| {links} | {100 * early:.1f}% | {100 * late:.1f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
