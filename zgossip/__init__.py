"""zgossip: a gossip network on ZeroMQ.

Seeds bootstrap the network; peers register with a majority of them, link up
in a power-law overlay, spread messages by gossip and watch their neighbours.

What needs pyzmq (the nodes, the survey, CURVE) is imported when first used, so
the protocol cores and the simulator work where pyzmq cannot be imported.
"""

from __future__ import annotations

import importlib
from importlib.machinery import EXTENSION_SUFFIXES
from typing import TYPE_CHECKING, Any

from zgossip.protocol.config import Address, Config, ConfigError
from zgossip.seedlist import parse_seeds

if TYPE_CHECKING:
    from zgossip.node import BindError
    from zgossip.peer import Peer
    from zgossip.security import Curve, keygen
    from zgossip.seed import Seed
    from zgossip.simulate import Scenario, Simulation
    from zgossip.tools.survey import query_links, query_members, query_peers

__version__ = "0.1.0"

_LAZY = {
    "BindError": "zgossip.node",
    "Curve": "zgossip.security",
    "Peer": "zgossip.peer",
    "Scenario": "zgossip.simulate",
    "Seed": "zgossip.seed",
    "Simulation": "zgossip.simulate",
    "keygen": "zgossip.security",
    "query_links": "zgossip.tools.survey",
    "query_members": "zgossip.tools.survey",
    "query_peers": "zgossip.tools.survey",
}


def build() -> str:
    """How the protocol runs here: compiled to C by mypyc (a wheel built where a C
    compiler works; see setup.py), or as pure Python (an editable install, or none)."""
    from zgossip.protocol import core

    compiled = (core.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))
    return "compiled (mypyc)" if compiled else "pure Python"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zgossip' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Address",
    "BindError",
    "Config",
    "ConfigError",
    "Curve",
    "Peer",
    "Scenario",
    "Seed",
    "Simulation",
    "__version__",
    "build",
    "keygen",
    "parse_seeds",
    "query_links",
    "query_members",
    "query_peers",
]
