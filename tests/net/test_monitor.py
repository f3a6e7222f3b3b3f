"""Attaching to a running node: its events as they happen (monitor), a message to gossip (send)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from tests.net.harness import Net
from zgossip.tools.survey import NoAnswer, follow, say


@pytest.fixture
def net() -> Iterator[Net]:
    network = Net(seeds=1)
    yield network
    network.close()


def _names(events: tuple[tuple[str, str], ...]) -> list[str]:
    return [json.loads(line)["event"] for line, _ in events]


def test_a_monitor_gets_the_events_it_asks_for_and_the_node_keeps_none_once_it_is_gone(
    net: Net,
) -> None:
    sender, watched = net.peer(gossip_count=0), net.peer(gossip_count=0, watch_for=0.5)
    net.linked(watched)
    assert not watched.events.watching  # no monitor: nothing is kept for one
    stream = follow(watched.id, ("gossip.*",), timeout=5.0)
    sender.broadcast("before")  # may come before the monitor attached: not asked for
    message_id = say(sender.id, "watched", timeout=5.0)
    got: list[str] = []
    for lost, events in stream:
        assert lost == 0
        for line, text in events:
            record = json.loads(line)
            assert record["event"].startswith("gossip.")
            got.append(record["event"])
            if record.get("body") == "watched":
                assert record["id"] == message_id
                assert record["node"] == watched.id and "received watched" in text
        if "watched" in [json.loads(line).get("body") for line, _ in events]:
            break
    stream.close()  # type: ignore[attr-defined]
    assert "gossip.received" in got
    attached = net.events.wait_event("monitor.attached", node=watched.id)
    assert attached["address"] == "127.0.0.1" and attached["events"] == ["gossip.*"]
    net.events.wait_event("monitor.detached", node=watched.id, address="127.0.0.1")
    assert not watched.events.watching


def test_a_monitor_sees_the_node_stop_then_the_node_stops_answering(net: Net) -> None:
    peer, _ = net.peer(gossip_count=0), net.peer(gossip_count=0)
    stream = follow(peer.id, (), timeout=0.5)
    peer.stop()
    names: list[str] = []
    with pytest.raises(NoAnswer, match="stopped answering for 2 s"):
        for _, events in stream:
            names += _names(events)
    assert names[-1] == "stopped"


def test_monitors_past_the_limit_are_refused_and_a_slow_one_is_told_what_it_lost(net: Net) -> None:
    peer = net.peer(gossip_count=0, max_watchers=1, watch_window=5)
    slow = follow(peer.id, ("gossip.sent",), timeout=5.0)
    with pytest.raises(NoAnswer, match="refused: 1 monitors watch already"):
        follow(peer.id, (), timeout=5.0)
    for n in range(12):  # faster than it says it read them (once a second)
        say(peer.id, f"early {n}", timeout=5.0)
    done = threading.Event()

    def later() -> None:  # until the monitor said it read the first and room was made
        for n in range(200):
            if done.wait(0.05):
                return
            say(peer.id, f"late {n}", timeout=5.0)

    sender = threading.Thread(target=later)
    sender.start()
    lost_total, bodies = 0, []
    try:
        for lost, events in slow:
            lost_total += lost
            bodies += [json.loads(line)["body"] for line, _ in events]
            if bodies[-1].startswith("late"):
                break
    finally:
        done.set()
        sender.join()
        slow.close()  # type: ignore[attr-defined]
    early = [body for body in bodies if body.startswith("early")]
    assert early == [f"early {n}" for n in range(5)]  # the window's worth, then skipped
    assert lost_total >= 7  # early 5 to 11 at least, and said so


def test_send_is_refused_by_a_seed_and_unanswered_where_no_node_listens(net: Net) -> None:
    """(A peer refusing a client on another host: tests/system/test_netns.py.)"""
    with pytest.raises(NoAnswer, match="refused: a seed does not gossip"):
        say(net.seeds[0].id, "hello", timeout=5.0)
    with pytest.raises(NoAnswer, match=r"did not answer within 0\.2 s"):
        say("127.0.0.1:1", "nobody", timeout=0.2)
