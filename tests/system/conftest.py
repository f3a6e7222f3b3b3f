"""Fixtures of the system tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Three seeds of a config of their own, ready for nodes; every process killed at the end,
    and none may have logged an internal error."""
    network = Cluster(tmp_path, seeds=3)
    yield network
    network.close()
    assert not network.tap.of("internal.error"), network.tap.of("internal.error")
