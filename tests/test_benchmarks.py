"""The benchmarks in ``--quick`` mode: keeps their code working. No figure is asserted on
(speed targets live in the benchmarks' printed table, never in tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import idle, run


@pytest.mark.system
@pytest.mark.timeout(90)
def test_quick_benchmark_runs_and_prints_its_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "cdf.png"
    assert run.main(["--quick", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "| # " in out and "cores" in out
    for section in ("| 0 ", "| 1 ", "| 2 ", "| 3 ", "| 4 ", "| 5 ", "| 6 ", "| 7 "):
        assert section in out, f"no row {section.strip()} in the table"
    assert "never reached everyone" in out
    assert png.exists() or "matplotlib is not installed" in out


@pytest.mark.system
@pytest.mark.timeout(90)
def test_the_idle_benchmark_measures_a_small_network_at_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--only", "zgossip", "--peers", "2", "--window", "1", "--liveness", "0.5"]
    assert idle.main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "zgossip, liveness" in line]
    assert rows and all(" s " in row for row in rows)
