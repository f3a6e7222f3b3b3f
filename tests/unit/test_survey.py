"""The overlay as the survey shows it: edges once each, DOT text, a clear word without plot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import zgossip
from zgossip.tools.plot import PlotUnavailable, plot_overlay
from zgossip.tools.survey import edges, to_dot

A, B, C = "10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000"


def test_a_link_reported_by_both_ends_is_one_edge() -> None:
    assert edges({A: (B, C), B: (A,), C: None}) == {(A, B), (A, C)}


def test_dot_lists_every_peer_with_its_degree_and_every_edge_once() -> None:
    dot = to_dot({A: (B, C), B: (A,), C: (A,)})
    assert dot.startswith("graph zgossip {\n") and dot.endswith("}\n")
    assert f'"{A}" [label="{A}\\n2"];' in dot
    assert f'"{B}" [label="{B}\\n1"];' in dot
    assert dot.count(" -- ") == 2


def test_plot_without_its_extra_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "networkx", None)  # as if it were not installed
    with pytest.raises(PlotUnavailable, match="needs networkx: ") as raised:
        plot_overlay({A: (B,)}, tmp_path / "overlay.png")
    assert not (tmp_path / "overlay.png").exists()
    root = Path(zgossip.__file__).resolve().parent.parent  # a checkout, or site-packages
    if (root / "setup.cfg").is_file():  # an editable install: README says so
        assert str(raised.value).endswith(f"pip install -e '{root}[plot]'")
    else:  # the wheel
        assert str(raised.value).endswith("pip install 'zgossip[plot]'")
