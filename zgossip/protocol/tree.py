"""Which neighbours a message is pushed to whole, and which hear only of its id (pure).

An epidemic broadcast tree (Plumtree: Leitão, Pereira and Rodrigues, SRDS 2007; the
IHAVE/IWANT of libp2p's gossipsub is the same idea). Each link of a peer is *eager*,
messages go down it whole, or *lazy*, their ids go down it in ``ihave`` announcements,
batched: one frame for all the ids of up to ``announce_interval``, sent on a wake-up that
input brings whenever it can (see :meth:`Tree._schedule`).

- Links start eager. A copy of a message already had *prunes* the link it came on: the
  sender is told (``prune``) and from then on only announces to us. So the eager links
  thin out to a tree spanning the overlay, and a peer receives each message once.
- An announced message that has not come whole within ``graft_timeout`` is asked for
  (``graft``) from the first neighbour that announced it, whose link turns eager again:
  the tree heals around a dead or slow peer by itself. The next announcer is asked a
  ``graft_timeout`` later, and so on.
- A message goes neither back to the neighbour it came from nor to one that announced it.

In ``flood`` mode (``Config.dissemination``) every link stays eager and nothing is
announced: each peer pushes each message to every neighbour but the one it came from.

The :data:`ANNOUNCE` and :class:`GraftTimeout` deadlines live in the peer's deadlines.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass

from zgossip.protocol.clock import Clock
from zgossip.protocol.deadlines import Schedule


@dataclass(frozen=True, slots=True)
class AnnounceDue:
    """The deadline key of the next announcement (one a peer: :data:`ANNOUNCE`)."""


@dataclass(frozen=True, slots=True)
class GraftTimeout:
    """The deadline key of an announced message that has not come whole in time."""

    msg_id: bytes


ANNOUNCE = AnnounceDue()
#: The tree's deadline keys.
TreeKey = AnnounceDue | GraftTimeout


class Tree:
    def __init__(
        self,
        deadlines: Schedule[TreeKey],
        clock: Clock,
        *,
        lazy: bool,
        announce_interval: float,
        graft_timeout: float,
        hurry_interval: float,
        hurry_for: float,
        max_announce: int,
        max_announced: int,
    ) -> None:
        self._deadlines = deadlines
        self._clock = clock
        self._lazy = lazy  # the tree; False: the plain flood
        self._announce_interval = announce_interval
        self._graft_timeout = graft_timeout
        self._hurry_interval = hurry_interval
        self._hurry_for = hurry_for
        self._hurry_until = float("-inf")  # announcing every hurry_interval until then
        self._max_announce = max_announce
        self._max_announced = max_announced
        self.eager: dict[str, None] = {}  # the links messages are pushed down, in order
        self.lazy: dict[str, None] = {}  # the links ids are announced down
        # ids to announce at the next ANNOUNCE -> the links to tell: those lazy when it
        # came (one grafted since is told all the same: it was pushed none of them)
        self._pending: dict[bytes, list[str]] = {}
        # ids announced to us, not received -> the announcers not asked yet, first first
        self._missing: dict[bytes, list[str]] = {}
        #: ids given up (all announcers asked, or no room to await them): the peer's to
        #: take and clear; anti-entropy may yet bring them
        self.given_up: list[bytes] = []

    def add(self, peer: str) -> None:
        """A link came up: eager, to begin with."""
        self.lazy.pop(peer, None)
        self.eager[peer] = None

    def remove(self, peer: str) -> None:
        """A link is gone (its announcements still listed are skipped when due)."""
        self.eager.pop(peer, None)
        self.lazy.pop(peer, None)

    def first(self, msg_id: bytes, sender: str) -> list[str]:
        """A message received for the first time from ``sender`` (ourselves, for our own):
        the neighbours to push it to. The rest will hear of it at the next announcement."""
        announcers = self._missing.pop(msg_id, None)
        if announcers is not None:
            self._deadlines.cancel(GraftTimeout(msg_id))
        if sender in self.lazy:  # it pushed to us: its link is on the tree (again)
            del self.lazy[sender]
            self.eager[sender] = None
        skip = [sender, *announcers] if announcers else [sender]
        if self.lazy:
            tell = [peer for peer in self.lazy if peer not in skip]
            if tell:
                self._pending[msg_id] = tell
                self._schedule()
        if announcers:
            return [peer for peer in self.eager if peer not in skip]
        return [peer for peer in self.eager if peer != sender]

    def _schedule(self) -> None:
        """When the ids pending go out: ``announce_interval`` after the first, or with this
        wake-up once half of that has passed (a stream of messages brings no wake-up of
        its own for its announcements), or at once when they fill a frame."""
        now = self._clock.monotonic()
        interval = self._hurry_interval if now < self._hurry_until else self._announce_interval
        due = self._deadlines.get(ANNOUNCE)
        if due is None:
            self._deadlines.set(ANNOUNCE, now + interval)
        elif due - now <= interval / 2 or len(self._pending) >= self._max_announce:
            self._deadlines.set(ANNOUNCE, now)

    def _hurry(self) -> None:
        """A graft, asked or answered: the tree is broken near us, and the peers cut off
        beyond it learn of what they miss only from announcements. For ``hurry_for`` they
        go every ``hurry_interval``: each hop of a repair then waits that, not the calm
        ``announce_interval`` (and a network at rest pays nothing for it)."""
        now = self._clock.monotonic()
        self._hurry_until = now + self._hurry_for
        due = self._deadlines.get(ANNOUNCE)
        if due is not None and due > now + self._hurry_interval:
            self._deadlines.set(ANNOUNCE, now + self._hurry_interval)

    def duplicate(self, sender: str) -> bool:
        """A copy of a message had already, pushed by ``sender``: True when that prunes its
        link (tell it so). Never our last eager link: a peer left with none hears of every
        message only by announcement, a graft timeout late, and its own reach no one."""
        if self._lazy and sender in self.eager and len(self.eager) > 1:
            del self.eager[sender]
            self.lazy[sender] = None
            return True
        return False

    def pruned(self, peer: str) -> None:
        """``peer`` had a copy of ours already: announce to it from now on."""
        if self._lazy and peer in self.eager:
            del self.eager[peer]
            self.lazy[peer] = None

    def grafted(self, peer: str) -> None:
        """``peer`` asked us for a message it heard of, or we asked it for one: push to it
        from now on, and announce in a hurry for a while."""
        if peer in self.lazy:
            del self.lazy[peer]
            self.eager[peer] = None
        self._hurry()

    def announced(self, peer: str, ids: Iterable[bytes], have: Container[bytes]) -> None:
        """``peer`` announced these ids; those not in ``have`` are awaited, and asked for
        if they do not come within ``graft_timeout``."""
        timeout = self._clock.monotonic() + self._graft_timeout
        for msg_id in ids:
            if msg_id in have:
                tell = self._pending.get(msg_id)
                if tell is not None and peer in tell:  # ours to announce still: not to it
                    tell.remove(peer)
                continue
            announcers = self._missing.get(msg_id)
            if announcers is None:
                if len(self._missing) >= self._max_announced:  # the oldest is given up
                    oldest = next(iter(self._missing))
                    del self._missing[oldest]
                    self._deadlines.cancel(GraftTimeout(oldest))
                    self.given_up.append(oldest)
                self._missing[msg_id] = [peer]
                self._deadlines.set(GraftTimeout(msg_id), timeout)
            elif peer not in announcers:
                announcers.append(peer)

    def announcements(self) -> dict[str, tuple[bytes, ...]]:
        """The :data:`ANNOUNCE` deadline came: the ids to announce to each link."""
        pending, self._pending = self._pending, {}
        told: dict[str, list[bytes]] = {}
        for msg_id, tell in pending.items():
            for peer in tell:
                if peer in self.lazy or peer in self.eager:  # still a neighbour
                    told.setdefault(peer, []).append(msg_id)
        return {peer: tuple(ids) for peer, ids in told.items()}

    def grafts(self, due: Iterable[bytes]) -> dict[str, list[bytes]]:
        """The :class:`GraftTimeout` deadlines that came: the neighbour to ask for each id (its
        link turns eager), the next announcer being asked a ``graft_timeout`` later."""
        asks: dict[str, list[bytes]] = {}
        timeout = self._clock.monotonic() + self._graft_timeout
        for msg_id in due:
            announcers = self._missing.get(msg_id)
            if announcers is None:
                continue
            while announcers and announcers[0] not in self.eager and announcers[0] not in self.lazy:
                announcers.pop(0)  # no longer a neighbour
            if not announcers:
                del self._missing[msg_id]  # all asked: given up (anti-entropy may find it)
                self.given_up.append(msg_id)
                continue
            peer = announcers.pop(0)
            self.grafted(peer)
            asks.setdefault(peer, []).append(msg_id)
            self._deadlines.set(GraftTimeout(msg_id), timeout)
        return asks
