"""Everything that happens on a node goes through :meth:`EventLog.emit`, once.

One call writes the JSON event line (``ts``, ``node``, ``role``, ``event`` and
the fields; flushed per line so a ``tail -f`` sees it), the human log line
(every line names its node) and the console line, and hands the event to
in-process listeners (tests and library users).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from zgossip.clock import Clock

Event = dict[str, Any]
Listener = Callable[[Event], None]

#: Events a person does not want on the console unless asked (-v).
_CHATTER = frozenset({"liveness.missed", "report.ignored"})

#: A human log line: when, which node, what happened (aligned), then the words.
_LINE = "%(asctime)s.%(msecs)03d %(name)-20s %(event)-16s %(message)s"

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"
#: Console colours by event: good news green, gossip cyan, doubts yellow, deaths red.
_COLOURS = {
    "started": "\x1b[32m", "stopped": "\x1b[32m", "peer.registered": "\x1b[32m",
    "seed.registered": "\x1b[32m", "neighbour.added": "\x1b[32m",
    "gossip.sent": "\x1b[36m", "gossip.received": "\x1b[36m",
    "liveness.missed": "\x1b[33m", "liveness.late": "\x1b[33m", "seed.lost": "\x1b[33m",
    "neighbour.left": "\x1b[33m", "neighbour.lost": "\x1b[33m", "link.failed": "\x1b[33m",
    "report.refuted": "\x1b[33m", "report.ignored": "\x1b[33m", "dead.received": "\x1b[31m",
    "neighbour.dead": "\x1b[31m", "dead.reported": "\x1b[31m", "peer.removed": "\x1b[31m",
    "bad.message": "\x1b[35m", "internal.error": "\x1b[1;31m", "handler.error": "\x1b[1;31m",
}  # fmt: skip


def _wants_colour(stream: TextIO) -> bool:
    """Colour for a terminal, unless NO_COLOR says otherwise (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


class _ConsoleFormatter(logging.Formatter):
    """One aligned line an event, coloured by what kind of news it is."""

    def __init__(self, colour: bool) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self._colour = colour

    def format(self, record: logging.LogRecord) -> str:
        when = f"{self.formatTime(record, self.datefmt)}.{int(record.msecs):03d}"
        event: str = getattr(record, "event", "")
        who, what, words = f"{record.name:<20}", f"{event:<16}", record.getMessage()
        if not self._colour:
            return f"{when} {who} {what} {words}"
        colour = _COLOURS.get(event, "")
        return f"{_DIM}{when}{_RESET} {_BOLD}{who}{_RESET} {colour}{what}{_RESET} {words}"


class EventLog:
    def __init__(
        self,
        node: str,
        role: str,
        clock: Clock,
        *,
        json_path: Path | None = None,
        log_path: Path | None = None,
        console: bool = False,
        verbose: int = 0,
    ) -> None:
        self.node = node
        self.role = role
        self._clock = clock
        self._listeners: list[Listener] = []
        self._json: TextIO | None = None
        if json_path is not None:
            self._json = open(json_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        # An unmanaged logger: one per node, so many nodes in a process never share handlers.
        self._logger = logging.Logger(f"{role} {node}", logging.DEBUG)
        if log_path is not None:
            handler = logging.FileHandler(log_path, encoding="utf-8")
            handler.setFormatter(logging.Formatter(_LINE, "%Y-%m-%d %H:%M:%S"))
            self._logger.addHandler(handler)
        if console:
            stream = logging.StreamHandler(sys.stdout)
            stream.setLevel(logging.DEBUG if verbose else logging.INFO)
            stream.setFormatter(_ConsoleFormatter(colour=_wants_colour(sys.stdout)))
            self._logger.addHandler(stream)

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` with every event from now on, in the node's own thread."""
        self._listeners.append(listener)

    def emit(self, event: str, text: str | None = None, /, **fields: Any) -> None:
        """Record ``event``; ``text`` is the human line, by default the event and its fields."""
        record: Event = {
            "ts": self._clock.time(),
            "node": self.node,
            "role": self.role,
            "event": event,
            **fields,
        }
        if self._json is not None:
            self._json.write(json.dumps(record, separators=(",", ":")) + "\n")
        if self._logger.handlers:
            if text is None:
                text = " ".join([event, *(f"{key}={value}" for key, value in fields.items())])
            level = logging.DEBUG if event in _CHATTER else logging.INFO
            self._logger.log(level, text, extra={"event": event})
        for listener in self._listeners:
            listener(record)

    def close(self) -> None:
        if self._json is not None:
            self._json.close()
            self._json = None
        for handler in list(self._logger.handlers):
            handler.close()
            self._logger.removeHandler(handler)
