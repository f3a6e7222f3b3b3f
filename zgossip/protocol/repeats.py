"""Which of many repeats to say: the first at once, then one a while with a count.

A client that keeps retrying a refused handshake, or a sender of garbage, must not flood
the logs (a 100 KB history frame of 50,000 bad items wrote 50,000 lines). :class:`Repeats`
says the first of each key's events at once, keeps quiet about the next ones for a
while, and then says how many there were: with the next one to come, or, through
:meth:`Repeats.due`, once the quiet time is over.
"""

from __future__ import annotations


class Repeats:
    def __init__(self, quiet: float, max_keys: int = 1024) -> None:
        self._quiet = quiet
        self._max_keys = max_keys
        self._keys: dict[str, tuple[float, int]] = {}  # key -> (last said, kept quiet since)
        #: When :meth:`due` has a count to say next (monotonic seconds; or sooner), if
        #: ever: the core's deadline takes it, so that it is said on time, and timers run
        #: for nothing else. (An attribute: the simulator asks after every input.)
        self.next_due: float | None = None

    def report(self, key: str, now: float) -> int | None:
        """Note an event of ``key`` at ``now`` (monotonic seconds): how many to say now
        (this one included), or None to keep quiet about it for now."""
        last, count = self._keys.get(key, (None, 0))
        count += 1
        if last is not None and now - last < self._quiet:
            self._keys[key] = (last, count)
            if self.next_due is None or last + self._quiet < self.next_due:
                self.next_due = last + self._quiet
            return None
        if len(self._keys) >= self._max_keys and key not in self._keys:
            self._keys.clear()  # bounded memory; at worst a few are said early
        self._keys[key] = (now, 0)
        return count

    def due(self, now: float) -> list[tuple[str, int]]:
        """The keys whose quiet time is over with events kept quiet, and how many: to say
        now (they count as said)."""
        if self.next_due is None or now < self.next_due:
            return []
        due = [
            (key, count)
            for key, (last, count) in self._keys.items()
            if count and now - last >= self._quiet
        ]
        for key, _ in due:
            self._keys[key] = (now, 0)
        waiting = [last for last, count in self._keys.values() if count]
        self.next_due = min(waiting) + self._quiet if waiting else None
        return due
