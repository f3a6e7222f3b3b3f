"""Real hosts: zgossip across Linux network namespaces, one host cut off and one peer killed.

Loopback cannot lose a link: a dead process there is refused at once. Here every host has
its own IP stack on a bridged LAN, so pulling a host's link leaves its peers running but
silent, which only liveness pings and registration refreshes can notice. Needs root.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns import Host, Lan, NetnsError, Nodes, unavailable
from tests.support import ZGOSSIP, Event, Events

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

HOSTS = 4  # h0 runs the seeds, h1..h3 the peers
SEED_PORTS = (5001, 5002, 5003)
PEER_PORTS = (6001, 6002)  # the same on every host: each namespace has its own ports
QUORUM = len(SEED_PORTS) // 2 + 1
LINKS = 2  # a peer tops up to this many neighbours
GOSSIP = ("--gossip-count", "1000000")  # gossip never stops during the test
WAIT = 30.0  # generous: the 2 cores may be shared with other work

#: Events that end a link at a peer (``neighbour.added`` starts one).
_LINK_ENDS = {"neighbour.dead", "neighbour.left", "neighbour.lost", "link.failed"}


@pytest.fixture
def lan() -> Iterator[Lan]:
    """The switch and HOSTS host namespaces, deleted again whatever the test does."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    try:
        network = Lan(tag=str(os.getpid()))
    except NetnsError as exc:
        pytest.skip(f"cannot build a bridged LAN of namespaces here: {exc}")
    try:
        for _ in range(HOSTS):
            network.add_host()
    except NetnsError as exc:
        network.close()
        pytest.skip(f"cannot build a bridged LAN of namespaces here: {exc}")
    with network:
        yield network


@pytest.fixture
def nodes(lan: Lan, tmp_path: Path) -> Iterator[Nodes]:
    """The node processes; killed before ``lan`` deletes their namespaces (fixture order)."""
    processes = Nodes(tmp_path)
    try:
        yield processes
        crashed = processes.exited()
    finally:
        processes.close()
    assert not crashed, f"nodes exited by themselves: {crashed}"
    assert not processes.tap.of("internal.error"), processes.tap.of("internal.error")


# -- reading the event log -------------------------------------------------------------


def links_up(events: list[Event], peer: str) -> set[str]:
    """The neighbours ``peer`` has a link up with, replaying its link events in order."""
    up: set[str] = set()
    for e in events:
        if e["node"] != peer:
            continue
        if e["event"] == "neighbour.added":
            up.add(e["neighbour"])
        elif e["event"] in _LINK_ENDS:
            up.discard(e["neighbour"])
    return up


def registered_at(events: list[Event], seed: str, peer: str) -> bool:
    """Whether ``seed`` lists ``peer``: its last ``peer.registered``/``removed`` says so."""
    listed = False
    for e in events:
        if e["node"] == seed and e.get("peer") == peer:
            if e["event"] == "peer.registered":
                listed = True
            elif e["event"] == "peer.removed":
                listed = False
    return listed


def created(body: str) -> float:
    """When the origin created an automatic message: its body is ``<ts>:<IP>:<Msg#>``."""
    return float(body.split(":", 1)[0])


# -- the steps ---------------------------------------------------------------------------


def boot(lan: Lan, nodes: Nodes) -> tuple[list[str], dict[Host, list[str]]]:
    """Seeds on h0 (all in config.txt), then PEER_PORTS peers on each other host."""
    seed_host, *peer_hosts = lan.hosts
    seeds = [f"{seed_host.address}:{port}" for port in SEED_PORTS]
    nodes.write_config(seeds)
    for port in SEED_PORTS:
        nodes.start(seed_host, "seed", port)
    for seed in seeds:
        nodes.tap.wait_event("started", timeout=WAIT, node=seed)
    peers = {h: [nodes.start(h, "peer", port, *GOSSIP) for port in PEER_PORTS] for h in peer_hosts}
    return seeds, peers


def wait_formed(tap: Events, seeds: list[str], peers: list[str]) -> None:
    """Every peer registered with a quorum of seeds and linked to LINKS neighbours."""

    def formed() -> bool:
        events = tap.all
        return all(
            sum(registered_at(events, s, p) for s in seeds) >= QUORUM
            and len(links_up(events, p)) >= LINKS
            for p in peers
        )

    tap.wait_for(formed, timeout=WAIT, what="every peer registered and linked")
    for peer in peers:
        assert tap.of("seed.registered", peer) and tap.of("neighbour.added", peer)


def pick_victim(events: list[Event], candidates: list[str], cut_off: list[str]) -> str:
    """The candidate with the most neighbours that stay alive, so its death is noticed."""

    def live_neighbours(peer: str) -> int:
        return len(links_up(events, peer) - set(cut_off) - {peer})

    return max(candidates, key=live_neighbours)


def wait_detected(tap: Events, mark: int, pairs: set[tuple[str, str]]) -> None:
    """Each live peer ends its link to each victim it had, with ``neighbour.dead``."""

    def ends() -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for e in tap.all[mark:]:
            pair = (e["node"], e.get("neighbour", ""))
            if e["event"] in _LINK_ENDS and pair in pairs:
                found.setdefault(pair, e["event"])
        return found

    tap.wait_for(lambda: set(ends()) == pairs, timeout=WAIT, what=f"links ended: {pairs}")
    assert all(end == "neighbour.dead" for end in ends().values()), ends()
    for node, victim in pairs:  # and each reported it to its seeds
        tap.wait_event("dead.reported", timeout=WAIT, node=node, dead=victim)


def wait_removed(tap: Events, mark: int, seeds: list[str], victims: list[str]) -> None:
    """Every seed that listed a victim at the cut removes it (as dead), and none lists it."""
    holders = {(s, v) for s in seeds for v in victims if registered_at(tap.all[:mark], s, v)}
    assert {v for _, v in holders} == set(victims), f"victims listed nowhere: {holders}"

    def removed() -> bool:
        events = tap.all
        later = {(e["node"], e["peer"]) for e in events[mark:] if e["event"] == "peer.removed"}
        gone = not any(registered_at(events, s, v) for s in seeds for v in victims)
        return gone and holders <= later

    tap.wait_for(removed, timeout=WAIT, what=f"seeds removing {victims} (held: {holders})")
    removals = [e for e in tap.all[mark:] if e["event"] == "peer.removed"]
    assert all(e["reason"] == "dead" and e.get("reporter") for e in removals), removals


def wait_gossip_flows(tap: Events, since: float, survivors: list[str]) -> None:
    """Every survivor receives messages created after ``since`` by every other survivor."""

    def heard(peer: str) -> set[str]:
        return {
            e["origin"]
            for e in tap.of("gossip.received", peer)
            if created(e["body"]) > since and e["origin"] in survivors
        }

    tap.wait_for(
        lambda: all(heard(p) == set(survivors) - {p} for p in survivors),
        timeout=WAIT,
        what="new gossip between all survivors",
    )


def listed_by_seeds(seed_host: Host, nodes: Nodes) -> set[str]:
    """The union of the seeds' peer lists, asked for with ``zgossip peers`` from h0."""
    done = subprocess.run(
        seed_host.command(ZGOSSIP, "peers", "--json", "--config", str(nodes.config)),
        capture_output=True,
        timeout=WAIT,
        check=True,
    )
    answers: dict[str, list[dict[str, object]] | None] = json.loads(done.stdout)["seeds"]
    assert all(listed is not None for listed in answers.values()), answers
    return {str(info["peer"]) for listed in answers.values() for info in listed or ()}


# -- the test ----------------------------------------------------------------------------


def test_cut_off_host_and_killed_peer_are_removed_and_the_rest_keeps_gossiping(
    lan: Lan, nodes: Nodes
) -> None:
    tap = nodes.tap
    seeds, by_host = boot(lan, nodes)
    peers = [p for host_peers in by_host.values() for p in host_peers]
    wait_formed(tap, seeds, peers)

    cut_host = lan.hosts[-1]
    cut_off = by_host[cut_host]
    events = list(tap.all)
    killed = pick_victim(events, [p for p in peers if p not in cut_off], cut_off)
    victims = [*cut_off, killed]
    survivors = [p for p in peers if p not in victims]
    detectors = {(p, v) for p in survivors for v in links_up(events, p) if v in victims}
    assert detectors, "no live peer links to a victim: nothing to detect"

    mark = len(tap.all)
    lan.cut(cut_host)
    nodes.kill(killed)
    cut_at = time.time()

    wait_detected(tap, mark, detectors)
    wait_removed(tap, mark, seeds, victims)
    healed_at = time.time()
    wait_gossip_flows(tap, healed_at, survivors)

    assert listed_by_seeds(lan.hosts[0], nodes) == set(survivors)
    for peer in survivors:  # no survivor was taken for dead, and none heard the cut-off host
        assert not [e for e in tap.of("neighbour.dead", peer) if e["neighbour"] in survivors]
        assert not [e for e in tap.of("peer.removed") if e["peer"] == peer]
        late = [
            e
            for e in tap.of("gossip.received", peer)
            if e["origin"] in cut_off and created(e["body"]) > cut_at
        ]
        assert not late, f"{peer} heard the cut-off host after the cut: {late}"


def test_two_hosts_split_by_a_cut_are_one_network_again_after_it_heals(
    lan: Lan, nodes: Nodes
) -> None:
    """Seeds 2/1 on two hosts, three peers on each; the cable between them pulled until
    each side has linked on its own side, then plugged back in: gossip crosses again."""
    side_a, side_b = lan.hosts[0], lan.hosts[1]
    seeds = [f"{side_a.address}:{SEED_PORTS[0]}", f"{side_a.address}:{SEED_PORTS[1]}",
             f"{side_b.address}:{SEED_PORTS[2]}"]  # fmt: skip
    nodes.write_config(seeds)
    for seed in seeds:
        host = side_a if seed.startswith(side_a.address) else side_b
        nodes.start(host, "seed", int(seed.rpartition(":")[2]))
    for seed in seeds:
        nodes.tap.wait_event("started", timeout=WAIT, node=seed)
    ports = (*PEER_PORTS, 6003)
    peers = [nodes.start(h, "peer", port, *GOSSIP) for h in (side_a, side_b) for port in ports]
    tap = nodes.tap
    wait_formed(tap, seeds, peers)

    def on_a(node: str) -> bool:
        return node.startswith(side_a.address + ":")

    def each_on_its_own_side() -> bool:
        events = tap.all
        return all(
            (links := links_up(events, p)) and all(on_a(n) == on_a(p) for n in links) for p in peers
        )

    lan.cut(side_b)
    cut_at = time.time()
    try:
        tap.wait_for(each_on_its_own_side, timeout=WAIT, what="each side linked on its own")
    finally:
        lan.heal(side_b)
    healed_at = time.time()
    wait_gossip_flows(tap, healed_at, peers)  # every peer hears every other's new gossip

    def crossed() -> bool:  # and what each side said during the cut reaches the other
        during = {e["id"]: e["node"] for e in tap.of("gossip.sent")
                  if cut_at <= e["ts"] < healed_at}  # fmt: skip
        got = {(e["node"], e["id"]) for e in tap.of("gossip.received")}
        return all((peer, msg_id) in got for msg_id, origin in during.items()
                   for peer in peers if on_a(peer) != on_a(origin))  # fmt: skip

    tap.wait_for(crossed, timeout=WAIT, what="the messages of the cut across it")
    assert not tap.of("gossip.lost")


def test_a_peer_gossips_what_its_own_host_asks_and_refuses_another_host(
    lan: Lan, nodes: Nodes
) -> None:
    """``zgossip send --via`` without CurveZMQ: from the peer's own host it is gossiped;
    from another host it is refused (``say.refused``, by the address the frame came from),
    and nothing goes out."""
    seed_host, peer_host = lan.hosts[0], lan.hosts[1]
    seed = f"{seed_host.address}:{SEED_PORTS[0]}"
    nodes.write_config([seed])
    nodes.start(seed_host, "seed", SEED_PORTS[0])
    nodes.tap.wait_event("started", timeout=WAIT, node=seed)
    peer = nodes.start(peer_host, "peer", PEER_PORTS[0], "--gossip-count", "0")
    nodes.tap.wait_event("started", timeout=WAIT, node=peer)

    def send(host: Host, text: str) -> subprocess.CompletedProcess[str]:
        command = host.command(ZGOSSIP, "send", "--via", peer, text, "--timeout", "10")
        return subprocess.run(command, capture_output=True, text=True, timeout=WAIT)

    elsewhere = send(seed_host, "forged")
    assert elsewhere.returncode == 1, elsewhere
    assert "refused" in elsewhere.stderr and len(elsewhere.stderr.splitlines()) == 1
    refused = nodes.tap.wait_event("say.refused", timeout=WAIT, node=peer)
    assert refused["address"] == seed_host.address
    here = send(peer_host, "hello")
    assert here.returncode == 0 and f"{peer} took it: gossip " in here.stdout, here
    sent = nodes.tap.wait_event("gossip.sent", timeout=WAIT, node=peer)
    assert sent["body"] == "hello" and here.stdout.split()[-1] == sent["id"]
    assert [e["body"] for e in nodes.tap.of("gossip.sent")] == ["hello"]  # "forged" never went
    command = seed_host.command(ZGOSSIP, "tag", "--via", peer, "owner=mallory", "--timeout", "10")
    retag = subprocess.run(command, capture_output=True, text=True, timeout=WAIT)
    assert retag.returncode == 1 and "refused" in retag.stderr, retag
    assert nodes.tap.wait_event("tag.refused", timeout=WAIT, node=peer)["address"] == (
        seed_host.address
    )
