"""A node under a flood of garbage goes on serving everyone else."""

from __future__ import annotations

import socket
import threading

import zmq

from tests.net.harness import Net
from tests.support import Events, free_ports
from zgossip import Seed
from zgossip.protocol import wire
from zgossip.protocol.config import Address, Config

FLOOD = 10_000


def _flood(ctx: zmq.Context[zmq.Socket[bytes]], address: str, done: threading.Event) -> None:
    """Send FLOOD frames of every bad kind to ``address`` from one client."""
    kinds = [
        [b"\xc1garbage"],
        [wire.encode(wire.Ping("127.0.0.1:9", 1.0))[:-2]],
        [wire.encode(wire.Bye("127.0.0.1:9")), b"extra frame"],
        [b"\x81\xa1v\x04"],  # {"v": 4}
    ]
    with ctx.socket(zmq.DEALER) as client:
        client.setsockopt(zmq.LINGER, 2000)
        client.setsockopt(zmq.SNDHWM, 0)
        client.connect(f"tcp://{address}")
        for index in range(FLOOD):
            client.send_multipart(kinds[index % len(kinds)])
    done.set()


def test_gossip_reaches_everyone_while_a_seed_and_a_peer_are_flooded_with_garbage(
    net: Net,
) -> None:
    peers = [net.peer(gossip_count=0) for _ in range(4)]
    for peer in peers:
        net.linked(peer)
    target_seed, target_peer = net.seeds[0], peers[0]
    with zmq.Context() as ctx:
        done = [threading.Event(), threading.Event()]
        floods = [
            threading.Thread(target=_flood, args=(ctx, node.id, flag))
            for node, flag in zip((target_seed, target_peer), done, strict=True)
        ]
        for flood in floods:
            flood.start()
        net.everyone_hears_everyone(peers, "during the flood", timeout=60)
        for flood in floods:
            flood.join(60)
        assert all(flag.is_set() for flag in done)
    for node in (target_seed, target_peer):
        net.events.wait_for(
            lambda node=node: net.events.bad_inputs(node.id) == FLOOD,
            timeout=60,
            what=f"{FLOOD} bad inputs counted at {node.id}",
        )
        said = len(net.events.of("bad.message", node.id))  # one a second, with a count
        assert said < FLOOD / 100, said
    assert not net.events.of("internal.error")


def test_an_oversized_frame_is_refused_by_zeromq_before_the_node_reads_it(net: Net) -> None:
    peer = net.peer(gossip_count=0)
    net.events.wait_event("seed.registered", node=peer.id)
    questions = [
        (net.seeds[0].id, wire.ListPeers(), wire.Peers),
        (peer.id, wire.Ping("127.0.0.1:9", 1.0), wire.Pong),
    ]
    with zmq.Context() as ctx:
        for address, question, answer in questions:
            client = ctx.socket(zmq.DEALER)
            client.setsockopt(zmq.LINGER, 1000)
            client.connect(f"tcp://{address}")
            client.send(b"\x00" * (wire.MAX_FRAME + 1))  # ZMQ_MAXMSGSIZE cuts this link
            client.close()
            asker = ctx.socket(zmq.DEALER)  # and the node still answers everyone else
            asker.setsockopt(zmq.LINGER, 0)
            asker.connect(f"tcp://{address}")
            asker.send(wire.encode(question))
            assert asker.poll(5000), f"{address} stopped answering"
            assert isinstance(wire.decode(asker.recv()), answer)
            asker.close()
    assert not net.events.of("bad.message"), "an oversized frame reached the node's own code"


def test_a_flood_of_probe_requests_holds_only_a_bounded_number_of_probes(net: Net) -> None:
    peer = net.peer(gossip_count=0)
    net.events.wait_event("seed.registered", node=peer.id)
    silent = []  # TCP servers that accept and never speak: each probe of one waits its timeout
    for _ in range(80):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        silent.append(server)
    try:
        with zmq.Context() as ctx:
            asker = ctx.socket(zmq.DEALER)
            asker.setsockopt(zmq.LINGER, 0)
            asker.connect(f"tcp://{peer.id}")
            for server in silent:
                suspect = f"127.0.0.1:{server.getsockname()[1]}"
                asker.send(wire.encode(wire.Probe("127.0.0.1:9", suspect, 1.0)))
            net.events.wait_for(
                lambda: net.events.bad_inputs(peer.id) == 80 - 64,
                what="the requests over the bound refused",
            )
            assert all("too many probes" in e["reason"] for e in net.events.of("bad.message"))
            asker.send(wire.encode(wire.Ping("127.0.0.1:9", 2.0)))  # and it still answers
            answers = []
            while asker.poll(5000) and not any(isinstance(a, wire.Pong) for a in answers):
                answers.append(wire.decode(asker.recv()))  # the probes' answers come too
            assert any(isinstance(a, wire.Pong) for a in answers), "the peer stopped answering"
            asker.close()
    finally:
        for server in silent:
            server.close()


def test_a_probe_that_cannot_be_opened_fails_and_the_seed_goes_on(net: Net) -> None:
    address = Address("127.0.0.1", free_ports(1)[0])
    # as when file descriptors run out: its ROUTER and its 3 DEALERs to the seeds, no more
    seed = Seed(net.config(address, max_sockets=4))
    net._start(seed)
    other = net.seeds[1].id
    with zmq.Context() as ctx:
        client = ctx.socket(zmq.DEALER)
        client.setsockopt(zmq.LINGER, 0)
        client.connect(f"tcp://{seed.id}")
        client.send(wire.encode(wire.Suspect(other, "127.0.0.1:9", other)))
        net.events.wait_for(
            lambda: any("cannot probe" in e["reason"] for e in net.events.of("bad.message")),
            what="the failed probe reported",
        )
        client.send(wire.encode(wire.ListPeers()))
        assert client.poll(5000), "the seed stopped answering"
        assert isinstance(wire.decode(client.recv()), wire.Peers)
        client.close()
    assert not net.events.of("internal.error")


def test_a_quiet_seed_says_what_a_garbage_sender_sent_once_its_quiet_time_is_up() -> None:
    seed_address = Address("127.0.0.1", free_ports(1)[0])
    events = Events()
    seed = Seed(Config(address=seed_address, seeds=[seed_address], liveness_interval=60.0))
    seed.events.listen(events)
    with seed, zmq.Context() as ctx, ctx.socket(zmq.DEALER) as client:
        client.setsockopt(zmq.LINGER, 0)
        client.connect(f"tcp://{seed_address}")
        for _ in range(5):  # then silence: no input, no timer due for a minute
            client.send(b"\xc1garbage")
        events.wait_for(lambda: events.bad_inputs(seed.id) == 5, timeout=10, what="all five")
    assert [e.get("count") for e in events.of("bad.message", seed.id)] == [None, 4]
