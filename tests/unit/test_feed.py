"""Streams from a node's thread to asyncio: bounded, never waiting, ending with the node."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading

from zgossip.feed import Feeds, Stream


def _feeds() -> tuple[Feeds[int], list[tuple[str, int]]]:
    said: list[tuple[str, int]] = []
    return Feeds("numbers", lambda name, dropped: said.append((name, dropped))), said


def test_items_put_from_another_thread_come_in_order_and_the_stream_ends_with_the_feeds() -> None:
    feeds, said = _feeds()

    async def main() -> list[int]:
        stream = Stream(feeds, size=100)

        def node() -> None:
            for number in range(50):
                feeds.put(number)
            feeds.close()

        threading.Thread(target=node).start()
        return [number async for number in stream]

    assert asyncio.run(asyncio.wait_for(main(), 10)) == list(range(50))
    assert said == []


def test_a_consumer_that_falls_behind_loses_the_oldest_counted_and_said_once() -> None:
    feeds, said = _feeds()

    async def main() -> tuple[list[int], int]:
        stream = Stream(feeds, size=10)
        for number in range(100):  # the loop does not run meanwhile: the consumer is behind
            feeds.put(number)
        feeds.close()
        return [number async for number in stream], stream.dropped

    kept, dropped = asyncio.run(asyncio.wait_for(main(), 10))
    assert kept == list(range(90, 100))
    assert dropped == 90
    assert said == [("numbers", 1)]  # at most once a second: the first drop, at once


def test_a_stream_closed_or_let_go_is_fed_no_more() -> None:
    feeds, _ = _feeds()

    async def main() -> None:
        async with Stream(feeds, size=10):
            assert len(feeds.active) == 1
        assert feeds.active == []
        stream = Stream(feeds, size=10)
        assert len(feeds.active) == 1
        del stream
        gc.collect()
        assert feeds.active == []

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_stream_made_after_the_node_stopped_ends_at_once() -> None:
    feeds, _ = _feeds()
    feeds.close()

    async def main() -> list[int]:
        return [number async for number in Stream(feeds, size=10)]

    assert asyncio.run(asyncio.wait_for(main(), 10)) == []


def test_closing_a_stream_ends_a_reader_waiting_on_it() -> None:
    feeds, _ = _feeds()

    async def main() -> list[int]:
        stream = Stream(feeds, size=10)
        feeds.put(1)
        got = [await stream.__anext__()]
        waiting = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)  # the reader waits for more
        await stream.aclose()
        with contextlib.suppress(StopAsyncIteration):
            got.append(await waiting)
        return got

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [1]
