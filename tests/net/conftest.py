"""The network of most in-process tests: three seeds (a module that wants another
shape defines its own ``net``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.net.harness import Net


@pytest.fixture
def net() -> Iterator[Net]:
    network = Net(seeds=3)
    yield network
    network.close()
