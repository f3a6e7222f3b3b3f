"""Seeds and peers in one process, on loopback, with fast timers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from typer.testing import CliRunner

from tests.net.harness import Net, dealer
from tests.support import free_ports, write_config
from zgossip import BindError, Config, Peer, Seed, query_members, query_peers
from zgossip.peer import Delivery
from zgossip.protocol import wire
from zgossip.protocol.config import Address
from zgossip.tools.cli import app


def test_every_message_reaches_every_other_peer_exactly_once(net: Net) -> None:
    peers = [net.peer() for _ in range(6)]
    net.events.wait_for(
        lambda: all(len(net.received(p)) == 25 for p in peers), what="25 messages at each peer"
    )
    sent = {e["id"]: e["node"] for e in net.events.of("gossip.sent")}
    assert len(sent) == 30
    for peer in peers:
        received = net.events.of("gossip.received", peer.id)
        ids = [e["id"] for e in received]
        assert len(ids) == len(set(ids)), "a message was received twice"
        assert set(ids) == {i for i, origin in sent.items() if origin != peer.id}
        assert all(e["origin"] == sent[e["id"]] for e in received)


def test_a_burst_forwarded_in_batches_arrives_whole_and_once(net: Net) -> None:
    origin, middle, last = (net.peer(gossip_count=0) for _ in range(3))
    net.events.wait_for(
        lambda: all(any(n.up for n in p.neighbours.values()) for p in (origin, middle, last)),
        what="every peer linked",
    )
    for n in range(600):  # the loop takes them 256 a turn: its forwards go in batches
        origin.broadcast(f"burst {n}")
    for peer in (middle, last):
        net.events.wait_for(lambda peer=peer: len(net.received(peer)) == 600, what="all 600")
        bodies = [e["body"] for e in net.events.of("gossip.received", peer.id)]
        assert sorted(bodies) == sorted(f"burst {n}" for n in range(600))  # each once


def test_a_neighbour_s_batches_are_taken_item_by_item_and_oversized_ones_refused(
    net: Net,
) -> None:
    peer = net.peer(gossip_count=0)
    fake = f"127.0.0.1:{free_ports(1)[0]}"
    topic = wire.topic(peer.id.encode())
    with zmq.Context() as ctx:
        xpub = ctx.socket(zmq.XPUB)
        xpub.setsockopt(zmq.LINGER, 0)
        xpub.bind("tcp://127.0.0.1:*")
        router = ctx.socket(zmq.ROUTER)  # the fake's own address listens: a port that
        router.setsockopt(zmq.LINGER, 0)  # refused the peer's DEALER would fail the link
        router.bind(f"tcp://{fake}")
        linker = dealer(ctx, peer.id)  # "link to me": its SUB comes onto our PUB
        linker.send(wire.encode(wire.Link(fake, xpub.getsockopt_string(zmq.LAST_ENDPOINT))))
        while xpub.poll(10_000) and xpub.recv() != b"\x01" + topic:
            pass  # its other subscription: the handshake's marker
        good = tuple(wire.encode(wire.Gossip(fake, n, 1.0, f"batched {n}")) for n in (1, 2))
        xpub.send(topic + wire.batch_frame(fake, good))
        xpub.send(topic + wire.batch_frame(fake, good * 40))  # 80 > max_batch: refused whole
        xpub.send(topic + b"\x00not msgpack")
        net.events.wait_for(
            lambda: len(net.events.of("bad.message", peer.id)) == 2, what="two bad batches"
        )
        bodies = [e["body"] for e in net.events.of("gossip.received", peer.id)]
        assert bodies == ["batched 1", "batched 2"]
        reasons = [e["reason"] for e in net.events.of("bad.message", peer.id)]
        assert "over 64" in reasons[0] and "msgpack" in reasons[1]
        linker.close()
        router.close()
        xpub.close()


def test_links_are_symmetric_and_every_peer_has_a_neighbour(net: Net) -> None:
    peers = [net.peer(gossip_count=0) for _ in range(5)]

    def edges() -> set[tuple[str, str]]:
        return {(e["node"], e["neighbour"]) for e in net.events.of("neighbour.added")}

    net.events.wait_for(
        lambda: (
            {a for a, _ in edges()} == {p.id for p in peers}
            and all((b, a) in edges() for a, b in edges())
        ),
        what="every peer linked, and both ends of every link up",
    )


def test_late_joiner_receives_the_recent_gossip_it_missed(net: Net) -> None:
    net.peer(gossip_count=3), net.peer(gossip_count=3)
    net.events.wait_for(lambda: len(net.events.of("gossip.sent")) == 6, what="6 messages sent")
    late = net.peer(gossip_count=0)
    net.events.wait_for(lambda: len(net.received(late)) == 6, what="history at the late joiner")
    assert net.received(late) == {e["id"] for e in net.events.of("gossip.sent")}
    assert all(e["history"] is True for e in net.events.of("gossip.received", late.id))
    live = net.events.of("gossip.received")[0]  # sent while its receiver was linked
    assert "history" not in live


def test_stopped_peer_leaves_and_seeds_remove_it(net: Net) -> None:
    stays, leaves = net.peer(gossip_count=0), net.peer(gossip_count=0)
    net.linked(leaves)
    registered_at = [seed.id for seed in net.seeds if leaves.id in seed.registry]
    assert len(registered_at) >= 2
    leaves.stop()
    for seed in registered_at:
        removed = net.events.wait_event("peer.removed", node=seed, peer=leaves.id)
        assert removed["reason"] == "left"
    net.events.wait_event("neighbour.left", node=stays.id, neighbour=leaves.id)
    answers = query_peers([s.id for s in net.seeds], timeout=2.0)
    assert all(leaves.id not in {i.id for i in infos or ()} for infos in answers.values())


def test_dead_peer_is_reported_by_its_neighbour_and_removed_by_seeds(net: Net) -> None:
    watcher, doomed = net.peer(gossip_count=0), net.peer(gossip_count=0)
    net.linked(doomed)
    registered_at = [seed for seed in net.seeds if doomed.id in seed.registry]
    net.die_silently(doomed)
    net.events.wait_event("neighbour.dead", node=watcher.id, neighbour=doomed.id)
    suspected = net.events.wait_event("neighbour.suspect", node=watcher.id, neighbour=doomed.id)
    assert suspected["reason"] == "closed"  # its connection closed: no ping was waited for
    assert set(suspected["helpers"]) <= {s.id for s in net.seeds}  # it had no other neighbour
    for seed in registered_at:  # the seeds agree: each removes it, naming who suspected it
        removed = net.events.wait_event("peer.removed", node=seed.id, peer=doomed.id)
        assert removed["reason"] == "dead"
        assert removed["reporter"] in {watcher.id} | {s.id for s in net.seeds}
        assert len(removed["votes"]) >= 2
    reports = net.events.of("dead.reported", watcher.id)
    assert {e["seed"] for e in reports} == set(watcher.registration.registered())


def test_a_hung_peer_is_reported_after_three_missed_pings_and_removed(net: Net) -> None:
    watcher, hung = net.peer(gossip_count=0), net.peer(gossip_count=0)
    net.linked(hung)
    net.faults[hung.id].deaf_to = lambda m, s: True  # reads nothing, its connections open
    net.faults[hung.id].mute = True
    net.events.wait_event("neighbour.dead", node=watcher.id, neighbour=hung.id)
    misses = [e["misses"] for e in net.events.of("liveness.missed", watcher.id)]
    assert misses[-3:] == [1, 2, 3]
    suspected = net.events.wait_event("neighbour.suspect", node=watcher.id, neighbour=hung.id)
    assert suspected["reason"] == "silent"
    net.events.wait_event("peer.removed", peer=hung.id, reason="dead")


def test_dead_peer_is_removed_by_every_live_seed_with_one_seed_down(net: Net) -> None:
    peers = [net.peer(gossip_count=0) for _ in range(3)]
    for peer in peers:
        net.linked(peer)
    down, live = net.seeds[0], net.seeds[1:]
    down.stop()
    doomed = peers[0]
    holders = [seed for seed in live if doomed.id in seed.registry]
    assert holders, "every peer registers with 2 of the 3 seeds"
    net.die_silently(doomed)
    for seed in holders:
        removed = net.events.wait_event("peer.removed", node=seed.id, peer=doomed.id)
        assert set(removed["votes"]) == {s.id for s in live}  # two of three: a majority
    assert all(doomed.id not in seed.registry for seed in live)


def test_live_peer_falsely_reported_dead_stays_listed_and_keeps_receiving_gossip(
    net: Net,
) -> None:
    victim, framed, talker = (net.peer(gossip_count=0) for _ in range(3))
    for peer in (victim, framed, talker):
        net.linked(peer)
    cut_off = net.seeds[0]  # this seed cannot reach the victim: its own probe fails
    net.faults[cut_off.id].deaf_to = (  # its probe's answers are lost: it times out
        lambda message, sender: isinstance(message, wire.Pong) and sender == victim.id
    )
    with zmq.Context() as ctx:
        forgers = [dealer(ctx, seed.id) for seed in net.seeds]  # a bogus client's sockets
        for forger in forgers:  # it forges a report in a registered peer's name
            forger.send(wire.encode(wire.Dead(victim.id, 1.0, framed.id)))
        for seed in net.seeds:
            net.events.wait_event("report.refuted", node=seed.id, peer=victim.id)
    assert not net.events.of("peer.removed"), "a forged report evicted a live peer"
    answers = query_peers([s.id for s in net.seeds], 2.0)
    holders = [seed for seed, infos in answers.items() if victim.id in {i.id for i in infos or ()}]
    assert len(holders) >= 2
    talker.broadcast("still there?")
    net.events.wait_for(
        lambda: "still there?" in {e["body"] for e in net.events.of("gossip.received", victim.id)},
        what="gossip at the falsely reported peer",
    )


def test_neighbour_unreachable_from_one_peer_only_is_not_reported(net: Net) -> None:
    peers = [net.peer(gossip_count=0) for _ in range(3)]
    for peer in peers:
        net.linked(peer)
    asker = peers[0]
    net.events.wait_for(lambda: any(n.up for n in asker.neighbours.values()), what="a link")
    deaf = next(p for p in peers if p.id in asker.neighbours and asker.neighbours[p.id].up)
    net.faults[deaf.id].deaf_to = (  # its pings from the asker go unanswered
        lambda message, sender: isinstance(message, wire.Ping) and message.peer == asker.id
    )
    refuted = net.events.wait_event("suspect.refuted", node=asker.id, neighbour=deaf.id)
    assert refuted["by"] != asker.id
    accused = {e["neighbour"] for e in net.events.of("neighbour.dead", asker.id)}
    assert deaf.id not in accused, "a broken link was taken for a death"
    assert deaf.id not in {e["peer"] for e in net.events.of("peer.removed")}


@pytest.mark.parametrize(
    "frames",
    [
        [b"\xc1garbage"],
        [wire.encode(wire.Ping("127.0.0.1:1", 1.0))[:-3]],
        [b"\x93\x01\x02\x03"],  # a list, not a map
        [msgpack.packb({"v": wire.VERSION + 1, "type": "ping", "peer": "127.0.0.1:1", "ts": 1.0})],
        [wire.encode(wire.Bye("127.0.0.1:1")), b"extra frame"],
    ],
    ids=["garbage", "truncated", "not-a-map", "wrong-version", "extra-frame"],
)
def test_bad_frames_are_reported_and_both_roles_keep_serving(net: Net, frames: list[bytes]) -> None:
    peer = net.peer(gossip_count=0)
    seed = net.seeds[0]
    with zmq.Context() as ctx:
        for target in (seed.id, peer.id):
            sender = dealer(ctx, target)
            sender.send_multipart(frames)
            net.events.wait_event("bad.message", node=target)
        probe = dealer(ctx, peer.id)
        probe.send(wire.encode(wire.Ping("127.0.0.1:9", 7.0)))
        assert probe.poll(5000), "the peer stopped answering"
        assert wire.decode(probe.recv()) == wire.Pong("127.0.0.1:9", 7.0, linked=False)
    assert query_peers([seed.id], 2.0)[seed.id] is not None, "the seed stopped answering"


def test_raw_tcp_garbage_does_not_stop_a_seed() -> None:
    network = Net(seeds=1)
    try:
        host, port = network.seeds[0].id.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\n\r\n" * 100)
        peer = network.peer(gossip_count=0)
        network.events.wait_event("seed.registered", node=peer.id)
    finally:
        network.close()


def test_peer_registers_with_a_majority_and_falls_back_when_a_seed_is_silent() -> None:
    network = Net(seeds=2, spare_seeds=1)  # three listed, one of them never started
    try:
        peer = network.peer(gossip_count=0)
        network.events.wait_for(
            lambda: len(network.events.of("seed.registered", peer.id)) == 2, what="2 seeds"
        )
        assert set(peer.registration.registered()) == {s.id for s in network.seeds}
    finally:
        network.close()


def test_second_node_on_a_port_in_use_fails_with_a_one_line_error(net: Net) -> None:
    taken = net.seeds[0].config.address
    with pytest.raises(BindError, match=rf"port {taken.port} on 127.0.0.1 is already in use"):
        Peer(net.config(taken)).start()


def test_library_api_broadcasts_text_and_bytes_to_on_message_handlers(net: Net) -> None:
    sender, receiver = net.peer(gossip_count=0), net.peer(gossip_count=0)
    got: list[Delivery] = []
    receiver.on_message(got.append)
    net.linked(receiver)
    sender.broadcast("hello")
    sender.broadcast(b"\x00\xff")
    net.events.wait_for(lambda: len(got) == 2, what="two deliveries")
    assert [d.body for d in got] == ["hello", b"\x00\xff"]
    assert all(d.origin == sender.id and d.sender == sender.id for d in got)
    with pytest.raises(ValueError, match="at most"):
        sender.broadcast("x" * (wire.MAX_BODY + 1))


def test_a_failing_on_message_handler_is_reported_and_gossip_goes_on(net: Net) -> None:
    sender, receiver = net.peer(gossip_count=0), net.peer(gossip_count=0)

    @receiver.on_message
    def explode(delivery: Delivery) -> None:
        raise RuntimeError("user bug")

    net.linked(receiver)
    sender.broadcast("one")
    sender.broadcast("two")
    net.events.wait_for(lambda: len(net.received(receiver)) == 2, what="both messages")
    assert len(net.events.of("handler.error", receiver.id)) == 2


def test_peer_as_context_manager_leaves_on_exit(net: Net) -> None:
    config = net.config(Address("127.0.0.1", free_ports(1)[0]), gossip_count=0)
    with Peer(config) as peer:
        peer.events.listen(net.events)
        net.events.wait_event("seed.registered", node=peer.id)
    net.events.wait_event("peer.removed", peer=peer.id, reason="left")
    with pytest.raises(RuntimeError, match="stopped"):
        peer.broadcast("too late")


def test_restarted_seed_is_refilled_by_the_peers_that_lost_it(net: Net) -> None:
    peers = [net.peer(gossip_count=0) for _ in range(4)]
    for peer in peers:
        net.events.wait_for(lambda p=peer: len(p.registration.registered()) == 2, what="quorum")
    # the seed most peers registered with (the choice is random; each peer has 2 of 3)
    crashed = max(net.seeds, key=lambda s: sum(s.id in p.registration.registered() for p in peers))
    holders = {p.id for p in peers if crashed.id in p.registration.registered()}
    assert holders
    crashed.stop()  # a seed says no goodbye: this is what a crash looks like to the peers
    for peer in holders:
        net.events.wait_event("seed.lost", node=peer, seed=crashed.id)
    reborn = Seed(net.config(crashed.config.address))
    reborn.events.listen(net.events)
    net.nodes.append(reborn.start())
    net.events.wait_for(
        lambda: holders <= {e["peer"] for e in net.events.of("peer.registered", reborn.id)},
        what="the restarted seed refilled by the peers that had it",
    )


def test_a_peer_links_only_once_a_majority_of_the_seeds_hold_its_registration(net: Net) -> None:
    down = net.seeds[:2]
    for seed in down:
        seed.stop()
    first, second = net.peer(gossip_count=0), net.peer(gossip_count=0)
    for peer in (first, second):
        net.events.wait_event("seed.registered", node=peer.id)
    # Absence cannot be awaited: give them a few rounds in which they could have linked.
    threading.Event().wait(5 * first.config.liveness_interval)
    assert not net.events.of("neighbour.added"), "linked with one seed of three"
    assert not first.neighbours and not second.neighbours
    back = Seed(net.config(down[0].config.address))
    back.events.listen(net.events)
    net.nodes.append(back.start())
    for peer in (first, second):  # a majority now: they link
        net.events.wait_event("neighbour.added", node=peer.id)


def test_survivors_relink_and_keep_gossiping_when_half_the_peers_die_at_once(net: Net) -> None:
    peers = [net.peer(gossip_count=0) for _ in range(12)]
    for peer in peers:
        net.linked(peer)
    doomed, survivors = peers[::2], peers[1::2]
    for peer in doomed:
        net.die_silently(peer)
    dead = {p.id for p in doomed}
    net.events.wait_for(
        lambda: all(
            any(n.up and n.id not in dead for n in p.neighbours.values()) for p in survivors
        ),
        timeout=30,
        what="every survivor linked to another survivor",
    )
    net.everyone_hears_everyone(survivors, "after the massacre", timeout=30)


def test_peers_command_shows_lists_links_dot_and_plot(net: Net, tmp_path: Path) -> None:
    peers = [net.peer(gossip_count=0) for _ in range(4)]
    for peer in peers:
        net.linked(peer)
    config = write_config(tmp_path / "config.txt", (a.port for a in net.seed_addresses))
    dot, png = tmp_path / "overlay.dot", tmp_path / "overlay.png"
    runner = CliRunner()
    shown = runner.invoke(app, ["peers", "--config", str(config), "--links"])
    assert shown.exit_code == 0, shown.output
    header = ["SEED", "PEER", "DEGREE", "REGISTERED", "SINCE", "PUB"]
    assert shown.output.splitlines()[0].split() == header
    assert all(peer.id in shown.output for peer in peers)
    assert "NEIGHBOURS" in shown.output
    args = ["peers", "--config", str(config), "--json", "--dot", str(dot), "--plot", str(png)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"wrote {dot}", f"wrote {png}"]
    links = json.loads(result.stdout)["links"]
    assert set(links) == {p.id for p in peers}
    assert all(links[p.id] and set(links[p.id]) <= set(links) - {p.id} for p in peers)
    assert dot.read_text().startswith("graph zgossip {") and " -- " in dot.read_text()
    assert png.read_bytes().startswith(b"\x89PNG")
    to_stdout = runner.invoke(app, ["peers", "--config", str(config), "--dot", "-"])
    assert to_stdout.exit_code == 0 and not (tmp_path / "-").exists()
    assert to_stdout.stdout.startswith("graph zgossip {")  # the DOT alone: for a pipe


def test_messages_dropped_on_a_link_are_repaired_from_a_neighbour(net: Net) -> None:
    origin, lossy, third = (net.peer(gossip_count=0) for _ in range(3))
    net.events.wait_for(  # a triangle: a link that came up later would bring history instead
        lambda: all(sum(n.up for n in p.neighbours.values()) == 2 for p in (origin, lossy, third)),
        what="every link of the triangle up",
    )
    lost = {2, 4, 5}  # the last message is never lost: no later one would show the gap

    def drop_some(frame: wire.Message | bytes, sender: str | None) -> bool:
        if not isinstance(frame, bytes):  # every copy, whichever neighbour sends it
            return False
        assert not wire.is_batch(frame), "one message a turn: each in a frame of its own"
        message = wire.decode(bytes(wire.split_gossip(frame)[1]))
        assert isinstance(message, wire.Gossip)
        return message.origin == origin.id and message.seq - first() + 1 in lost

    def first() -> int:  # the origin's first number (a run counts from its start time)
        return int(net.events.of("gossip.sent", origin.id)[0]["seq"])

    net.faults[lossy.id].deaf_to = drop_some
    for n in range(1, 7):  # one at a time: a turn that forwards several sends a batch
        origin.broadcast(f"message {n}")
        net.events.wait_for(
            lambda n=n: len(net.events.of("gossip.received", third.id)) == n,  # type: ignore[misc]
            what=f"message {n} at the third",
        )
    net.events.wait_for(
        lambda: len(net.events.of("gossip.received", lossy.id)) == 6, what="six at the lossy peer"
    )
    bodies = [e["body"] for e in net.events.of("gossip.received", lossy.id)]
    assert sorted(bodies) == [f"message {n}" for n in range(1, 7)]  # each once
    gaps = net.events.of("gossip.gap", lossy.id)  # asked of a neighbour, unless a round of
    asked = {seq - first() + 1 for e in gaps for seq in e["seqs"]}  # anti-entropy came first
    assert asked <= lost
    assert all(e["origin"] == origin.id for e in gaps)
    net.events.wait_for(
        lambda: len(net.events.of("gossip.received", third.id)) == 6, what="all six at the third"
    )


def test_forged_seed_votes_do_not_evict_a_live_peer(net: Net) -> None:
    victim = net.peer(gossip_count=0)
    net.events.wait_event("seed.registered", node=victim.id)
    seeds = [s.id for s in net.seeds]
    with zmq.Context() as ctx:
        forgers = [dealer(ctx, seed) for seed in seeds]  # a client posing as every seed
        for forger, target in zip(forgers, seeds, strict=True):
            for claimed in seeds:
                if claimed != target:
                    forger.send(wire.encode(wire.Vote(claimed, victim.id, True, claimed)))
        for seed in seeds:
            net.events.wait_event("report.refuted", node=seed, peer=victim.id)
    assert not net.events.of("peer.removed"), "forged votes evicted a live peer"


def test_the_peer_list_comes_whole_page_by_page_however_long(net: Net) -> None:
    seed_address = Address("127.0.0.1", free_ports(1)[0])
    paged = Seed(Config(seeds=[seed_address], address=seed_address, page_size=2))
    net._start(paged)
    fakes = [f"127.0.0.{n}:7000" for n in range(2, 9)]  # registered, never running
    with zmq.Context() as ctx:
        client = dealer(ctx, paged.id)
        for fake in fakes:
            client.send(wire.encode(wire.Register(fake, f"tcp://{fake[:-5]}:7001", ())))
            assert client.poll(5000)
            assert isinstance(wire.decode(client.recv()), wire.Peers)
        client.close()
    answers = query_peers([paged.id], timeout=2.0)
    assert sorted(info.id for info in answers[paged.id] or ()) == sorted(fakes)


def _sender(message: wire.Message | bytes, sender: str | None) -> str | None:
    """Who a message comes from, as far as it says."""
    if sender is not None:
        return sender
    if isinstance(message, bytes):  # a gossip frame: one message, or a batch
        if wire.is_batch(message):
            batch = wire.decode(message[1:])
            assert isinstance(batch, wire.Batch)
            return batch.peer
        return wire.split_gossip(message)[0].decode()
    for name in ("peer", "seed", "reporter"):
        if isinstance(who := getattr(message, name, None), str):
            return who
    return None


def _cut_and_healed(net: Net, **options: Any) -> list[Peer]:
    """8 peers (with ``options``) cut 4 / 4, seeds 2 / 1, until each side declared its links
    across dead and linked on its own side only; then healed. The peers."""
    peers = [net.peer(gossip_count=0, **options) for _ in range(8)]
    for peer in peers:
        net.linked(peer)
    side_a = {s.id for s in net.seeds[:2]} | {p.id for p in peers[:4]}
    for node, faults in net.faults.items():  # nothing gets across, either way
        here = node in side_a
        faults.deaf_to = lambda m, s, here=here: (_sender(m, s) in side_a) != here  # type: ignore[misc]
    net.events.wait_for(
        lambda: all(
            p.neighbours
            and all(n.up and (n.id in side_a) == (p.id in side_a) for n in p.neighbours.values())
            for p in peers
        ),
        timeout=30,
        what="every peer linked on its own side only",
    )
    for faults in net.faults.values():
        faults.deaf_to = lambda m, s: False  # healed
    return peers


def test_two_sides_of_a_healed_partition_link_up_and_gossip_again(net: Net) -> None:
    peers = _cut_and_healed(net)
    net.everyone_hears_everyone(peers, "after the heal", timeout=20)


def test_two_sides_no_peer_recalls_are_joined_by_a_digest_across(net: Net) -> None:
    """As above with nothing recalled: after the heal every peer still has its links on its
    own side, and only a digest sent across to a peer it does not link to finds the other."""
    peers = _cut_and_healed(net, max_recalled=0)
    net.everyone_hears_everyone(peers, "after the heal", timeout=30)
    assert net.events.of("neighbour.bridged")


def test_members_merge_what_every_seed_says_of_each_peer(net: Net) -> None:
    leaving, dying, staying = (net.peer(gossip_count=0) for _ in range(3))
    for peer in (leaving, dying, staying):
        net.linked(peer)
    leaving.stop()
    net.removed_everywhere(leaving.id)
    net.die_silently(dying)
    net.removed_everywhere(dying.id)  # each seed decides: all of them, not the first
    rows, silent = query_members([s.id for s in net.seeds], 5.0)
    assert silent == []
    states = {row.peer: row.state for row in rows}
    assert states == {leaving.id: "left", dying.id: "dead", staying.id: "alive"}
    (row,) = [r for r in rows if r.peer == staying.id]
    assert len(row.seeds) >= 2  # registered with a majority of the seeds


def test_tags_a_peer_sets_are_what_the_seeds_show_of_it(net: Net) -> None:
    peer = net.peer(gossip_count=0, tags=(("zone", "a"),))
    net.events.wait_for(lambda: len(net.events.of("seed.registered", peer.id)) >= 2)

    def shown(expected: dict[str, str]) -> dict[str, str]:
        """What the seeds show of its tags once it is ``expected`` (each look a round trip
        to every seed: nothing to wait on but the answers), or at the latest in 10 s."""
        deadline = time.monotonic() + 10.0
        while True:
            rows, _ = query_members([s.id for s in net.seeds], 5.0)
            tags = next((dict(r.tags) for r in rows if r.peer == peer.id), {})
            if tags == expected or time.monotonic() > deadline:
                return tags

    assert shown({"zone": "a"}) == {"zone": "a"} and peer.tags == {"zone": "a"}
    peer.set_tags({"zone": "b", "role": "cache"})
    assert shown({"zone": "b", "role": "cache"}) == {"zone": "b", "role": "cache"}
    with pytest.raises(ValueError, match="4096-byte limit"):
        peer.set_tags({"big": "x" * 5000})
    with pytest.raises(ValueError, match="no '='"):
        peer.set_tags([("a=b", "c")])
    assert peer.tags == {"zone": "b", "role": "cache"}  # a refused change changes nothing


def test_a_crashed_neighbour_is_known_dead_long_before_its_pings_would_tell() -> None:
    # pings every 5 s: its silence would take 15 s to tell; its closed connection tells now
    net = Net(seeds=3, liveness_interval=5.0)
    try:
        peers = [net.peer(gossip_count=0) for _ in range(4)]
        net.events.wait_for(
            lambda: all(any(n.up for n in p.neighbours.values()) for p in peers),
            what="every peer linked",
        )
        victim = max(peers, key=lambda p: len(p.neighbours))
        # a link still coming up is a link failed, not a neighbour dead: not watched
        watchers = {p.id for p in peers if getattr(p.neighbours.get(victim.id), "up", False)}
        net.die_silently(victim)
        for watcher in watchers:
            dead = net.events.wait_event(
                "neighbour.dead", node=watcher, neighbour=victim.id, timeout=3.0
            )
            suspect = net.events.wait_event(
                "neighbour.suspect", node=watcher, neighbour=victim.id, timeout=0.1
            )
            assert suspect["reason"] == "closed" and dead["ts"] - suspect["ts"] < 1.0
        net.events.wait_event("peer.removed", peer=victim.id, reason="dead", timeout=3.0)
    finally:
        net.close()


def _reset_connections(*ports: int) -> None:
    """Reset, from outside, every TCP connection to these loopback ports (``ss -K``, as a
    middlebox or a flapping NIC would): both ends see it closed, the processes live on."""
    for port in ports:
        subprocess.run(
            ["ss", "-K", "dst", "127.0.0.1", "dport", "=", f":{port}"],
            check=True,
            capture_output=True,
            timeout=10,
        )


def _can_reset_connections() -> bool:
    """Whether ``ss -K`` resets a connection here: it needs root, iproute2, and a kernel
    built with INET_DIAG_DESTROY (tried on a connection of our own)."""
    if os.geteuid() != 0 or shutil.which("ss") is None:
        return False
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            accepted, _ = server.accept()
            with accepted:
                _reset_connections(port)
                accepted.settimeout(2)
                try:
                    return accepted.recv(1) == b""  # closed
                except ConnectionResetError:  # reset: what ss -K does
                    return True
                except TimeoutError:  # still open: ss -K did nothing
                    return False


@pytest.mark.skipif(not _can_reset_connections(), reason="ss -K cannot reset connections here")
def test_a_reset_connection_to_a_live_neighbour_evicts_no_one() -> None:
    net = Net(seeds=3, liveness_interval=5.0)  # pings every 5 s: only the closed link tells
    try:
        a, b = net.peer(gossip_count=0), net.peer(gossip_count=0)
        net.events.wait_for(
            lambda: b.id in a.neighbours and a.neighbours[b.id].up and a.id in b.neighbours,
            what="a and b linked",
        )
        pubs = [int(peer.pub_endpoint.rpartition(":")[2]) for peer in (a, b)]
        _reset_connections(a.config.address.port, b.config.address.port, *pubs)
        net.events.wait_event("suspect.refuted", neighbour=b.id, timeout=5.0)
        # the SUBs connect again within ZeroMQ's reconnect interval; what a PUB sends before
        # that is lost to them (anti-entropy's to make up for): gossip until it flows again
        for n in range(20):
            a.broadcast(f"after the reset {n}")
            b.broadcast(f"after the reset {n}")
            wanted = {(b.id, f"after the reset {n}"), (a.id, f"after the reset {n}")}
            try:
                net.events.wait_for(
                    lambda w=wanted: (
                        w  # type: ignore[misc]
                        <= {(e["node"], e["body"]) for e in net.events.of("gossip.received")}
                    ),
                    timeout=0.5,
                    what="a message each way",
                )
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("gossip does not flow again after the reset")
        assert not net.events.of("neighbour.dead") and not net.events.of("peer.removed")
        assert b.id in a.neighbours and a.id in b.neighbours
    finally:
        net.close()


def test_every_peer_lists_every_member_with_its_tags_and_hears_of_each_change(net: Net) -> None:
    changes: list[tuple[str, str, str]] = []
    watcher = net.peer(gossip_count=0)
    watcher.on_member(lambda c: changes.append((c.change, c.member.peer, c.member.state)))
    others = [net.peer(gossip_count=0, tags=(("n", str(k)),)) for k in range(3)]
    peers = [watcher, *others]

    def joined(peer: Peer) -> set[str]:
        return {e["member"] for e in net.events.of("member.joined", peer.id)}

    net.events.wait_for(
        lambda: all(joined(p) == {q.id for q in peers} - {p.id} for p in peers),
        what="every peer hearing every other join",
    )
    for peer in peers:
        assert [(m.peer, m.state) for m in peer.members()] == sorted((p.id, "alive") for p in peers)
    listed = {m.peer: m for m in watcher.members()}
    assert listed[others[1].id].tags == {"n": "1"} and listed[watcher.id].tags == {}
    others[1].set_tags({"n": "one", "role": "db"})
    net.events.wait_event("member.updated", node=watcher.id, member=others[1].id)
    listed = {m.peer: m for m in watcher.members()}
    assert listed[others[1].id].tags == {"n": "one", "role": "db"}
    others[2].stop()
    net.events.wait_event("member.left", node=watcher.id, member=others[2].id)
    net.die_silently(others[0])
    net.events.wait_event("member.failed", node=watcher.id, member=others[0].id)
    assert {m.peer: m.state for m in watcher.members()} == {
        watcher.id: "alive", others[0].id: "dead", others[1].id: "alive", others[2].id: "left"
    }  # fmt: skip
    assert sorted(changes[:3]) == sorted(("joined", p.id, "alive") for p in others)
    assert changes[3:] == [
        ("updated", others[1].id, "alive"),
        ("left", others[2].id, "left"),
        ("failed", others[0].id, "dead"),
    ]


def test_a_query_reaches_the_matching_members_handlers_and_ends_with_the_last_answer(
    net: Net,
) -> None:
    querier = net.peer(gossip_count=0)
    dbs = [net.peer(gossip_count=0, tags=(("role", f"db-{k}"),)) for k in range(3)]
    web = net.peer(gossip_count=0, tags=(("role", "web"),))
    everyone = [querier, *dbs, web]
    for peer in everyone:
        peer.on_query("whoami")(lambda request, peer=peer: f"{peer.id} for {request.querier}")
    dbs[2].on_query("boom")(lambda request: 1 / 0)
    net.events.wait_for(
        lambda: all(
            len(net.events.of("member.joined", p.id)) >= len(everyone) - 1 for p in everyone
        ),
        what="every peer listing every other",
    )
    run = querier.query("whoami", tags={"role": "db*"}, timeout=10.0)
    answers = {a.peer: (a.status, a.payload) for a in run}
    assert answers == {p.id: ("ok", f"{p.id} for {querier.id}") for p in dbs}
    assert (run.missing, run.gone, run.timed_out) == ([], [], False)
    failing = {a.peer: a.status for a in querier.query("boom", tags={"role": "db*"})}
    assert failing == {dbs[0].id: "nohandler", dbs[1].id: "nohandler", dbs[2].id: "failed"}
    with pytest.raises(ValueError, match="name of 1 to 64"):
        querier.query("x" * 65)
