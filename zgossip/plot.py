"""Drawing the overlay and its degree distribution (needs the ``plot`` extra)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from zgossip.survey import edges


class PlotUnavailable(Exception):
    """matplotlib or networkx is not installed; the message says how to get them."""


def plot_overlay(links: Mapping[str, Iterable[str] | None], path: Path) -> None:
    """Write a PNG: the overlay on the left, its degree distribution (log-log) on the right."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no screen needed
        import matplotlib.pyplot as plt
        import networkx as nx
    except ImportError as exc:
        raise PlotUnavailable(f"--plot needs {exc.name}: pip install 'zgossip[plot]'") from None
    graph = nx.Graph()
    graph.add_nodes_from(links)
    graph.add_edges_from(edges(links))
    degrees = dict(graph.degree())
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 6))
    try:
        layout = nx.spring_layout(graph, seed=1)
        nx.draw_networkx(
            graph, layout, ax=left, with_labels=len(graph) <= 40, font_size=7,
            node_size=[60 + 40 * degrees[n] for n in graph], node_color="#4c8bd6",
            edge_color="#999999",
        )  # fmt: skip
        left.set_title(f"overlay: {len(graph)} peers, {graph.number_of_edges()} links")
        left.axis("off")
        counts = Counter(d for d in degrees.values() if d > 0)
        if counts:
            ks = sorted(counts)
            right.loglog(ks, [counts[k] / len(graph) for k in ks], "o", color="#d65f4c")
        right.set_xlabel("degree k")
        right.set_ylabel("fraction of peers P(k)")
        right.set_title("degree distribution (log-log)")
        right.grid(True, which="both", alpha=0.3)
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)
