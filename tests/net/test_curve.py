"""CurveZMQ networks in one process: everyone allowed gossips; nobody else gets in or out."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from tests.support import Events, free_ports
from zgossip import Config, ConfigError, Peer, Seed, query_peers, security
from zgossip.node import Node
from zgossip.protocol import wire
from zgossip.protocol.config import Address
from zgossip.tools.survey import NoAnswer, follow, say

#: What a client's socket monitor says when its handshake is over, one way or the other.
_HANDSHAKE_DONE = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED,
    zmq.EVENT_HANDSHAKE_FAILED_AUTH,
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
)


class Keys:
    """Key pairs in ``keys/``; the public certificates of the allowed ones in ``allow/``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "keys"
        self.allow = root / "allow"
        self.dir.mkdir()
        self.allow.mkdir()

    def make(self, address: str | None = None, name: str | None = None) -> Path:
        """A new key pair, allowed in; its secret file."""
        where = Address.parse(address) if address is not None else None
        public, secret = security.keygen(self.dir, address=where, name=name)
        shutil.copy(public, self.allow)
        return secret

    def outsider(self, root: Path, address: str) -> tuple[Path, Path]:
        """A key pair the network does not allow; its secret and an allow directory of its
        own: the network's certificates and its own (all it can know)."""
        allow = root / "outsider-allow"
        shutil.copytree(self.allow, allow)
        public, secret = security.keygen(self.dir, address=Address.parse(address))
        shutil.copy(public, allow)
        return secret, allow


class CurveNet:
    """Seeds and peers with keys made for all of them before any starts, as a user would."""

    def __init__(self, root: Path, seeds: int = 3, peers: int = 3) -> None:
        self.events = Events()
        self.nodes: list[Node] = []
        self.keys = Keys(root)
        ports = [f"127.0.0.1:{port}" for port in free_ports(seeds + peers)]
        self.seed_ids, self.peer_ids = ports[:seeds], ports[seeds:]
        self.secrets = {address: self.keys.make(address) for address in ports}
        self.client = self.keys.make(name="admin")  # for queries from outside
        self.seeds = [self._start(Seed(self.config(a))) for a in self.seed_ids]

    def config(
        self, address: str, secret: Path | None = None, allow: Path | None = None, **options: Any
    ) -> Config:
        return Config.local(
            seeds=[Address.parse(s) for s in self.seed_ids],
            address=Address.parse(address),
            curve_secret=secret or self.secrets[address],
            curve_allow=allow or self.keys.allow,
            **{"gossip_count": 5, **options},
        )

    def _start(self, node: Node) -> Any:
        node.events.listen(self.events)
        self.nodes.append(node)
        return node.start()

    def peer(self, address: str, **options: Any) -> Peer:
        peer: Peer = self._start(Peer(self.config(address, **options)))
        return peer

    def curve(self, secret: Path | None = None) -> security.Curve:
        return security.Curve.load(secret or self.client, self.keys.allow)

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        assert not self.events.of("internal.error"), self.events.of("internal.error")


@pytest.fixture
def net(tmp_path: Path) -> Iterator[CurveNet]:
    network = CurveNet(tmp_path)
    yield network
    network.close()


@pytest.fixture
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.destroy(linger=0)


def _client(
    ctx: zmq.Context[zmq.Socket[bytes]],
    kind: int,
    target: str,
    curve: security.Curve | None,
    endpoint: str | None = None,
) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """A socket connected to ``target`` (as a CURVE client with ``curve``'s keys, or in the
    clear), and the monitor that tells how its handshake went."""
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    monitor: zmq.Socket[bytes] = sock.get_monitor_socket()
    if curve is not None:
        assert curve.client(sock, target)
    sock.connect(endpoint or f"tcp://{target}")
    return sock, monitor


def _handshake(monitor: zmq.Socket[bytes], timeout: float = 10.0) -> int:
    """The outcome of the first handshake on a monitored socket (awaited, not slept on)."""
    deadline = time.monotonic() + timeout
    while monitor.poll(max(1, int((deadline - time.monotonic()) * 1000))):
        event: int = recv_monitor_message(monitor)["event"]
        if event in _HANDSHAKE_DONE:
            return event
    raise AssertionError("no handshake outcome in time")


def _public(secret: Path) -> str:
    public, _ = zmq.auth.load_certificate(secret)
    return public.decode()


def _gossip_flows(net: CurveNet, peer: Peer) -> None:
    """Wait until ``peer`` has received a message sent from now on: the network works."""
    before = {e["id"] for e in net.events.of("gossip.sent")}
    net.events.wait_for(
        lambda: bool(
            {e["id"] for e in net.events.of("gossip.received", peer.id)}
            - before
            - {e["id"] for e in net.events.of("gossip.sent", peer.id)}
        ),
        what=f"fresh gossip at {peer.id}",
    )


def test_curve_network_of_three_seeds_and_three_peers_gossips_to_everyone(net: CurveNet) -> None:
    peers = [net.peer(address) for address in net.peer_ids]
    net.events.wait_for(
        lambda: all(len(net.events.of("gossip.received", p.id)) == 10 for p in peers),
        what="every other peer's 5 messages at each peer",
    )
    for peer in peers:
        assert len(peer.registration.registered()) >= 2
    answers = query_peers(net.seed_ids, 5.0, net.curve())
    listed = {i.id for infos in answers.values() for i in infos or ()}
    assert listed == set(net.peer_ids)
    assert not net.events.of("auth.denied"), "an allowed node was refused"
    started = net.events.of("started")  # every node said it runs with CURVE, and whose keys
    assert len(started) == 6 and all(e["curve"] for e in started)


def test_node_with_a_key_not_allowed_cannot_register(net: CurveNet, tmp_path: Path) -> None:
    member = net.peer(net.peer_ids[0], gossip_count=0)
    rogue_id = f"127.0.0.1:{free_ports(1)[0]}"
    secret, allow = net.keys.outsider(tmp_path, rogue_id)
    rogue: Peer = net._start(Peer(net.config(rogue_id, secret, allow, gossip_count=0)))
    key = _public(secret)
    net.events.wait_for(
        lambda: len({e["node"] for e in net.events.of("auth.denied") if e["key"] == key}) >= 2,
        what="a majority of the seeds refusing the outsider",
    )
    net.events.wait_event("seed.registered", node=member.id)
    assert not net.events.of("seed.registered", rogue.id)
    assert all(rogue_id not in seed.registry for seed in net.seeds)
    answers = query_peers(net.seed_ids, 5.0, net.curve())
    assert all(rogue_id not in {i.id for i in infos or ()} for infos in answers.values())
    denied = net.events.of("auth.denied")[0]
    assert denied["address"] == "127.0.0.1" and denied["count"] == 1
    refused = net.events.wait_event("auth.refused", node=rogue_id)  # it is told why, once
    assert refused["target"] in net.seed_ids
    assert refused["reason"] == "our key is not in its allow directory"
    assert len(net.events.of("auth.refused", rogue_id)) <= len(net.seed_ids)


def test_key_not_allowed_gets_no_pong_and_no_peer_list(
    net: CurveNet, tmp_path: Path, ctx: zmq.Context[zmq.Socket[bytes]]
) -> None:
    member = net.peer(net.peer_ids[0], gossip_count=0)
    secret, allow = net.keys.outsider(tmp_path, f"127.0.0.1:{free_ports(1)[0]}")
    outsider = security.Curve.load(secret, allow)
    pinger, ping_monitor = _client(ctx, zmq.DEALER, member.id, outsider)
    pinger.send(wire.encode(wire.Ping("127.0.0.1:9", 1.0)))
    asker, ask_monitor = _client(ctx, zmq.DEALER, net.seed_ids[0], outsider)
    asker.send(wire.encode(wire.ListPeers()))
    assert _handshake(ping_monitor) == zmq.EVENT_HANDSHAKE_FAILED_AUTH
    assert _handshake(ask_monitor) == zmq.EVENT_HANDSHAKE_FAILED_AUTH
    for node in (member.id, net.seed_ids[0]):
        net.events.wait_event("auth.denied", node=node, key=_public(secret))
    assert not pinger.poll(0) and not asker.poll(0)
    assert query_peers([net.seed_ids[0]], 0.5, outsider) == {net.seed_ids[0]: None}
    # the same request with an allowed key, of the node it names, is answered
    other = net.peer_ids[1]
    allowed, _ = _client(ctx, zmq.DEALER, member.id, net.curve(net.secrets[other]))
    allowed.send(wire.encode(wire.Ping(other, 1.0)))
    assert allowed.poll(10_000)
    assert isinstance(wire.decode(allowed.recv()), wire.Pong)


def test_an_allowed_key_that_claims_another_nodes_name_is_refused_and_said(
    net: CurveNet, ctx: zmq.Context[zmq.Socket[bytes]]
) -> None:
    member = net.peer(net.peer_ids[0], gossip_count=0)
    net.events.wait_event("seed.registered", node=member.id)
    victim, impostor = net.peer_ids[1], net.peer_ids[2]
    holders = [seed.id for seed in net.seeds if member.id in seed.registry]
    forged = [
        wire.Register(victim, f"tcp://{victim}", (), (("role", "evil"),)),
        wire.Leave(member.id),
        wire.Dead(member.id, 1.0, victim),
    ]
    for key in (net.curve(net.secrets[impostor]), net.curve()):  # a node's, a client's
        seed, _ = _client(ctx, zmq.DEALER, net.seed_ids[0], key)
        for message in forged:
            seed.send(wire.encode(message))
        pinger, _ = _client(ctx, zmq.DEALER, member.id, key)
        pinger.send(wire.encode(wire.Ping(victim, 1.0)))
        pinger.send(wire.encode(wire.Facts(victim, (), False, False)))
        assert not pinger.poll(500) and not seed.poll(0)  # no pong, no peer list
    said = net.events.wait_event("auth.forged", node=net.seed_ids[0])
    assert said["claimed"] in (victim, member.id)
    assert net.events.wait_event("auth.forged", node=member.id)["claimed"] == victim
    assert all(victim not in seed.registry for seed in net.seeds)
    assert set(holders) <= {seed.id for seed in net.seeds if member.id in seed.registry}
    assert not net.events.of("dead.received")


def test_key_not_allowed_can_neither_inject_nor_receive_gossip(
    net: CurveNet, tmp_path: Path, ctx: zmq.Context[zmq.Socket[bytes]]
) -> None:
    peers = [net.peer(address, gossip_count=1000) for address in net.peer_ids]
    net.events.wait_event("neighbour.added", node=peers[0].id)
    rogue_id = f"127.0.0.1:{free_ports(1)[0]}"
    secret, allow = net.keys.outsider(tmp_path, rogue_id)
    outsider = security.Curve.load(secret, allow)
    # nothing out: its SUB, pointed at a member's PUB with the member's key, is refused
    listener, listen_monitor = _client(ctx, zmq.SUB, peers[0].id, outsider, peers[0].pub_endpoint)
    listener.setsockopt(zmq.SUBSCRIBE, b"")
    assert _handshake(listen_monitor) == zmq.EVENT_HANDSHAKE_FAILED_AUTH
    # nothing in: it offers its own XPUB in a link request, which no one receives
    xpub = ctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.LINGER, 0)
    outsider.serve(xpub)
    xpub.bind("tcp://127.0.0.1:*")
    linker, link_monitor = _client(ctx, zmq.DEALER, peers[1].id, outsider)
    linker.send(wire.encode(wire.Link(rogue_id, xpub.getsockopt_string(zmq.LAST_ENDPOINT))))
    assert _handshake(link_monitor) == zmq.EVENT_HANDSHAKE_FAILED_AUTH
    forged = wire.encode(wire.Gossip(rogue_id, 1, 1.0, "forged"))
    xpub.send(wire.gossip_frame(rogue_id.encode(), forged))
    for peer in peers:
        _gossip_flows(net, peer)
    assert not listener.poll(0), "an outsider received gossip"
    assert not xpub.poll(0), "a member subscribed to an outsider"
    assert rogue_id not in {e["neighbour"] for e in net.events.of("neighbour.added")}
    assert "forged" not in {e["body"] for e in net.events.of("gossip.received")}
    assert {e["node"] for e in net.events.of("auth.denied")} >= {peers[0].id, peers[1].id}


def test_plain_client_gets_nothing_from_a_curve_node(
    net: CurveNet, ctx: zmq.Context[zmq.Socket[bytes]]
) -> None:
    member = net.peer(net.peer_ids[0])
    asker, ask_monitor = _client(ctx, zmq.DEALER, net.seed_ids[0], None)
    asker.send(wire.encode(wire.ListPeers()))
    pinger, ping_monitor = _client(ctx, zmq.DEALER, member.id, None)
    pinger.send(wire.encode(wire.Ping("127.0.0.1:9", 1.0)))
    listener, listen_monitor = _client(ctx, zmq.SUB, member.id, None, member.pub_endpoint)
    listener.setsockopt(zmq.SUBSCRIBE, b"")
    for monitor in (ask_monitor, ping_monitor, listen_monitor):  # NULL meets CURVE: refused
        assert _handshake(monitor) != zmq.EVENT_HANDSHAKE_SUCCEEDED
    _gossip_flows(net, net.peer(net.peer_ids[1]))
    assert not asker.poll(0) and not pinger.poll(0) and not listener.poll(0)
    assert query_peers([net.seed_ids[0]], 0.5) == {net.seed_ids[0]: None}


def test_address_without_certificate_is_not_connected_to_and_said_so(net: CurveNet) -> None:
    stranger = f"127.0.0.1:{free_ports(1)[0]}"  # a seed of the config with no certificate
    config = net.config(net.peer_ids[0])
    config.seeds = [Address.parse(stranger), Address.parse(net.seed_ids[0])]
    peer: Peer = net._start(Peer(config))  # 2 seeds: it registers with both
    net.events.wait_event("auth.nokey", node=peer.id, target=stranger)
    net.events.wait_event("seed.registered", node=peer.id, seed=net.seed_ids[0])
    assert peer.registration.registered() == [net.seed_ids[0]]


def test_a_flood_of_refused_clients_is_logged_briefly_and_the_node_serves_on(
    net: CurveNet, tmp_path: Path, ctx: zmq.Context[zmq.Socket[bytes]]
) -> None:
    seed = net.seed_ids[0]
    secret, allow = net.keys.outsider(tmp_path, f"127.0.0.1:{free_ports(1)[0]}")
    outsider = security.Curve.load(secret, allow)
    clients = [_client(ctx, zmq.DEALER, seed, outsider) for _ in range(50)]
    for sock, _ in clients:
        sock.send(wire.encode(wire.ListPeers()))
    for _, monitor in clients:
        assert _handshake(monitor) == zmq.EVENT_HANDSHAKE_FAILED_AUTH
    assert query_peers([seed], 5.0, net.curve())[seed] is not None, "the seed stopped serving"
    assert len(net.events.of("auth.denied", seed)) == 1  # 50 refusals, one line


def test_bad_key_setups_are_config_errors(net: CurveNet, tmp_path: Path) -> None:
    address = net.peer_ids[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    public = net.secrets[address].with_suffix(".key")
    other = net.secrets[net.peer_ids[1]]
    cases = {
        "no such file": dict(secret=tmp_path / "nope"),
        "no secret key": dict(secret=public),
        "not a directory": dict(allow=tmp_path / "nope"),
        "no public certificates": dict(allow=empty),
        "does not match": dict(secret=other),
    }
    for reason, options in cases.items():
        with pytest.raises(ConfigError, match=reason):
            Peer(net.config(address, **options))
    with pytest.raises(ConfigError, match="go together"):
        Config(curve_secret=net.secrets[address])


def test_an_allowed_client_monitors_and_sends_and_an_outsider_is_refused(
    net: CurveNet, tmp_path: Path
) -> None:
    peer = net.peer(net.peer_ids[0], gossip_count=0)
    stream = follow(peer.id, ("gossip.sent",), 5.0, net.curve())
    message_id = say(peer.id, "through curve", 5.0, net.curve())
    _, events = next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert f'"id":"{message_id}"' in events[0][0]
    secret, allow = net.keys.outsider(tmp_path, f"127.0.0.1:{free_ports(1)[0]}")
    outsider = security.Curve.load(secret, allow)
    with pytest.raises(NoAnswer, match="did not answer"):
        say(peer.id, "forged", 0.5, outsider)
    with pytest.raises(NoAnswer, match="did not answer"):
        follow(peer.id, (), 0.5, outsider)
    assert [e["body"] for e in net.events.of("gossip.sent", peer.id)] == ["through curve"]


def test_keys_added_are_admitted_and_keys_removed_let_go_without_a_restart(
    net: CurveNet, tmp_path: Path
) -> None:
    first = net.peer(net.peer_ids[0], gossip_count=0)
    second = net.peer(net.peer_ids[1], gossip_count=0)
    for peer in (first, second):
        net.events.wait_event("neighbour.added", node=peer.id)
    newcomer_id = f"127.0.0.1:{free_ports(1)[0]}"
    secret, allow = net.keys.outsider(tmp_path, newcomer_id)
    key = _public(secret)
    newcomer: Peer = net._start(Peer(net.config(newcomer_id, secret, allow, gossip_count=0)))
    net.events.wait_for(
        lambda: len({e["node"] for e in net.events.of("auth.denied") if e["key"] == key}) >= 2,
        what="a majority of the seeds refusing the newcomer",
    )
    shutil.copy(net.keys.dir / f"{newcomer_id.replace(':', '-')}.key", net.keys.allow)
    changed = net.events.wait_event("keys.changed", node=net.seed_ids[0])
    assert changed["added"] == [key] and changed["removed"] == []
    net.events.wait_event("neighbour.added", node=newcomer_id)  # admitted, no restart
    first.broadcast("welcome")
    net.events.wait_event("gossip.received", node=newcomer_id, body="welcome")
    # two links each: the three make a triangle, and both others must let the revoked go
    # (read before the newcomer's link to it was up, ``had`` left the newcomer out, and
    # its link was still there at the end: 2 runs in 12)
    net.events.wait_event("neighbour.added", node=newcomer_id, neighbour=second.id)

    revoked = _public(net.secrets[second.id])
    had = [p for p in (first, newcomer) if second.id in p.neighbours]
    holders = [seed.id for seed in net.seeds if second.id in seed.registry]
    for directory in (net.keys.allow, allow):  # out of every allow directory
        (directory / f"{second.id.replace(':', '-')}.key").unlink()
    for seed_id in holders:
        net.events.wait_event("peer.revoked", node=seed_id, peer=second.id)
    for peer in had:
        net.events.wait_event("neighbour.revoked", node=peer.id, neighbour=second.id)
    net.events.wait_for(  # what it still sends is refused: its pings, say
        lambda: any(e["key"] == revoked for e in net.events.of("auth.denied")),
        what="the revoked key refused",
    )
    first.broadcast("not for the revoked")
    net.events.wait_event("gossip.received", node=newcomer_id, body="not for the revoked")
    assert second.id not in first.neighbours and second.id not in newcomer.neighbours
    assert not [
        e for e in net.events.of("gossip.received", second.id) if e["body"] == "not for the revoked"
    ]

    (net.keys.allow / "broken.key").write_text("not a certificate\n")
    unreadable = net.events.wait_event("keys.unreadable", node=first.id)
    assert "broken.key" in unreadable["error"]
