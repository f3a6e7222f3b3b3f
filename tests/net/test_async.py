"""The asyncio API: ``async with`` a node, ``async for`` its messages and events."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support import free_ports
from zgossip import Address, Config, Peer, Seed
from zgossip.peer import Delivery


def _configs(count: int) -> list[Config]:
    """A seed's config, then peers' of the same network."""
    addresses = [Address("127.0.0.1", port) for port in free_ports(count)]
    return [Config.local(address=a, seeds=addresses[:1], gossip_count=0) for a in addresses]


def test_async_for_gets_each_message_once_and_ends_when_the_peer_stops() -> None:
    seed, alice, bob = _configs(3)

    async def main() -> tuple[list[Delivery], list[str]]:
        got: list[Delivery] = []
        async with Seed(seed), Peer(alice) as sender:
            async with Peer(bob) as receiver:
                messages = receiver.messages()
                events = receiver.events.stream()
                for number in range(3):
                    sender.broadcast(f"hello {number}")
                async for message in messages:
                    got.append(message)
                    if len(got) == 3:
                        break
            names = [record["event"] async for record in events]  # ends: the peer stopped
            assert [m async for m in messages] == []  # so does this one
        return got, names

    got, names = asyncio.run(asyncio.wait_for(main(), 20))
    assert [m.body for m in got] == ["hello 0", "hello 1", "hello 2"]
    assert {m.origin for m in got} == {str(alice.address)}
    assert names.count("gossip.received") == 3
    assert names[-1] == "stopped"


def test_a_consumer_that_does_not_read_costs_the_peer_a_bounded_queue_and_an_event() -> None:
    seed, alice, bob = _configs(3)

    async def main() -> tuple[int, list[dict[str, Any]]]:
        async with Seed(seed), Peer(alice) as sender, Peer(bob) as receiver:
            logged: list[dict[str, Any]] = []
            receiver.events.listen(logged.append)
            stream = receiver.messages(size=5)
            events = receiver.events.stream()
            for number in range(20):
                sender.broadcast(f"message {number}")
            async for record in events:  # the loop reads this one, never the messages
                if record["event"] == "gossip.received" and record["body"] == "message 19":
                    break
            await events.aclose()
            return stream.dropped, [r for r in logged if r["event"] == "consumer.behind"]

    dropped, behind = asyncio.run(asyncio.wait_for(main(), 20))
    assert dropped == 15
    assert behind and behind[0]["stream"] == "messages" and behind[0]["dropped"] >= 1


def test_async_for_gets_each_member_change() -> None:
    seed, alice, bob = _configs(3)

    async def main() -> list[tuple[str, str]]:
        async with Seed(seed), Peer(alice) as watcher:
            changes = watcher.member_changes()
            got = []
            async with Peer(bob):
                async for change in changes:  # it joins ...
                    got.append((change.change, change.member.peer))
                    break
            async for change in changes:  # ... and leaves
                got.append((change.change, change.member.peer))
                break
            return got

    got = asyncio.run(asyncio.wait_for(main(), 20))
    assert got == [("joined", str(bob.address)), ("left", str(bob.address))]
