"""Drawing the overlay and its degree distribution (needs the ``plot`` extra)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from zgossip.extras import install_hint
from zgossip.protocol.overlay import edges


class PlotUnavailable(Exception):
    """matplotlib or networkx is not installed; the message says how to get them."""

    def __init__(self, missing: str | None) -> None:
        super().__init__(f"--plot needs {missing}: {install_hint('plot')}")


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no screen needed
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(exc.name) from None
    return plt


def _degree_panel(axes: Any, degrees: Iterable[int]) -> None:
    counts = Counter(d for d in degrees if d > 0)
    total = sum(counts.values())
    if counts:
        ks = sorted(counts)
        axes.loglog(ks, [counts[k] / total for k in ks], "o", color="#d65f4c")
    axes.set_xlabel("degree k")
    axes.set_ylabel("fraction of peers P(k)")
    axes.set_title("degree distribution (log-log)")
    axes.grid(True, which="both", alpha=0.3)


def plot_overlay(links: Mapping[str, Iterable[str] | None], path: Path) -> None:
    """Write a PNG: the overlay on the left, its degree distribution (log-log) on the right."""
    plt = _pyplot()
    try:
        import networkx as nx
    except ImportError as exc:
        raise PlotUnavailable(exc.name) from None
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
        _degree_panel(right, degrees.values())
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)


def plot_simulation(
    delays: Sequence[Sequence[float]], live: int, degrees: Iterable[int], path: Path
) -> None:
    """Write a PNG of a simulated run: each message's delivery (the fraction of the
    ``live`` peers but its origin reached, against the time since it was sent) and the
    overlay's degrees."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 6))
    try:
        for message in delays:
            times = sorted(message)
            fractions = [(n + 1) / max(1, live - 1) for n in range(len(times))]
            left.step(times, fractions, where="post", alpha=0.6)
        left.set_xlabel("ms since sent")
        left.set_ylabel("fraction of the live peers reached")
        left.set_title(f"delivery of {len(delays)} messages")
        left.grid(True, alpha=0.3)
        _degree_panel(right, degrees)
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)
