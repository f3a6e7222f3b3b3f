"""A node's loop: one thread, one poller, the node's sockets read in turns.

:class:`Loop` knows nothing of the protocol. It reads what its sockets hold and hands each
message to the handler the node gave for that socket; runs what other threads ask for
(:meth:`Loop.call_soon`, woken through a socketpair the poller watches); and between
turns asks the node, through :class:`Turns`, to catch up (run the timers, write the logs
out) and to send what the turn held back. A burst of input costs one catching up, not one
a message; under a stream that never lets it block it catches up once a ``_GRAIN``.

The loop polls the sockets' file descriptors itself (``zmq.FD``), not through
``zmq.Poller``: libzmq's poll asks every socket for its events twice a blocking poll, two
system calls each, and a peer watches a dozen sockets (its ROUTER, PUB and SUB, a DEALER to
each seed, and a DEALER and its monitor to each neighbour); here a wake-up reads only the
sockets whose descriptor woke it. A socket's descriptor is edge-triggered: when anything
else reads its events (a send, a connect), input that came before may no longer wake the
poll. So whoever uses a watched socket outside the loop's reading says so
(:meth:`Loop.touched`), and the loop asks that socket before it blocks again.
"""

from __future__ import annotations

import contextlib
import math
import select
import signal
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol, TypeVar

import zmq

from zgossip import memory
from zgossip.protocol.clock import Clock, earliest

T = TypeVar("T")
#: A socket's handler: the frames of one message.
Handler = Callable[[list[bytes]], None]
#: A ROUTER's handler: the frames, and the last one as received (it knows the sender's IP).
RouterHandler = Callable[[list[bytes], zmq.Frame], None]

#: Messages read from one socket before the loop looks at the others again.
_BATCH = 256
#: After input, the loop catches up before it blocks again: it runs the timers (for what
#: the input made due sooner: a gap to repair, a new link's deadline) and writes the logs
#: out, so a burst of input costs one wake-up. Under a stream of input that never lets it
#: block, it catches up once this many seconds rather than after each message.
_GRAIN = 0.001
#: The heap is trimmed when the loop goes idle after input, at most this often (seconds).
_TRIM_INTERVAL = 1.0
#: The socket option and its flag that _waiting asks, as ints (enum arithmetic is Python).
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)


def _waiting(sock: zmq.Socket[bytes]) -> bool:
    """Whether another message waits on ``sock``. Asked once a drain, after its first
    message: most wake-ups bring one, and a drain that ends on ``zmq.Again`` instead
    pays for an exception, costly in a process woken from idle (its code is cold)."""
    return bool(int(sock.get(_EVENTS)) & _POLLIN)


def _fd(sock: zmq.Socket[bytes]) -> int:
    """The descriptor that wakes a poll when ``sock`` may have something to say."""
    return int(sock.getsockopt(zmq.FD))


class Turns(Protocol):
    """What the loop asks of the node it serves, between turns (private to the two: not a
    node's public API)."""

    def _catch_up(self) -> float | None:
        """Run what is due and write the logs out; when the timers are next due."""
        ...

    def _due(self, now: float) -> bool:
        """At the start of every turn: do what is due at ``now`` whatever came (the node's
        keys), and say whether the node must catch up although no input came (besides the
        timers, which the loop keeps track of). It raises nothing."""
        ...

    def _wake_at(self) -> float | None:
        """When the node needs the loop back, besides the timers and input."""
        ...

    def _end_turn(self) -> None:
        """Send what the turn held back (what its input forwarded)."""
        ...

    def _failed(self, exc: Exception) -> None:
        """A handler or a call raised ``exc`` (call from its ``except``): said, and the
        loop goes on."""
        ...


class Loop:
    def __init__(self, clock: Clock, *, max_pending: int) -> None:
        self._clock = clock
        self._max_pending = max_pending
        self._poller = select.poll()
        # by their descriptors, in the order they were watched (the ROUTER first)
        self._sockets: dict[int, zmq.Socket[bytes]] = {}
        self._unsure: set[zmq.Socket[bytes]] = set()  # to ask before blocking (touched)
        self._handlers: dict[zmq.Socket[bytes], Handler] = {}
        self._router: zmq.Socket[bytes] | None = None
        self._on_router: RouterHandler | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._poller.register(self._wake_r.fileno(), select.POLLIN)
        # Closing the wake pair while another thread writes to it would free an fd number
        # that libzmq may reuse at once: the write would then land in libzmq's internals.
        # Re-entrant, because a signal handler may call stop() in the thread that closes.
        self._wake_lock = threading.RLock()
        self._calls: deque[Callable[[], None]] = deque()  # from other threads, run by the loop
        # a caller waits here while _calls is full; re-entrant, as the wake lock: stop() from
        # a signal handler takes it, maybe in the loop's thread while that thread holds it
        self._room = threading.Condition(threading.RLock())
        self._thread: threading.Thread | None = None
        self.stopping = False
        self._turns: Turns | None = None

    # -- sockets -----------------------------------------------------------------------

    def watch(self, sock: zmq.Socket[bytes], handler: Handler) -> None:
        """Hand each message ``sock`` receives to ``handler``."""
        self._handlers[sock] = handler
        self._register(sock)

    def watch_router(self, sock: zmq.Socket[bytes], handler: RouterHandler) -> None:
        """The node's ROUTER: ``handler`` gets each message's last frame too."""
        self._router, self._on_router = sock, handler
        self._register(sock)

    def touched(self, sock: zmq.Socket[bytes]) -> None:
        """``sock`` was used outside the loop's reading (sent on, connected, disconnected):
        input it holds may no longer wake the poll, so the loop asks it before blocking."""
        self._unsure.add(sock)

    def discard(self, sock: zmq.Socket[bytes]) -> None:
        """Stop watching ``sock`` and close it."""
        if self._handlers.pop(sock, None) is not None:
            fd = _fd(sock)
            del self._sockets[fd]
            self._poller.unregister(fd)
            self._unsure.discard(sock)
        sock.close(linger=0)

    def _register(self, sock: zmq.Socket[bytes]) -> None:
        fd = _fd(sock)
        self._sockets[fd] = sock
        self._poller.register(fd, select.POLLIN)
        self._unsure.add(sock)  # what came before it was watched wakes nothing

    # -- other threads -----------------------------------------------------------------

    def wake(self) -> None:
        # OSError: a full pipe already wakes the loop; a closed one has no loop to wake.
        with self._wake_lock, contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def call_soon(self, call: Callable[[], None]) -> None:
        """Run ``call`` in the loop's thread, soon (thread-safe; queued until it runs).
        RuntimeError once the loop stops.

        Backpressure: while ``max_pending`` calls wait for the loop, a caller from another
        thread waits for room (the loop's own thread never does: it would wait for itself).
        """
        if threading.current_thread() is not self._thread:
            with self._room:
                while len(self._calls) >= self._max_pending and not self.stopping:
                    self._room.wait()
        if self.stopping:
            raise RuntimeError("stopped")
        self._calls.append(call)
        self.wake()

    def stop(self) -> None:
        """Make :meth:`run` return after its turn (thread- and signal-safe)."""
        self.stopping = True
        self.wake()
        with self._room:  # a caller waiting for room: it is told the loop stopped
            self._room.notify_all()

    def in_loop(self) -> bool:
        """Whether this is the loop's own thread."""
        return threading.current_thread() is self._thread

    def close(self) -> None:
        """Forget the sockets (closed with their context) and close the wake pair."""
        self._handlers.clear()
        with self._wake_lock:
            self._wake_r.close()
            self._wake_w.close()

    # -- the loop ----------------------------------------------------------------------

    def run(self, turns: Turns) -> None:
        """Serve the sockets in this thread until :meth:`stop`.

        In the main thread, a signal also wakes the loop (``signal.set_wakeup_fd``): Python
        runs a handler only in the main thread, once it is back from C, and the kernel may
        deliver the signal to another thread; without the wake-up, a poll waiting with no
        timeout let a SIGHUP's ``stop()`` wait forever (2 runs in 15 here)."""
        if threading.current_thread() is not threading.main_thread():
            self._serve(turns)
            return
        previous = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        try:
            self._serve(turns)
        finally:  # before the wake pair closes: its fd number may be reused at once
            signal.set_wakeup_fd(previous)

    def _serve(self, turns: Turns) -> None:
        self._thread = threading.current_thread()
        self._turns = turns
        deadline: float | None = None  # when the timers are next due, as they last said
        caught_up = -math.inf  # when the node last caught up (timers run, logs written)
        handled = True  # input came since: the node has not caught up with it
        quiet = False  # nothing waits: the last poll found nothing, or woke us and all it
        # found was read (a stream of input, polled without waiting, catches up by _GRAIN)
        busy, next_trim = False, 0.0  # input came since the heap was last trimmed; when next
        node_due, catch_up, end_turn, poll = (
            turns._due,
            turns._catch_up,
            turns._end_turn,
            self._poll,
        )
        while not self.stopping:
            now = self._clock.monotonic()
            due = deadline is not None and now >= deadline
            if due:  # read what came meanwhile first: an answer may be sitting unread
                self.pump()
            if (
                node_due(now)
                or due
                or (handled and (quiet or now - caught_up >= _GRAIN))
            ):  # fmt: skip
                deadline = self.guarded(catch_up)
                caught_up, handled = now, False
            if quiet and busy and now >= next_trim:  # a pause after a burst: give back
                memory.trim()  # the heap memory it freed
                busy, next_trim = False, now + _TRIM_INTERVAL
            timeout: int | None = None
            if handled:  # not caught up with the input: first see whether more is waiting
                timeout = 0
            else:
                wake_at = earliest(
                    deadline,
                    next_trim if busy else None,  # a trim to come: a quiet node wakes for it
                    turns._wake_at(),
                )
                if wake_at is not None:
                    timeout = max(0, math.ceil((wake_at - self._clock.monotonic()) * 1000.0))
            self.guarded(end_turn)
            ready = poll(timeout)
            # Woken from idle and every socket read to the end: catch up at once, rather
            # than poll again to learn that nothing more came.
            quiet = not ready or timeout != 0
            for sock in ready:
                handled = busy = True
                if sock is None:  # the wake pipe
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                    self._run_calls()
                    continue
                if not self._drain(sock):
                    quiet = False
            if ready:  # what the input forwards goes out first, before the logs are written
                self.guarded(end_turn)

    def _poll(self, timeout: int | None) -> list[zmq.Socket[bytes] | None]:
        """The sockets that may have input (in the order they were watched), and None first
        for the wake pipe when it woke us, within ``timeout`` ms (None: no limit): those
        whose descriptor woke the poll, and those touched since the last poll that hold
        input (asked first; when one does, the poll does not wait)."""
        ready: list[zmq.Socket[bytes] | None] = []
        if self._unsure:
            unsure = self._unsure
            self._unsure = set()
            ready = [sock for sock in unsure if not sock.closed and _waiting(sock)]
            if ready:
                timeout = 0
        sockets = self._sockets
        for fd, _ in self._poller.poll(timeout):
            sock = sockets.get(fd)
            if sock is None:
                ready.append(None)
            elif sock not in ready:  # its drain's first receive finds out whether input
                ready.append(sock)  # came (and resets the descriptor): no question first
        if len(ready) > 1:  # in the order they were watched, the ROUTER first, as zmq.Poller
            came = set(ready)  # gives them: a new link's history is read before the answers
            ready = [None] if None in came else []
            ready += [sock for sock in sockets.values() if sock in came]
        return ready

    def pump(self) -> None:
        """Handle what the sockets hold right now, without waiting: before judging silence."""
        for sock in self._poll(0):
            if sock is not None:  # not the wake pipe (still readable): its calls wait for
                self._drain(sock)  # the loop

    def guarded(self, work: Callable[[], T]) -> T | None:
        """Run ``work`` (in the loop's thread, while it runs); what it raises is the node's
        to say (``Turns._failed``), not the end of the loop."""
        try:
            return work()
        except Exception as exc:
            assert self._turns is not None
            self._turns._failed(exc)
            return None

    def _run_calls(self) -> None:
        """Run what other threads asked for, a batch at a time: the sockets, and liveness
        with them, are served between two batches however much is asked."""
        for _ in range(min(_BATCH, len(self._calls))):
            self.guarded(self._calls.popleft())
        with self._room:
            self._room.notify_all()
        if self._calls:
            self.wake()  # the rest in the next turn

    def _drain(self, sock: zmq.Socket[bytes]) -> bool:
        """Handle what ``sock`` holds, ``_BATCH`` messages at most: True when it was read to
        the end (nothing is left waiting)."""
        if sock is self._router:
            return self._drain_router()
        # recv_multipart, inlined: it is most of the cost of a duplicate gossip message. A
        # zmq.Frame says whether more follow for less than the socket option costs.
        recv = sock.recv
        for turn in range(_BATCH):
            handler = self._handlers.get(sock)
            if handler is None:  # a handler closed it
                return True
            if turn == 1 and not _waiting(sock):
                return True
            try:
                part = recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return True
            frames = [part.bytes]
            while part.more:  # a message's frames arrive together: none can be missing
                part = recv(zmq.NOBLOCK, copy=False)
                frames.append(part.bytes)
            try:
                handler(frames)
            except Exception as exc:  # one message must not stop the node
                assert self._turns is not None
                self._turns._failed(exc)
        self._unsure.add(sock)  # more waits, and its descriptor may not say so again
        return False

    def _drain_router(self) -> bool:
        """The ROUTER's messages, each with its last frame as received: it knows the
        address it came from. Liveness and requests, not gossip: this costs little."""
        assert self._router is not None and self._on_router is not None
        recv = self._router.recv_multipart
        for turn in range(_BATCH):
            if turn == 1 and not _waiting(self._router):
                return True
            try:
                parts = recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return True
            try:
                self._on_router([part.bytes for part in parts], parts[-1])
            except Exception as exc:  # one message must not stop the node
                assert self._turns is not None
                self._turns._failed(exc)
        self._unsure.add(self._router)
        return False
