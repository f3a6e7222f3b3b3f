"""The benchmarks in ``--quick`` mode: keeps their code working. No figure is asserted on
(speed targets live in the benchmarks' printed table, never in tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import run


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
