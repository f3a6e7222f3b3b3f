"""Prometheus metrics of a running node: ``--metrics-port`` (the ``metrics`` extra).

The node's figures are taken in the node's own thread at each scrape (the HTTP server
runs in a thread of its own and asks the loop), so they are exact and a scrape never
touches the protocol's tables while the loop changes them; a node too busy to answer
within a second is scraped without them (its process figures still come). A node without
``--metrics-port`` counts nothing for metrics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from zgossip.extras import install_hint
from zgossip.protocol.config import ConfigError

#: A scrape waits this long (seconds) for the node's loop to take its figures.
_SCRAPE_WAIT = 1.0

#: Each figure a node gives (``Node.figures``): its metric, type and help. Counters get
#: ``_total`` in the exposition.
_METRICS: dict[str, tuple[str, str, str]] = {
    "received": (
        "zgossip_messages_received",
        "counter",
        "Others' messages received (first receipts).",
    ),
    "duplicates": ("zgossip_duplicates_dropped", "counter", "Copies of messages it had, dropped."),
    "lost": (
        "zgossip_messages_lost",
        "counter",
        "Messages known to exist that it lacks and can no longer get (gossip.lost).",
    ),
    "stored_bytes": ("zgossip_stored_bytes", "gauge", "Messages kept whole, with bookkeeping."),
    "forwarded_bytes": ("zgossip_forwarded_bytes", "counter", "Bytes of gossip frames sent."),
    "forwarded_frames": ("zgossip_forwarded_frames", "counter", "Gossip frames sent."),
    "neighbours": ("zgossip_neighbours", "gauge", "Neighbours linked (links up)."),
    "suspects": ("zgossip_suspects", "gauge", "Neighbours suspected, being probed by others."),
    "seeds": ("zgossip_seeds_registered", "gauge", "Seeds that hold this peer's registration."),
    "members": ("zgossip_members", "gauge", "Peers in this peer's member list, itself too."),
    "members_refused": (
        "zgossip_members_refused",
        "counter",
        "New peers its full member list turned away (Config.max_members).",
    ),
    "peers": ("zgossip_peers", "gauge", "Peers this seed holds."),
    "cases": ("zgossip_cases", "gauge", "Death cases this seed has open."),
    "probes": ("zgossip_probes", "gauge", "Probes out."),
    "auth_refusals": ("zgossip_auth_refusals", "counter", "CurveZMQ handshakes refused."),
    "monitors": ("zgossip_monitors", "gauge", "Monitors attached (zgossip monitor)."),
    "log_lag": ("zgossip_event_log_lag_seconds", "gauge", "Age of the oldest unwritten log line."),
}
#: Events counted, also as metrics of their own: what users graph first.
_EVENT_METRICS: dict[str, tuple[str, str]] = {
    "gossip.sent": ("zgossip_messages_sent", "Own messages sent."),
    "bad.message": ("zgossip_bad_messages", "Bad input dropped (bad.message)."),
    "dead.reported": ("zgossip_dead_reports", "Dead neighbours reported to a seed."),
    "peer.removed": ("zgossip_peers_removed", "Peers this seed removed, dead or left."),
}

Figures = tuple[dict[str, float], dict[str, int]]  # the node's figures, its event counts


def check() -> None:
    """Raise ConfigError, in one line, when the metrics extra is not installed."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"--metrics-port needs prometheus_client: {install_hint('metrics')}"
        ) from None


class Server:
    """The metrics endpoint of one node, ``http://HOST:PORT/metrics``."""

    def __init__(
        self, host: str, port: int, labels: dict[str, str], figures: Callable[[], Figures | None]
    ) -> None:
        from prometheus_client import start_http_server
        from prometheus_client.core import CollectorRegistry
        from prometheus_client.process_collector import ProcessCollector

        registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=registry)  # process_resident_memory_bytes, CPU, fds
        registry.register(_Collector(labels, figures))
        self.endpoint = f"http://{host}:{port}/metrics"
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Collector:
    def __init__(self, labels: dict[str, str], figures: Callable[[], Figures | None]) -> None:
        self._labels = labels
        self._figures = figures

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        names, values = list(self._labels), list(self._labels.values())
        info = GaugeMetricFamily("zgossip_info", "The node: 1.", labels=names)
        info.add_metric(values, 1)
        yield info
        taken = self._figures()
        if taken is None:  # the loop did not answer in time
            return
        figures, counts = taken
        for key, value in figures.items():
            name, kind, text = _METRICS[key]
            family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            metric = family(name, text, labels=names)
            metric.add_metric(values, value)
            yield metric
        for event, (name, text) in _EVENT_METRICS.items():
            metric = CounterMetricFamily(name, text, labels=names)
            metric.add_metric(values, counts.get(event, 0))
            yield metric
        every = CounterMetricFamily(
            "zgossip_events", "Events logged, by name.", labels=[*names, "event"]
        )
        for event, count in sorted(counts.items()):
            every.add_metric([*values, event], count)
        yield every


def wait(node_figures: Callable[[Callable[[Figures], None]], None]) -> Figures | None:
    """Ask the node's loop for its figures (``node_figures`` queues the asking); None when
    it does not answer within a second."""
    done = threading.Event()
    box: list[Figures] = []

    def took(figures: Figures) -> None:
        box.append(figures)
        done.set()

    try:
        node_figures(took)
    except RuntimeError:  # the node stopped
        return None
    return box[0] if done.wait(_SCRAPE_WAIT) else None
