"""One deadline structure per node: every timed thing a core waits for, soonest first.

A key (a small frozen record naming what is timed: ``ProbeTimeout(target)``,
``ROUND``, ...; each part of a core defines its own) has at most one deadline; setting
it again moves it, cancelling drops it. A core asks :meth:`Deadlines.due` for the keys
whose time has come and dispatches each by its type (a ``match`` that mypy checks is
exhaustive), and :meth:`Deadlines.next` says when it next needs the clock, in O(1)
(amortised). A part sees the deadlines only as a :class:`Schedule` of its own keys.

A binary heap with lazy deletion: a moved or cancelled key leaves its old entry in the
heap, skipped when it comes to the top; the heap is rebuilt when such entries outnumber
the live ones, so its size stays within twice the number of keys (plus a constant).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)

#: Below this many entries the heap is never rebuilt: not worth it.
_COMPACT_AT = 64


class Schedule(Protocol[K_contra]):
    """What a part of a core does with the node's deadlines: its own keys only. A
    ``Deadlines`` of a core's whole key union is a ``Schedule`` of each part's keys."""

    def set(self, key: K_contra, when: float) -> None: ...

    def cancel(self, key: K_contra) -> None: ...

    def get(self, key: K_contra) -> float | None: ...

    def __contains__(self, key: object) -> bool: ...


class Deadlines(Generic[K]):
    def __init__(self) -> None:
        self._when: dict[K, tuple[float, int]] = {}  # key -> (deadline, its entry's number)
        self._heap: list[tuple[float, int, K]] = []
        self._count = 0  # entries ever pushed: numbers them, and orders equal deadlines
        #: :meth:`next`'s answer, while ``_known``: a core is asked for its deadline after
        #: every input, and most inputs move no deadline or only bring one sooner
        self._soonest: float | None = None
        self._known = True

    def __len__(self) -> int:
        return len(self._when)

    def __contains__(self, key: object) -> bool:
        return key in self._when

    @property
    def entries(self) -> int:
        """Entries the heap holds, live or stale: what it costs in memory."""
        return len(self._heap)

    def get(self, key: K) -> float | None:
        entry = self._when.get(key)
        return None if entry is None else entry[0]

    def set(self, key: K, when: float) -> None:
        """``key`` is due at ``when`` (monotonic seconds), and no longer when it was."""
        self._count += 1
        if self._known:
            if self._soonest is None or when <= self._soonest:
                self._soonest = when
            else:
                self._known = False  # it may have been the soonest, now later
        self._when[key] = (when, self._count)
        heapq.heappush(self._heap, (when, self._count, key))
        if len(self._heap) > _COMPACT_AT and len(self._heap) > 2 * len(self._when):
            self._heap = [(when, n, key) for key, (when, n) in self._when.items()]
            heapq.heapify(self._heap)

    def cancel(self, key: K) -> None:
        if self._when.pop(key, None) is not None:
            self._known = False

    def next(self) -> float | None:
        """The soonest deadline, if any."""
        if self._known:
            return self._soonest
        heap, live = self._heap, self._when
        soonest = None
        while heap:
            when, number, key = heap[0]
            if live.get(key) == (when, number):
                soonest = when
                break
            heapq.heappop(heap)  # moved or cancelled since
        self._soonest, self._known = soonest, True
        return soonest

    def due(self, now: float) -> list[K]:
        """The keys due by ``now``, soonest first; they are no longer held."""
        heap, live = self._heap, self._when
        keys = []
        while heap and heap[0][0] <= now:
            when, number, key = heapq.heappop(heap)
            if live.get(key) == (when, number):
                del live[key]
                keys.append(key)
        if keys:
            self._known = False
        return keys
