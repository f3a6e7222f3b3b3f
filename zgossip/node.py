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
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar, assert_never

import zmq

from zgossip import metrics, security
from zgossip.events import EventLog
from zgossip.guard import HANDSHAKES, Guard
from zgossip.loop import Loop
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
    RunQuery,
    Send,
)

#: What a DEALER's monitor says of its connection: it closed, or its port refused us.
_CONNECTION = int(zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED)
#: How long stopping waits for goodbyes (leave, bye) to go out.
_LINGER_MS = 500
#: Seconds a library call waits for the node's thread to read what it asks (a turn of the
#: loop takes milliseconds; a node stuck longer is broken, and the caller hears of it).
_READ_WAIT = 5.0
T = TypeVar("T")


def _address(last: zmq.Frame | None) -> str | None:
    """The IP a ROUTER message (its last frame as received) came from, when known."""
    return None if last is None else str(last.get("Peer-Address"))


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
        self.loop = Loop(self.clock, max_pending=config.max_pending)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.endpoints: list[str] = []
        self._dealers: dict[str, zmq.Socket[bytes]] = {}  # node -> our DEALER to its ROUTER
        self._connected: set[str] = set()  # of those, the ones connected (CURVE may refuse)
        self._monitors: dict[str, zmq.Socket[bytes]] = {}  # each DEALER's monitor
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
            self.loop.run(self)
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
        self.loop.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def reload_keys(self) -> None:
        """Read the allow directory again now (thread- and signal-safe; SIGHUP does this).
        It is also read whenever it changes, within ``Config.keys_check``."""
        self.guard.ask()
        self.loop.wake()

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
        self.loop.touched(sock)
        return True

    def _call_soon(self, call: Callable[[], None]) -> None:
        """Run ``call`` in the node's thread, soon (see :meth:`Loop.call_soon`)."""
        try:
            self.loop.call_soon(call)
        except RuntimeError:
            raise RuntimeError(f"{self.role} {self.id} is stopped") from None

    def _read(self, read: Callable[[], T]) -> T:
        """What ``read()`` returns, read in the node's thread (what its core holds changes
        only there); at once in that thread, or when the node does not run."""
        if self.loop.in_loop() or not self._ready.is_set():
            return read()
        done = threading.Event()
        box: list[T] = []

        def took() -> None:
            box.append(read())
            done.set()

        try:
            self.loop.call_soon(took)
        except RuntimeError:  # stopped: nothing changes any more
            return read()
        if not done.wait(_READ_WAIT):
            raise TimeoutError(f"{self.role} {self.id} did not answer within {_READ_WAIT} s")
        return box[0]

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
                case RunQuery():
                    self._do_run_query(effect)
                case _:
                    assert_never(effect)

    def _do_run_query(self, effect: RunQuery) -> None:
        """Answer a query with our program's handler: a peer's (a seed has none)."""
        raise NotImplementedError(f"a {self.role} answers no query")

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
        self.loop.touched(dealer)

    def _open_dealer(self, target: str, *, link: bool = False) -> zmq.Socket[bytes]:
        """A DEALER to ``target``'s ROUTER, watched: what comes back is ``answer(target)``.
        Without a certificate for ``target`` (CURVE) it stays unconnected: see ``_connect``.
        A ``link``'s connection is watched too (see :meth:`_watch_connection`)."""
        dealer = self._dealers[target] = self._socket(zmq.DEALER)
        self._watch_connection(dealer, target, link)
        if self._connect(dealer, target):
            self._connected.add(target)
        self.loop.watch(dealer, lambda frames: self._on_answer(target, frames))
        return dealer

    def _do_disconnect(self, effect: Disconnect) -> None:
        dealer = self._dealers.pop(effect.peer, None)
        self._connected.discard(effect.peer)
        if dealer is None:
            return
        monitor = self._monitors.pop(effect.peer, None)
        if monitor is not None:
            dealer.disable_monitor()
            self.loop.discard(monitor)
        self.loop.discard(dealer)

    def _watch_connection(self, dealer: zmq.Socket[bytes], target: str, link: bool) -> None:
        """A monitor of ``dealer``'s connection to ``target``, when there is something to
        watch: a link's (:class:`Connect`) closing, as the kernel closes a crashed process's
        connections at once, or its port refusing, as nothing listens there (both are
        ``disconnected``, for the core to judge); with CURVE, how each handshake went (a
        refusal is otherwise silent: ZeroMQ just drops it). A monitor is a socket more."""
        events = (_CONNECTION if link else 0) | (HANDSHAKES if self.guard.on else 0)
        if not events:
            return
        try:
            monitor: zmq.Socket[bytes] = dealer.get_monitor_socket(events)
        except zmq.ZMQError as exc:  # out of sockets: no word of this connection, then
            self._bad(f"cannot watch the connection to {target}: {exc.strerror}")
            return
        self._monitors[target] = monitor
        self.loop.watch(monitor, lambda frames: self._on_connection(target, frames))

    def _on_connection(self, target: str, frames: list[bytes]) -> None:
        event = int.from_bytes(frames[0][:2], "little") if frames and frames[0] else 0
        if event & _CONNECTION:
            self._apply(self.state.disconnected(self.clock.monotonic(), target))
        elif event:
            self.guard.handshake(target, frames)

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
        self.loop.watch(dealer, lambda frames: self._on_probe_answer(target, frames))
        self.loop.watch(monitor, lambda frames: self._on_probe_refused(target))
        if self._connect(dealer, target):  # else it goes unanswered, and times out
            dealer.send(wire.encode(effect.ping), zmq.NOBLOCK)

    def _do_close_probe(self, effect: CloseProbe) -> None:
        sockets = self._probe_sockets.pop(effect.target, None)
        if sockets is None:
            return
        dealer, monitor = sockets
        dealer.disable_monitor()
        self.loop.discard(monitor)
        self.loop.discard(dealer)

    # -- input -------------------------------------------------------------------

    def _on_router(self, frames: list[bytes], last: zmq.Frame | None = None) -> None:
        """A message on our ROUTER; ``last``, its last frame as received, knows where it came
        from (what ``send --via`` needs)."""
        message = self._decode(frames, 2)
        if message is None or (self._tap is not None and not self._tap.inbound(message, None)):
            return
        if self.guard.on:
            if not self.guard.allows(last, _address(last)):
                return
            claimed = wire.speaker(message)
            if claimed is not None and not self.guard.speaks_for(last, claimed):
                return
        if isinstance(message, wire.Watch):
            # the sink keeps its events from now on (the core's monitor.attached first),
            # for the core to send (see _send_watched)
            self.events.keep_watched(True)
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
        self.loop.touched(self._router)

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
        zap = self.guard.open(self._ctx)  # the gate opens before any server binds
        if zap is not None:
            self.loop.watch(zap, self.guard.zap)
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

    # -- between turns (what the loop asks: zgossip.loop.Turns) ------------------------

    def _due(self, now: float) -> bool:
        if self.guard.due is not None and self.guard.asked():  # due: None without CURVE,
            self.loop.guarded(self.guard.check_keys)  # and no call a turn for it
        # a bad input kept quiet: said when its time is up
        quiet_until = self.events.quiet_until
        return quiet_until is not None and now >= quiet_until

    def _catch_up(self) -> float | None:
        deadline = self.loop.guarded(self._timers)
        self.events.flush()
        self.loop.guarded(self._send_watched)
        return deadline

    def _wake_at(self) -> float | None:
        return earliest(self.guard.due, self.events.quiet_until)

    def _end_turn(self) -> None:
        """Send what was held for the end of the turn: after the input a poll found, and
        before the loop polls again (what the timers forwarded)."""

    def _failed(self, exc: Exception) -> None:
        self._internal_error(exc)

    def _timers(self) -> float | None:
        """Do what is due; when next to. Most turns bring input with nothing due: they
        skip the core's timers (what they would ask of each part of it)."""
        now = self.clock.monotonic()
        deadline: float | None = self.state.deadline()
        if deadline is None or now < deadline:
            return deadline
        self._apply(self.state.timers(now))
        deadline = self.state.deadline()
        return deadline

    def _internal_error(self, exc: Exception) -> None:
        """Call from the ``except`` that caught ``exc``: its traceback goes in the log."""
        self._say(records.InternalError(repr(exc), traceback.format_exc()))

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
        if self._ctx is not None:
            # Closes the gate's ZAP socket with the rest: the servers no longer read, so a
            # client let in by no one in that instant gets nothing in or out.
            self._ctx.destroy(linger=_LINGER_MS)
            self._ctx = None
        self.guard.close()
        self.loop.close()
        self.events.close()
