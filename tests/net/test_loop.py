"""The loop polls its sockets' descriptors, which are edge-triggered: input that came to a
socket used meanwhile (its events read, as a send or a connect reads them) must still be
read, and so must input left over when a turn reads a socket's first batch. No timer runs
in these loops: if the loop missed the input it would wait for ever, and the test fails on
its bound."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import zmq

from zgossip.loop import Loop
from zgossip.node import SystemClock

pytestmark = pytest.mark.timeout(30)

_WAIT = 10.0  # seconds: far more than a loop on loopback needs


class _Idle:
    """A node with nothing to do between turns: no timers, no wake-ups of its own."""

    def _catch_up(self) -> float | None:
        return None

    def _due(self, now: float) -> bool:
        return False

    def _wake_at(self) -> float | None:
        return None

    def _end_turn(self) -> None:
        pass

    def _failed(self, exc: Exception) -> None:
        raise AssertionError(f"a handler raised {exc!r}")


@dataclass
class _Pair:
    """A ROUTER (the test's) and a DEALER the loop watches, running in its own thread."""

    ctx: zmq.Context[zmq.Socket[bytes]]
    router: zmq.Socket[bytes]
    dealer: zmq.Socket[bytes]
    loop: Loop
    got: list[bytes] = field(default_factory=list)
    enough = 0
    done: threading.Event = field(default_factory=threading.Event)

    def handle(self, frames: list[bytes]) -> None:
        self.got.extend(frames)
        if len(self.got) >= self.enough:
            self.done.set()

    def in_loop(self, call: object) -> None:
        """Run ``call`` in the loop's thread and wait for it (sockets are not shared)."""
        ran = threading.Event()

        def run() -> None:
            assert callable(call)
            call()
            ran.set()

        self.loop.call_soon(run)
        assert ran.wait(_WAIT)

    def hello(self) -> bytes:
        """The DEALER says hello: the ROUTER learns its identity."""
        self.in_loop(lambda: self.dealer.send(b"hello"))
        identity, hello = self.router.recv_multipart()
        assert hello == b"hello"
        return identity


@pytest.fixture
def pair() -> Iterator[_Pair]:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    loop = Loop(SystemClock(), max_pending=64)
    pair = _Pair(ctx, router, dealer, loop)
    loop.watch(dealer, pair.handle)
    thread = threading.Thread(target=loop.run, args=(_Idle(),))
    thread.start()
    try:
        yield pair
    finally:
        loop.stop()
        thread.join(_WAIT)
        loop.close()
        ctx.destroy(linger=0)


def test_input_to_a_touched_socket_is_read(pair: _Pair) -> None:
    identity = pair.hello()
    pair.enough = 1
    busy, touched = threading.Event(), threading.Event()

    def touch() -> None:
        # The loop is busy here while the answer comes, and waits for it by reading the
        # DEALER's events (as a send on it would): its descriptor no longer says it is in.
        busy.set()
        poller = zmq.Poller()
        poller.register(pair.dealer, zmq.POLLIN)
        assert poller.poll(int(_WAIT * 1000))
        pair.loop.touched(pair.dealer)
        touched.set()

    pair.loop.call_soon(touch)
    assert busy.wait(_WAIT)
    pair.router.send_multipart([identity, b"answer"])
    assert touched.wait(_WAIT)
    assert pair.done.wait(_WAIT), "the answer to a touched socket was never read"
    assert pair.got == [b"answer"]


def test_what_a_turn_leaves_on_a_socket_is_read_next(pair: _Pair) -> None:
    identity = pair.hello()
    count = 600  # more than one turn reads from a socket (256)
    pair.enough = count
    sent = threading.Event()

    def busy() -> None:  # the loop waits while they come: few wake it, maybe one
        assert sent.wait(_WAIT)

    pair.loop.call_soon(busy)
    for n in range(count):
        pair.router.send_multipart([identity, b"%d" % n])
    sent.set()
    assert pair.done.wait(_WAIT), f"{len(pair.got)} of {count} read"
    assert pair.got == [b"%d" % n for n in range(count)]
