"""What a node's thread hands to asyncio code: bounded streams, fed without waiting.

A :class:`Stream` is an async iterator over items (a peer's messages, a node's events)
that the node's thread puts in with :meth:`Feeds.put`. The node never waits for a
consumer and never holds more than ``size`` items for one: past that, the oldest waiting
item is dropped and counted (:attr:`Stream.dropped`), and the node says so in a
``consumer.behind`` event at most once a second. A stream ends once the node stops (after
what it still holds), or when its consumer closes it or lets it go.

The node's thread and the event loop meet only under one lock, for a moment; the loop is
woken at most once for any number of items put before it runs (one
``call_soon_threadsafe``, whose own queue would otherwise grow with a blocked loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Generic, Self, TypeVar

T = TypeVar("T")

#: How often a node says at most that a consumer fell behind (seconds, real time).
_SAY_EVERY = 1.0


class _Feed(Generic[T]):
    """One consumer's items, between the node's thread and its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self._loop = loop
        self._size = size
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._woken = False  # a wake-up is on its way to the loop
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None  # touched in the loop only
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Add ``item`` (any thread); False when the oldest had to go for it."""
        with self._lock:
            kept = len(self._items) < self._size
            if not kept:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._wake_locked()
        return kept

    def end(self, *, drop: bool = False) -> None:
        """No more items come: the stream ends after those it holds, or at once when
        ``drop`` (any thread)."""
        with self._lock:
            self._ended = True
            if drop:
                self._items.clear()
            self._wake_locked()

    def _wake_locked(self) -> None:
        if self._woken:
            return
        self._woken = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: no one to tell
            self._loop.call_soon_threadsafe(self._woke)

    def _woke(self) -> None:
        with self._lock:
            self._woken = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> T:
        """The next item; StopAsyncIteration once ended and empty."""
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                if self._ended:
                    raise StopAsyncIteration
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class Stream(Generic[T]):
    """``async for item in stream`` (or ``async with stream:``): what the node hands over.

    Made in the event loop that will read it. :attr:`dropped` counts the items lost because
    the consumer fell more than ``size`` behind.
    """

    def __init__(self, feeds: Feeds[T], size: int) -> None:
        self._feed: _Feed[T] = _Feed(asyncio.get_running_loop(), size)
        self._feeds = feeds
        feeds.add(self._feed)
        # A consumer that breaks out of its loop and drops the stream detaches it too.
        self._detach = weakref.finalize(self, feeds.remove, self._feed)

    @property
    def dropped(self) -> int:
        return self._feed.dropped

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._feed.get()
        except StopAsyncIteration:
            self._detach()
            raise

    async def aclose(self) -> None:
        """Stop receiving; what was not read yet is let go, and a reader waiting ends."""
        self._detach()
        self._feed.end(drop=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Feeds(Generic[T]):
    """The streams a node feeds one kind of item to. :attr:`active` is a plain list that
    the node's thread tests on its hot path: no streams, no cost but that test."""

    def __init__(self, name: str, behind: Callable[[str, int], None]) -> None:
        """``behind(name, dropped)`` is called in the node's thread, at most once a second,
        when items were dropped for a slow consumer since it was last called."""
        self.name = name
        self._behind = behind
        self.active: list[_Feed[T]] = []
        # Re-entrant: a stream let go runs its finalizer (remove) wherever the cyclic GC
        # happens to run, perhaps in this very thread while it holds the lock in add.
        self._lock = threading.RLock()
        self._closed = False
        self._dropped = 0  # since last said
        self._said = -_SAY_EVERY

    def add(self, feed: _Feed[T]) -> None:
        with self._lock:
            if self._closed:
                feed.end()
                return
            self.active = [*self.active, feed]  # a new list: the node's thread may be reading

    def remove(self, feed: _Feed[T]) -> None:
        with self._lock:
            self.active = [each for each in self.active if each is not feed]

    def put(self, item: T) -> None:
        """Hand ``item`` to every stream (the node's thread)."""
        for feed in self.active:
            if not feed.put(item):
                self._dropped += 1
        if self._dropped:
            now = time.monotonic()
            if now - self._said >= _SAY_EVERY:
                dropped, self._dropped, self._said = self._dropped, 0, now
                self._behind(self.name, dropped)

    def close(self) -> None:
        """The node stopped: every stream ends, and streams made later end at once."""
        with self._lock:
            self._closed = True
            feeds, self.active = self.active, []
        for feed in feeds:
            feed.end()
