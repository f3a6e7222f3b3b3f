"""The executor: a protocol core's effects onto ZeroMQ sockets, and socket input onto the core.

A seed or a peer is a :class:`Node` around its core (:class:`zgossip.protocol.seed.SeedState`,
:class:`zgossip.protocol.peer.PeerState`): one thread, one poller, one lifecycle. The node
decodes what its sockets receive, hands it to the core with the time, and carries out
the effects the core returns (:mod:`zgossip.protocol.effects`): sends, replies, connections,
probes, and events for the sink. It decides nothing about the protocol.

A node runs :meth:`Node.run` in the thread that calls it (the CLI's main
thread) or :meth:`Node.start` runs it in a thread of its own (tests, library
users). :meth:`Node.stop` is safe from any thread and from a signal handler: it
writes a byte to a socketpair the poller watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import random
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar, assert_never

import zmq

from zgossip import memory, metrics, security
from zgossip.events import EventLog
from zgossip.guard import Guard
from zgossip.protocol import records, wire
from zgossip.protocol.clock import Clock, earliest
from zgossip.protocol.config import Config
from zgossip.protocol.core import ADDRESSED, Client, Core
from zgossip.protocol.effects import (
    CloseProbe,
    Connect,
    Dial,
    Disconnect,
    Effect,
    OpenProbe,
    Publish,
    Reply,
    Send,
)

Handler = Callable[[list[bytes]], None]
T = TypeVar("T")

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
#: How long stopping waits for goodbyes (leave, bye) to go out.
_LINGER_MS = 500


def _address(last: zmq.Frame | None) -> str | None:
    """The IP a ROUTER message (its last frame as received) came from, when known."""
    return None if last is None else str(last.get("Peer-Address"))


def _waiting(sock: zmq.Socket[bytes]) -> bool:
    """Whether another message waits on ``sock``. Asked once a drain, after its first
    message: most wake-ups bring one, and a drain that ends on ``zmq.Again`` instead
    pays for an exception, costly in a process woken from idle (its code is cold)."""
    return bool(int(sock.get(_EVENTS)) & _POLLIN)


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


class Tap:
    """A seam for tests and tools: it sees each input before the core does and each
    effect before the sockets do, and drops what it returns False for. This one passes
    everything; a test subclasses it to make a node deaf, lossy or mute."""

    def inbound(self, message: wire.Message | bytes, sender: str | None) -> bool:
        """A decoded message (a gossip frame, one message or a batch: its bytes, the
        topic stripped), and who sent it when known (a DEALER's or a probe's target; None
        on the ROUTER and the SUB)."""
        return True

    def outbound(self, effect: Effect) -> bool:
        return True


class BindError(Exception):
    """A node could not bind its address; the message is one line for the user."""


class Node:
    """The shared skeleton; subclasses open their sockets and say what to do when."""

    role: ClassVar[str]

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        console: bool = False,
        tap: Tap | None = None,
    ) -> None:
        self.config = config
        self._tap = tap
        self.id = str(config.address)
        self.clock: Clock = clock or SystemClock()
        # first: a bad key file opens no log file
        self.guard = Guard(config, self.clock, say=self._say, certificates=self._certificates)
        if config.metrics_port is not None:
            metrics.check()
        self._metrics: metrics.Server | None = None
        self.rng = rng or random.Random()
        self.events = EventLog(
            self.id,
            self.role,
            self.clock,
            json_path=config.json_log,
            log_path=config.log_file,
            console=console,
            verbose=config.verbose,
            compact=config.compact,
            stream_size=config.stream_size,
            bad_quiet=config.bad_quiet,
            bad_lines=config.bad_lines,
            count=config.metrics_port is not None,
        )
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._poller = zmq.Poller()
        self._handlers: dict[zmq.Socket[bytes], Handler] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Closing the wake pair while another thread writes to it would free an fd number
        # that libzmq may reuse at once: the write would then land in libzmq's internals.
        # Re-entrant, because a signal handler may call stop() in the thread that closes.
        self._wake_lock = threading.RLock()
        self._calls: deque[Callable[[], None]] = deque()  # from other threads, run by the loop
        self._room = threading.Condition()  # a caller waits here while _calls is full
        self._loop_thread: threading.Thread | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.endpoints: list[str] = []
        self._dealers: dict[str, zmq.Socket[bytes]] = {}  # node -> our DEALER to its ROUTER
        self._connected: set[str] = set()  # of those, the ones connected (CURVE may refuse)
        self._handshakes: dict[str, zmq.Socket[bytes]] = {}  # CURVE: each DEALER's monitor
        self._probe_sockets: dict[str, tuple[zmq.Socket[bytes], zmq.Socket[bytes]]] = {}
        self._router: zmq.Socket[bytes] | None = None
        now = self.clock.monotonic()
        self.state: Core[Any] = self._core(now, self.clock.time() - now)

    # -- lifecycle -------------------------------------------------------------

    def run(self) -> None:
        """Bind, then serve in this thread until :meth:`stop`. Raises BindError."""
        try:
            self._open()
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            self._release()
            raise
        self._ready.set()
        try:
            self._serve()
        finally:
            self._close()

    def start(self) -> Self:
        """Run in a new thread; returns once bound (raising what binding raised)."""
        self._thread = threading.Thread(target=self._run_quietly, name=f"zgossip {self.id}")
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            raise self._failure
        return self

    def _run_quietly(self) -> None:
        with contextlib.suppress(BindError):  # start() re-raises it in the caller's thread
            self.run()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Leave and stop; thread- and signal-safe. Waits for a started thread to end."""
        self._stopping = True
        self._wake()
        with self._room:  # a caller waiting for room: it is told the node stopped
            self._room.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def reload_keys(self) -> None:
        """Read the allow directory again now (thread- and signal-safe; SIGHUP does this).
        It is also read whenever it changes, within ``Config.keys_check``."""
        self.guard.ask()
        self._wake()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        """``async with Peer(config) as peer:``: started and stopped in a worker thread,
        so the event loop goes on meanwhile."""
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    def _wake(self) -> None:
        # OSError: a full pipe already wakes the loop; a closed one has no loop to wake.
        with self._wake_lock, contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _call_soon(self, call: Callable[[], None]) -> None:
        """Run ``call`` in the node's thread, soon (thread-safe; queued until it runs).

        Backpressure: while ``max_pending`` calls wait for the loop, a caller from another
        thread waits for room (the node's own thread never does: it would wait for itself).
        """
        if threading.current_thread() is not self._loop_thread:
            with self._room:
                while len(self._calls) >= self.config.max_pending and not self._stopping:
                    self._room.wait()
        if self._stopping:
            raise RuntimeError(f"{self.role} {self.id} is stopped")
        self._calls.append(call)
        self._wake()

    def _run_calls(self) -> None:
        """Run what other threads asked for, a batch at a time: the sockets, and liveness
        with them, are served between two batches however much is asked."""
        for _ in range(min(_BATCH, len(self._calls))):
            self._guarded(self._calls.popleft())
        with self._room:
            self._room.notify_all()
        if self._calls:
            self._wake()  # the rest in the next turn

    # -- what subclasses provide ----------------------------------------------

    def _core(self, now: float, wall_offset: float) -> Core[Any]:
        """The protocol core this node executes, made at ``now`` (Unix time minus monotonic
        time: ``wall_offset``)."""
        raise NotImplementedError

    def _bind(self) -> list[str]:
        """Open and bind the node's sockets (the ROUTER first); return the endpoints bound."""
        raise NotImplementedError

    def _begin(self) -> list[Effect]:
        """The core's first effects, once bound."""
        raise NotImplementedError

    def _end_turn(self) -> None:
        """Send what was held for the end of the turn: after the input a poll found, and
        before the loop polls again (what the timers forwarded)."""

    # -- helpers for subclasses -------------------------------------------------

    def _socket(self, kind: int) -> zmq.Socket[bytes]:
        assert self._ctx is not None
        sock = self._ctx.socket(kind)
        sock.setsockopt(zmq.MAXMSGSIZE, wire.MAX_FRAME)
        sock.setsockopt(zmq.LINGER, 0)
        return sock

    def _bind_socket(self, sock: zmq.Socket[bytes], host: str, port: int | None) -> str:
        """Bind ``sock`` to host:port (any free port when None); one-line errors.

        Every socket a node binds is a server: with CURVE on, only allowed keys get in."""
        where = f"tcp://{host}:{port if port is not None else '*'}"
        self.guard.serve(sock)
        try:
            sock.bind(where)
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EADDRINUSE:
                raise BindError(f"port {port} on {host} is already in use") from None
            if exc.errno == zmq.EADDRNOTAVAIL:
                raise BindError(f"cannot bind {host}: not an address of this machine") from None
            raise BindError(f"cannot bind {where}: {exc.strerror}") from None
        endpoint: str = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return endpoint

    def _connect(self, sock: zmq.Socket[bytes], target: str, endpoint: str | None = None) -> bool:
        """Connect ``sock`` to ``target`` (an ``IP:PORT``) at ``endpoint``, its ROUTER unless
        given; with CURVE on, as a client of ``target``'s key.

        A target without a certificate in the allow directory is not connected to (an
        ``auth.nokey`` event): the socket stays, unconnected, so a send fails as to a node
        that does not answer, and the usual timeouts deal with it.
        """
        if not self.guard.client(sock, target):
            return False
        sock.connect(endpoint or f"tcp://{target}")
        return True

    def _watch(self, sock: zmq.Socket[bytes], handler: Handler) -> None:
        self._handlers[sock] = handler
        self._poller.register(sock, zmq.POLLIN)

    def _discard(self, sock: zmq.Socket[bytes]) -> None:
        """Stop watching ``sock`` and close it."""
        if self._handlers.pop(sock, None) is not None:
            self._poller.unregister(sock)
        sock.close(linger=0)

    def _bad(self, reason: str, sender: str | None = None) -> None:
        """Input that is no message: the core says so."""
        self._apply(self.state.bad(self.clock.monotonic(), reason, sender))

    # -- effects -----------------------------------------------------------------

    def _apply(self, effects: Sequence[Effect]) -> None:
        """Carry out a core's effects, in order; events go to the sink."""
        tap = self._tap
        for effect in effects:
            if tap is not None and not tap.outbound(effect):
                continue
            match effect:  # the most frequent first: gossip forwarded, and its event
                case Publish():
                    self._do_publish(effect)
                case records.Event():
                    self._event(effect)
                case Send():
                    self._do_send(effect)
                case Reply():
                    self._reply(effect.to, effect.message)
                case Connect():
                    self._do_connect(effect)
                case Disconnect():
                    self._do_disconnect(effect)
                case Dial():
                    if effect.to not in self._dealers:
                        self._open_dealer(effect.to)
                case OpenProbe():
                    self._do_open_probe(effect)
                case CloseProbe():
                    self._do_close_probe(effect)
                case _:
                    assert_never(effect)

    def _do_publish(self, effect: Publish) -> None:
        """Gossip on our PUB: a peer's (a seed's core publishes nothing)."""
        raise NotImplementedError(f"a {self.role} has no PUB")

    def _do_connect(self, effect: Connect) -> None:
        """Link to a peer: a peer's (a seed's core links to no one)."""
        raise NotImplementedError(f"a {self.role} makes no links")

    def _event(self, event: records.Event) -> None:
        self.events.emit(event)

    def _say(self, event: records.Event) -> None:
        """An event of the edge (its sockets, keys, threads): an effect like the core's."""
        self._apply((event,))

    def _certificates(self, keys: Mapping[str, bytes]) -> None:
        """The allow directory's keys, as the guard read them: the core revokes whom it must."""
        self._apply(self.state.certificates(self.clock.monotonic(), keys))

    def _do_send(self, effect: Send) -> None:
        dealer = self._dealers.get(effect.to)
        if dealer is None:
            dealer = self._open_dealer(effect.to)
        with contextlib.suppress(zmq.Again):  # a full queue: it is not reading; liveness tells
            dealer.send(wire.encode(effect.message), zmq.NOBLOCK)

    def _open_dealer(self, target: str) -> zmq.Socket[bytes]:
        """A DEALER to ``target``'s ROUTER, watched: what comes back is ``answer(target)``.
        Without a certificate for ``target`` (CURVE) it stays unconnected: see ``_connect``."""
        dealer = self._dealers[target] = self._socket(zmq.DEALER)
        monitor = self.guard.watch_handshakes(dealer, target)
        if monitor is not None:
            self._handshakes[target] = monitor
            self._watch(monitor, lambda frames: self.guard.handshake(target, frames))
        if self._connect(dealer, target):
            self._connected.add(target)
        self._watch(dealer, lambda frames: self._on_answer(target, frames))
        return dealer

    def _do_disconnect(self, effect: Disconnect) -> None:
        dealer = self._dealers.pop(effect.peer, None)
        self._connected.discard(effect.peer)
        if dealer is None:
            return
        monitor = self._handshakes.pop(effect.peer, None)
        if monitor is not None:
            dealer.disable_monitor()
            self._discard(monitor)
        self._discard(dealer)

    def _do_open_probe(self, effect: OpenProbe) -> None:
        """Ping the target's ROUTER once from a fresh DEALER; a monitor tells when its port
        refuses the connection (no process listens: it is dead; a stopped process or a
        cut-off host does not refuse, and the core's timeout decides)."""
        target = effect.target
        dealer: zmq.Socket[bytes] | None = None
        try:
            dealer = self._socket(zmq.DEALER)
            monitor: zmq.Socket[bytes] = dealer.get_monitor_socket(zmq.EVENT_CONNECT_RETRIED)
        except zmq.ZMQError as exc:  # out of sockets or file descriptors: no probe, no verdict
            if dealer is not None:
                dealer.close(linger=0)
            self._apply(self.state.probe_failed(self.clock.monotonic(), target, exc.strerror))
            return
        self._probe_sockets[target] = (dealer, monitor)
        self._watch(dealer, lambda frames: self._on_probe_answer(target, frames))
        self._watch(monitor, lambda frames: self._on_probe_refused(target))
        if self._connect(dealer, target):  # else it goes unanswered, and times out
            dealer.send(wire.encode(effect.ping), zmq.NOBLOCK)

    def _do_close_probe(self, effect: CloseProbe) -> None:
        sockets = self._probe_sockets.pop(effect.target, None)
        if sockets is None:
            return
        dealer, monitor = sockets
        dealer.disable_monitor()
        self._discard(monitor)
        self._discard(dealer)

    # -- input -------------------------------------------------------------------

    def _on_router(self, frames: list[bytes], last: zmq.Frame | None = None) -> None:
        """A message on our ROUTER; ``last``, its last frame as received, knows where it came
        from (what ``send --via`` needs)."""
        message = self._decode(frames, 2)
        if message is None or (self._tap is not None and not self._tap.inbound(message, None)):
            return
        if self.guard.on and not self.guard.allows(last, _address(last)):
            return
        if isinstance(message, wire.Watch):  # the sink keeps its events from now on (the
            self.events.keep_watched(True)  # core's monitor.attached first), for the core to
            # send: see _send_watched
        client = None
        if isinstance(message, ADDRESSED):
            address = _address(last)
            client = Client(address, security.is_local(address))
        self._apply(self.state.request(self.clock.monotonic(), frames[0], message, client))

    def _send_watched(self) -> None:
        """Hand the core the events since the last time, for its monitors (see
        :meth:`Core.watched`); while none watches, the sink keeps no events for them."""
        if not self.events.watching:
            return
        self._apply(self.state.watched(self.clock.monotonic(), self.events.take_watched()))
        self.events.keep_watched(self.state.watching)

    def _reply(self, to: bytes, message: wire.Message) -> None:
        """Answer a client on our ROUTER; one that does not read (its queue full) loses it."""
        assert self._router is not None
        with contextlib.suppress(zmq.Again):
            self._router.send_multipart([to, wire.encode(message)], zmq.NOBLOCK)

    def _on_answer(self, sender: str, frames: list[bytes]) -> None:
        message = self._decode(frames, 1, sender)
        if message is None or (self._tap is not None and not self._tap.inbound(message, sender)):
            return
        self._apply(self.state.answer(self.clock.monotonic(), sender, message))

    def _on_probe_answer(self, target: str, frames: list[bytes]) -> None:
        message = self._decode(frames, 1, target)
        if message is None or (self._tap is not None and not self._tap.inbound(message, target)):
            return
        self._apply(self.state.probe_answer(self.clock.monotonic(), target, message))

    def _on_probe_refused(self, target: str) -> None:
        self._apply(self.state.probe_refused(self.clock.monotonic(), target))

    def _decode(
        self, frames: list[bytes], parts: int, sender: str | None = None
    ) -> wire.Message | None:
        """The message in the last of exactly ``parts`` frames, or None after a bad.message."""
        if len(frames) != parts:
            self._bad(f"expected {parts} frame(s), got {len(frames)}", sender)
            return None
        try:
            return wire.decode(frames[-1])
        except wire.WireError as exc:
            self._bad(str(exc), sender)
            return None

    # -- the loop --------------------------------------------------------------

    def _open(self) -> None:
        self._ctx = zmq.Context()
        self._ctx.set(zmq.MAX_SOCKETS, self.config.max_sockets)
        self._poller.register(self._wake_r.fileno(), zmq.POLLIN)
        zap = self.guard.open(self._ctx)  # the gate opens before any server binds
        if zap is not None:
            self._watch(zap, self.guard.zap)
        self.endpoints = self._bind()
        if self.config.metrics_port is not None:
            self.endpoints.append(self._serve_metrics(self.config.metrics_port))
        self._say(records.Started(self.endpoints, self.guard.allow))
        self._apply(self._begin())

    def _serve_metrics(self, port: int) -> str:
        host = self.config.address.host
        labels = {"node": self.id, "role": self.role}
        try:
            self._metrics = metrics.Server(host, port, labels, self._scrape)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BindError(f"metrics port {port} on {host} is already in use") from None
            raise BindError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
        return self._metrics.endpoint

    def _scrape(self) -> metrics.Figures | None:
        """The node's figures for a scrape, taken in its own thread (see :mod:`metrics`)."""

        def ask(took: Callable[[metrics.Figures], None]) -> None:
            self._call_soon(lambda: took((self.figures(), self.events.counted())))

        return metrics.wait(ask)

    def figures(self) -> dict[str, float]:
        """What metrics show of this node beyond its event counts (call in its thread)."""
        return {
            **self.state.gauges(),
            "auth_refusals": self.guard.refusals,
            "log_lag": self.events.lag(),
        }

    def _serve(self) -> None:
        self._loop_thread = threading.current_thread()
        wake_fd = self._wake_r.fileno()
        deadline: float | None = None  # when the timers are next due, as they last said
        caught_up = -math.inf  # when the timers last ran and the logs were last written out
        handled = True  # input came since: the timers have not seen it, nor the logs had it
        quiet = False  # nothing waits: the last poll found nothing, or woke us and all it
        # found was read (a stream of input, polled without waiting, catches up by _GRAIN)
        busy, next_trim = False, 0.0  # input came since the heap was last trimmed; when next
        while not self._stopping:
            now = self.clock.monotonic()
            if self.guard.asked():
                self._guarded(self.guard.check_keys)
            due = deadline is not None and now >= deadline
            if due:  # read what came meanwhile first: an answer may be sitting unread
                self._guarded(self._pump)
            told = self.events.quiet_until is not None and now >= self.events.quiet_until
            if due or told or (handled and (quiet or now - caught_up >= _GRAIN)):
                deadline = self._guarded(self._timers)
                self.events.flush()
                self._guarded(self._send_watched)
                caught_up, handled = now, False
            if quiet and busy and now >= next_trim:  # a pause after a burst: give back
                memory.trim()  # the heap memory it freed
                busy, next_trim = False, now + _TRIM_INTERVAL
            wake_at = earliest(
                deadline,
                next_trim if busy else None,  # a trim to come: a quiet node wakes up for it
                self.guard.due,
                self.events.quiet_until,  # a bad input kept quiet: said when its time is up
            )
            timeout: int | None = None
            if handled:  # not caught up with the input: first see whether more is waiting
                timeout = 0
            elif wake_at is not None:
                timeout = max(0, math.ceil((wake_at - self.clock.monotonic()) * 1000.0))
            self._guarded(self._end_turn)
            ready = self._poller.poll(timeout)
            # Woken from idle and every socket read to the end: catch up at once, rather
            # than poll again to learn that nothing more came.
            quiet = not ready or timeout != 0
            for sock, _ in ready:
                handled = busy = True
                if sock == wake_fd:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                    self._run_calls()
                    continue
                if not self._drain(sock):
                    quiet = False
            if ready:  # what the input forwards goes out first, before the logs are written
                self._guarded(self._end_turn)

    def _timers(self) -> float | None:
        """Do what is due; when next to."""
        self._apply(self.state.timers(self.clock.monotonic()))
        deadline: float | None = self.state.deadline()
        return deadline

    def _guarded(self, work: Callable[[], T]) -> T | None:
        """Run ``work``; a bug in it is an internal.error event, not the end of the node."""
        try:
            return work()
        except Exception as exc:
            self._internal_error(exc)
            return None

    def _internal_error(self, exc: Exception) -> None:
        """Call from the ``except`` that caught ``exc``: its traceback goes in the log."""
        self._say(records.InternalError(repr(exc), traceback.format_exc()))

    def _pump(self) -> None:
        """Handle what the sockets hold right now, without waiting: before judging silence."""
        for sock, _ in self._poller.poll(0):
            if sock in self._handlers:  # not the wake pipe: its calls wait for the loop
                self._drain(sock)

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
                self._internal_error(exc)
        return False

    def _drain_router(self) -> bool:
        """The ROUTER's messages, each with its last frame as received: it knows the
        address it came from. Liveness and requests, not gossip: this costs little."""
        assert self._router is not None
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
                self._internal_error(exc)
        return False

    def _close(self) -> None:
        try:
            self._apply(self.state.stop(self.clock.monotonic()))
            self._end_turn()
            self._say(records.Stopped())
            self._send_watched()  # a monitor sees the node stop
        finally:
            self._release()

    def _release(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        self._handlers.clear()
        if self._ctx is not None:
            # Closes the gate's ZAP socket with the rest: the servers no longer read, so a
            # client let in by no one in that instant gets nothing in or out.
            self._ctx.destroy(linger=_LINGER_MS)
            self._ctx = None
        self.guard.close()
        with self._wake_lock:
            self._wake_r.close()
            self._wake_w.close()
        self.events.close()
