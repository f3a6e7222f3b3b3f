"""Everything that happens on a node goes through :meth:`EventLog.emit`, once.

One call writes the JSON event line (``ts``, ``node``, ``role``, ``event`` and
the fields; flushed per line so a ``tail -f`` sees it), the human log line
(every line names its node) and the console line, and hands the event to
in-process listeners (tests and library users).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from zgossip.clock import Clock

Event = dict[str, Any]
Listener = Callable[[Event], None]

#: Events a person does not want on the console unless asked (-v).
_CHATTER = frozenset({"liveness.missed", "report.ignored"})


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
        formatter = logging.Formatter("%(asctime)s %(name)s %(message)s")
        handlers: list[logging.Handler] = []
        if log_path is not None:
            handlers.append(logging.FileHandler(log_path, encoding="utf-8"))
        if console:
            stream = logging.StreamHandler(sys.stdout)
            stream.setLevel(logging.DEBUG if verbose else logging.INFO)
            handlers.append(stream)
        for handler in handlers:
            handler.setFormatter(formatter)
            self._logger.addHandler(handler)

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
            self._logger.log(level, text)
        for listener in self._listeners:
            listener(record)

    def close(self) -> None:
        if self._json is not None:
            self._json.close()
            self._json = None
        for handler in list(self._logger.handlers):
            handler.close()
            self._logger.removeHandler(handler)
