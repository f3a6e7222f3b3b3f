"""The delivery-time CDF as a PNG (matplotlib is optional: the ``plot`` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.propagation import Stage

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def cdf_png(path: Path, stages: Sequence[Stage], raw_hops: Sequence[float]) -> str:
    """Write the plot; returns a one-line note saying where, or why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return "no plot: matplotlib is not installed (pip install -e '.[plot]')"
    figure, axes = plt.subplots(figsize=(9, 5.5))
    _curve(axes, raw_hops, "raw pyzmq+msgpack hop (2 processes)", "black", ":")
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for stage, colour in zip(stages, colours * 4, strict=False):
        _curve(axes, stage.deliveries, f"N={stage.n}: each delivery", colour, "-")
        _curve(axes, stage.time_to_all, f"N={stage.n}: time-to-all", colour, "--")
    axes.set_xscale("log")
    axes.set_xlabel("time since gossip.sent (ms, log scale)")
    axes.set_ylabel("fraction")
    axes.set_title("zgossip delivery time on loopback: peer processes, 3 seeds")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"plot: {path}"


def _curve(axes: Axes, seconds: Sequence[float], label: str, colour: str, style: str) -> None:
    values = sorted(s * 1000.0 for s in seconds)
    if not values:
        return
    fractions = [(i + 1) / len(values) for i in range(len(values))]
    axes.step(values, fractions, where="post", label=label, color=colour, linestyle=style)
