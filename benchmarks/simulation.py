"""The simulator at scale: ``zgossip simulate`` as a process, timed from outside.

Every figure comes from the real protocol cores (see :mod:`zgossip.simulate`), run by
the installed command in a child process, so that its wall time and peak memory are
the run's alone: the join of ``nodes`` peers through 3 seeds and ``messages`` broadcasts,
and a run with liveness where a tenth of the peers are killed.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SimRun:
    args: tuple[str, ...]
    summary: dict[str, Any]  # the --json summary
    seconds: float  # wall time of the whole process
    peak_mb: float  # its peak resident memory


def simulate(*args: str) -> SimRun:
    """Run ``zgossip simulate ARGS --json`` in a child process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "zgossip", "simulate", *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    said = re.search(r"peak memory (\d+) MB", done.stderr)  # its own, as it says on stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return SimRun(tuple(args), summary, seconds, float(said.group(1)) if said else math.nan)


@dataclass(frozen=True, slots=True)
class SimFigures:
    join: SimRun  # nodes join, then messages
    liveness: SimRun  # a thousand nodes (fewer when quick), liveness for 60 s, 10% killed


def measure(nodes: int, messages: int, liveness_nodes: int) -> SimFigures:
    join = simulate("--nodes", str(nodes), "--messages", str(messages))
    liveness = simulate(
        "--nodes", str(liveness_nodes), "--messages", str(messages), "--fail", "0.1",
        "--liveness-interval", "1", "--drain", "60",
    )  # fmt: skip
    return SimFigures(join, liveness)
