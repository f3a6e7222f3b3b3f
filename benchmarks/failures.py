"""``python -m benchmarks.failures``: the HyParView / Plumtree papers' experiment, simulated.

A stable network of ``--nodes`` peers (10,000 as in the papers), its broadcast tree
formed by ``--warmup`` messages; then a fraction of them fails at once (kill -9: 10%, 30%,
50%, 70%, 90%), and messages are broadcast right after, before any failure is detected
(13 s liveness: the first suspicion is 26 s away).
Reliability is the fraction of the surviving peers that deliver a message. Each row is a
``zgossip simulate`` process: the real protocol cores (see :mod:`zgossip.simulate`), each
fraction with the tree and with the flood (``--dissemination``), same seed, same network.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.simulation import simulate

FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.failures", description=__doc__)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    print("| failed at once | dissemination | reliability mean | min | messages to every "
          "survivor | last hop p50 | last delivery p50 | copies per delivery | wall |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for fraction in FRACTIONS:
        for spread in ("tree", "flood"):
            run = simulate(
                "--nodes", str(args.nodes), "--messages", str(args.messages),
                "--seed", str(args.seed), "--fail", str(fraction), "--drain", "5",
                "--warmup", str(args.warmup),
                "--dissemination", spread,
            )  # fmt: skip
            s = run.summary
            hop = s["last_hop"]["p50"] if s["last_hop"] else "-"
            late = f"{s['last_delivery_ms']['p50']:.0f} ms" if s["last_delivery_ms"] else "-"
            print(
                f"| {fraction:.0%} | {spread} | {100 * s['reliability_mean']:.1f}% | "
                f"{100 * s['reliability_min']:.1f}% | {s['complete']} of {s['messages']} | "
                f"{hop} | {late} | {s['copies_per_delivery']:.2f} | {run.seconds:.0f} s |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
