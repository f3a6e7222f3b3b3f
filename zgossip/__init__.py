"""zgossip: a gossip network on ZeroMQ.

Seeds bootstrap the network; peers register with a majority of them, link up
in a power-law overlay, spread messages by gossip and watch their neighbours.
"""

from zgossip.config import Address, Config, ConfigError, parse_seeds
from zgossip.node import BindError
from zgossip.peer import Peer
from zgossip.security import Curve, keygen
from zgossip.seed import Seed
from zgossip.survey import query_links, query_peers

__version__ = "0.1.0"

__all__ = [
    "Address",
    "BindError",
    "Config",
    "ConfigError",
    "Curve",
    "Peer",
    "Seed",
    "__version__",
    "keygen",
    "parse_seeds",
    "query_links",
    "query_peers",
]
