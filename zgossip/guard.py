"""CurveZMQ at a node's edge: the gate that lets clients in, the keys, and what they say.

One :class:`Guard` a node, whether CURVE is on or not (off, every check passes and it
holds nothing). It owns everything about keys a node's loop needs: the options on each
socket (:meth:`Guard.serve`, :meth:`Guard.client`), the ZAP gate the poller drives
(:meth:`Guard.zap`), whether a client is still allowed (:meth:`Guard.allows`), how each
of the node's handshakes went (:meth:`Guard.handshake`, from the monitor of each DEALER,
which asks for :data:`HANDSHAKES` when the guard is on), and looking at the allow
directory again (:meth:`Guard.check_keys`, due at :attr:`Guard.due`). It tells the node
what happened through two callbacks: ``say`` (an event, carried out as an effect) and
``certificates`` (each node's key, as the allow directory says at start and after each
change: the core decides whom that revokes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import zmq

from zgossip import security
from zgossip.protocol import records
from zgossip.protocol.clock import Clock
from zgossip.protocol.config import Config, ConfigError
from zgossip.protocol.repeats import Repeats

#: What a DEALER's monitor reports with CURVE on: how each handshake went.
HANDSHAKES = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


class Guard:
    def __init__(
        self,
        config: Config,
        clock: Clock,
        *,
        say: Callable[[records.Event], None],
        certificates: Callable[[Mapping[str, bytes]], None],
    ) -> None:
        """Reads the key files at once: a bad one raises ConfigError before anything opens."""
        self._config = config
        self._clock = clock
        self._say = say
        self._certificates = certificates
        self.curve = security.from_config(config)
        # the allow directory as last read, when to look at it again, and whether asked to
        self._seen = () if self.curve is None else security.signature(self.curve.allow)
        self._asked = False
        self.due: float | None = None if self.curve is None else 0.0
        self.refusals = 0  # CURVE handshakes refused
        self._gate: security.Gate | None = None
        self._denials = Repeats(config.auth_quiet)
        self._forged = Repeats(config.auth_quiet)
        self._refused_by: set[str] = set()  # nodes that refused our handshake, said once

    @property
    def on(self) -> bool:
        return self.curve is not None

    @property
    def allow(self) -> str | None:
        """The allow directory, when CURVE is on."""
        return None if self.curve is None else str(self.curve.allow)

    def open(self, ctx: zmq.Context[zmq.Socket[bytes]]) -> zmq.Socket[bytes] | None:
        """Open the gate before any server binds; the socket the poller is to watch (call
        :meth:`zap` with what it reads), if any."""
        if self.curve is None:
            return None
        self._gate = security.Gate(ctx, self.curve.allow)
        self._certificates(self.curve.servers)
        return self._gate.open()

    def close(self) -> None:
        if self._gate is not None:
            self._gate.stop()
            self._gate = None

    def ask(self) -> None:
        """Look at the allow directory at the next turn (SIGHUP)."""
        self._asked = True

    def asked(self) -> bool:
        """Whether :meth:`check_keys` is due."""
        return self.due is not None and (self._asked or self._clock.monotonic() >= self.due)

    # -- sockets -----------------------------------------------------------------------

    def serve(self, sock: zmq.Socket[bytes]) -> None:
        """``sock`` is a server: with CURVE on, only allowed keys get in."""
        if self.curve is not None:
            self.curve.serve(sock)

    def client(self, sock: zmq.Socket[bytes], target: str) -> bool:
        """Make ``sock`` a CURVE client of ``target``'s key; False (said: ``auth.nokey``)
        when the allow directory has no certificate for it."""
        if self.curve is None or self.curve.client(sock, target):
            return True
        self._say(records.AuthNoKey(target, str(self.curve.allow)))
        return False

    def handshake(self, target: str, frames: list[bytes]) -> None:
        """How a CURVE handshake with ``target`` went: a refusal is said once, until one
        succeeds again (a refused peer retries on fresh connections)."""
        event = int.from_bytes(frames[0][:2], "little") if frames and frames[0] else 0
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._refused_by.discard(target)
        elif event and target not in self._refused_by:
            self._refused_by.add(target)
            reason = (
                "our key is not in its allow directory"
                if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH
                else "the handshake failed (do both hold each other's certificates?)"
            )
            self._say(records.AuthRefused(target, reason))

    # -- clients -----------------------------------------------------------------------

    def zap(self, frames: list[bytes]) -> None:
        """A server of ours asks whether a CURVE client may in."""
        assert self._gate is not None
        denied = self._gate.check(frames)
        if denied is not None:
            self._deny(denied.key, denied.address)

    def allows(self, last: zmq.Frame | None, address: str | None) -> bool:
        """Whether the client that sent ``last`` (from ``address``) is still allowed: its
        key may have been taken out of the allow directory since its handshake."""
        if self._gate is None:
            return True
        try:
            user = "" if last is None else str(last.get("User-Id"))
        except zmq.ZMQError:  # no ZAP reply named it: it did not come through the gate
            user = ""
        if self._gate.allows(user):
            return True
        self._deny(user or "?", address or "?")
        return False

    def speaks_for(self, last: zmq.Frame | None, claimed: str) -> bool:
        """Whether the client that sent ``last`` holds the key of ``claimed``, the node its
        message names as its sender: a certificate names its node's address, and a key
        speaks only for that one (``auth.forged`` otherwise, said once a while)."""
        if self.curve is None:
            return True
        try:
            user = "" if last is None else str(last.get("User-Id"))
        except zmq.ZMQError:
            user = ""
        key = self.curve.servers.get(claimed)
        if key is not None and key.decode() == user:
            return True
        count = self._forged.report(user, self._clock.monotonic())
        if count is not None:
            self._say(records.AuthForged(user or "?", claimed, count))
        return False

    def _deny(self, key: str, address: str) -> None:
        """A client refused: said at once the first time, then once a while with a count."""
        assert self.curve is not None
        self.refusals += 1
        count = self._denials.report(key, self._clock.monotonic())
        if count is not None:
            self._say(records.AuthDenied(key, address, count, str(self.curve.allow)))

    # -- the allow directory -----------------------------------------------------------

    def check_keys(self) -> None:
        """Take what changed in the allow directory: new keys are let in from the next
        handshake, and the core hears of every node's key (``certificates``)."""
        assert self.curve is not None and self._gate is not None
        self.due = self._clock.monotonic() + self._config.keys_check
        asked, self._asked = self._asked, False
        seen = security.signature(self.curve.allow)
        if seen == self._seen and not asked:
            return
        self._seen = seen
        try:
            curve = security.from_config(self._config)
        except ConfigError as exc:  # a half-copied file, say: the keys read before hold
            self._say(records.KeysUnreadable(str(self.curve.allow), str(exc)))
            return
        assert curve is not None  # the config names the keys: this node has them
        before = self._gate.keys
        self._gate.reload()
        after = self._gate.keys
        self.curve = curve
        if before != after:
            added, removed = sorted(after - before), sorted(before - after)
            self._say(records.KeysChanged(str(curve.allow), added, removed))
        self._certificates(curve.servers)
