"""Small statistics, the result table and what was measured: shared by every benchmark."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import zgossip


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    """Seconds as milliseconds for the table, with precision that fits the size."""
    if math.isnan(seconds):
        return "n/a"
    value = seconds * 1000.0
    return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def verdict(met: bool | None) -> str:
    """A target column entry: met, missed, or not measured."""
    return "n/a" if met is None else ("met" if met else "MISSED")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: what was measured, the figure, its baseline, the target."""

    section: str
    what: str
    figure: str
    baseline: str = ""
    target: str = ""
    met: bool | None = None


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (prints readably and pastes into README)."""
    header = ("#", "measure", "figure", "same-run baseline / ratio", "target", "verdict")
    return markdown(
        header,
        [
            (r.section, r.what, r.figure, r.baseline, r.target, verdict(r.met) if r.target else "")
            for r in rows
        ],
    )


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A header and rows of cells as a Markdown table, its columns aligned."""
    cells = [header, *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def revision() -> str:
    """The commit measured, and whether the working tree differs from it."""
    where = Path(zgossip.__file__).parent
    git = ["git", "-C", str(where)]
    try:
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {commit}{', with uncommitted changes' if dirty else ''}"
