"""Prometheus metrics (``--metrics-port``): the standard exposition, scraped as Prometheus does."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.net.harness import Net
from tests.support import free_ports
from zgossip import BindError, Config, ConfigError, Peer, Seed
from zgossip.node import Node
from zgossip.protocol.config import Address


@pytest.fixture
def net() -> Iterator[Net]:
    network = Net(seeds=1)
    yield network
    network.close()


def _scrape(node: Node) -> dict[str, float]:
    """Every sample of the node's endpoint by name (and event, for events_total)."""
    (endpoint,) = [e for e in node.endpoints if e.startswith("http://")]
    with urllib.request.urlopen(endpoint, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            event = sample.labels.get("event")
            samples[sample.name + (f"[{event}]" if event else "")] = sample.value
            if sample.name.startswith("zgossip_"):
                assert sample.labels["node"] == node.id
    return samples


def test_a_peer_and_a_seed_expose_what_users_graph(net: Net) -> None:
    sender = net.peer(gossip_count=0)
    receiver = net.peer(gossip_count=0, metrics_port=free_ports(1)[0])
    net.linked(receiver)
    for n in range(3):
        sender.broadcast(f"counted {n}")
    net.events.wait_for(lambda: len(net.received(receiver)) == 3, what="three messages")
    receiver.broadcast("and one of its own")
    net.events.wait_event("gossip.sent", node=receiver.id)
    got = _scrape(receiver)
    assert got["zgossip_info"] == 1
    assert got["zgossip_messages_received_total"] == 3
    assert got["zgossip_messages_sent_total"] == 1
    assert got["zgossip_events_total[gossip.received]"] == 3
    assert got["zgossip_neighbours"] >= 1
    assert got["zgossip_forwarded_frames_total"] >= 1
    assert got["zgossip_forwarded_bytes_total"] > got["zgossip_forwarded_frames_total"]
    for name in ("duplicates_dropped_total", "suspects", "bad_messages_total",
                 "auth_refusals_total", "dead_reports_total", "event_log_lag_seconds"):  # fmt: skip
        assert f"zgossip_{name}" in got
    assert got["process_resident_memory_bytes"] > 1e6


def test_a_seed_counts_its_peers(net: Net) -> None:
    seed_config = net.config(Address("127.0.0.1", free_ports(1)[0]), metrics_port=free_ports(1)[0])
    seed = net._start(Seed(seed_config))
    got = _scrape(seed)
    assert got["zgossip_peers"] == 0 and got["zgossip_cases"] == 0


def test_a_metrics_port_in_use_is_a_bind_error_and_no_metrics_port_counts_nothing(
    net: Net,
) -> None:
    plain = net.peer(gossip_count=0)
    assert not plain.events.counting
    taken = net.peer(gossip_count=0, metrics_port=free_ports(1)[0])
    port = taken.config.metrics_port
    config = net.config(Address("127.0.0.1", free_ports(1)[0]), metrics_port=port)
    with pytest.raises(BindError, match=f"metrics port {port} on 127.0.0.1 is already in use"):
        Peer(config).start()


def test_without_the_extra_metrics_are_a_one_line_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    real = builtins.__import__

    def no_prometheus(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("prometheus_client"):
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_prometheus)
    config = Config(address=Address("127.0.0.1", 1), seeds=[], metrics_port=9)
    with pytest.raises(ConfigError, match=r"needs prometheus_client: pip install .*\[metrics\]"):
        Peer(config)
