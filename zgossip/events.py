"""Everything that happens on a node goes through :meth:`EventLog.emit`, once.

One call writes the JSON event line (``ts``, ``node``, ``role``, ``event`` and
the fields), the human log line (every line names its node and event) and the
console line, and hands the event to in-process listeners (tests and library
users). The node calls :meth:`EventLog.flush` once it has read all the input waiting,
before it blocks (and within a millisecond under a stream: ``zgossip.node._GRAIN``), so
a ``tail -f`` sees every event at once, and a burst of messages costs one write per log.

The log is on the hot path of every message, so this module formats its lines
itself: Python's ``logging`` builds a record, looks up the calling frame and
flushes per line, which cost more than all the rest of handling a message.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from zgossip.feed import Feeds, Stream
from zgossip.protocol import records
from zgossip.protocol.clock import Clock
from zgossip.protocol.records import Event
from zgossip.protocol.repeats import Repeats

Record = dict[str, Any]
Listener = Callable[[Record], None]

#: How often a log file is checked for having been deleted under the node (seconds).
_CHECK_INTERVAL = 1.0

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"

_to_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _json_value(value: Any) -> str:
    """``value`` as JSON, as json.dumps writes it; quicker for the usual text and numbers."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    return _to_json(value)


def json_head(node: str, role: str) -> str:
    """The node's part of each of its JSON lines."""
    return f'"node":{_quote(node)},"role":{_quote(role)}'


def json_line(ts: float, head: str, event: Event) -> str:
    """One line of the JSON event log (with its newline), as json.dumps would write it."""
    kind = type(event)
    line = f'{{"ts":{ts!r},{head},"event":"{kind.NAME}"'
    for key, attr in kind.FIELDS:
        value = getattr(event, attr)
        if value is not None:
            line += f',"{key}":{_json_value(value)}'
    return line + "}\n"


def who(role: str, node: str) -> str:
    """The node's part of each of its human lines."""
    return f"{role} {node}".ljust(20)


def console_line(when: str, who: str, name: str, colour: str, text: str, coloured: bool) -> str:
    """One console line (with its newline), as a node prints it and ``zgossip monitor``;
    ``who`` empty: without it (compact)."""
    if coloured:
        head = f"{_DIM}{when}{_RESET} {_BOLD}{who}{_RESET} " if who else f"{_DIM}{when}{_RESET} "
        line = f"{head}{colour}{name:<16}{_RESET}"
    else:
        line = f"{when} {who} {name:<16}" if who else f"{when} {name:<16}"
    return f"{line} {text}\n"


def wants_colour(stream: TextIO) -> bool:
    """Colour for a terminal, unless NO_COLOR says otherwise (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


class Stamps:
    """Local date and time of Unix seconds, as log lines show them; strftime once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self, ts: float) -> str:
        second = int(ts)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._text}.{int((ts - second) * 1000):03d}"


class _LogFile:
    """A file the node appends its lines to. Lines wait in memory until :meth:`flush`
    writes them in one go; a write that fails (a full disk, a read-only file system) loses
    those lines, counted, and the node goes on. A file deleted under the node is noticed
    (within a second) and written anew."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = self._open()
        self._lines: list[str] = []
        self.error: str | None = None  # why writing fails, while it does
        self.lost = 0  # lines not written since it began to fail
        self._checked = 0.0  # when it was last checked that the file is still there

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, line: str) -> None:
        self._lines.append(line)

    @property
    def waiting(self) -> bool:
        return bool(self._lines)

    def flush(self, now: float) -> list[Event]:
        """Write out what waits; what changed for the worse or the better, as events."""
        news: list[Event] = []
        if now - self._checked >= _CHECK_INTERVAL:
            self._checked = now
            news += self._check()
        if not self._lines:
            return news
        data = "".join(self._lines).encode("utf-8", errors="replace")
        count, self._lines = len(self._lines), []
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.lost += count
            if self.error is None:
                self.error = exc.strerror or str(exc)
                news.append(records.LogUnwritable(str(self.path), self.error))
            return news
        if self.error is not None:
            news.append(records.LogWritable(str(self.path), self.lost))
            self.error, self.lost = None, 0
        return news

    def _check(self) -> list[Event]:
        """Is the file still there? A deleted one is made anew (when its directory is)."""
        try:
            if os.fstat(self._fd).st_nlink > 0 or not self.path.parent.exists():
                return []
            fd = self._open()
        except OSError:
            return []  # the write that follows says what is wrong
        os.close(self._fd)
        self._fd = fd
        return [records.LogRecreated(str(self.path))]

    def close(self) -> None:
        os.close(self._fd)


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
        compact: bool = False,
        stream_size: int = 10_000,
        bad_quiet: float = 1.0,
        bad_lines: int = 100,
        count: bool = False,
    ) -> None:
        """``compact``: console lines without the node's role and address, for a terminal
        (a tmux pane) whose title shows them already; ``count``: count the events by name
        (for metrics, :meth:`counted`)."""
        self.node = node
        self.role = role
        self._clock = clock
        self._listeners: list[Listener] = []
        self._stream_size = stream_size
        self._streams: Feeds[Record] = Feeds("events", self.behind)
        #: bad.message is said once a while a sender, with a count (see zgossip.protocol.repeats)
        self._bad = Repeats(bad_quiet)
        self._bad_quiet = bad_quiet
        self._bad_lines = bad_lines
        self._bad_second, self._bad_this_second = -math.inf, 0  # lines said this second
        #: When a bad.message kept quiet is to be said at the latest (monotonic), if any:
        #: the node wakes up for it, so a sender that went quiet is told of too.
        self.quiet_until: float | None = None
        self._bad_last: dict[str, records.BadMessage] = {}  # the last kept quiet, a sender
        #: Events for the node's monitors since it last sent them (name, JSON line, console
        #: text), while any watch (:meth:`keep_watched`): else None, and emitting costs
        #: nothing more.
        self._watched: list[tuple[str, str, str]] | None = None
        #: Events by name since start, while metrics are on (``count=True``): else None.
        self._counts: dict[str, int] | None = {} if count else None
        self._flushed = clock.monotonic()  # when the logs were last written out
        self._who = who(role, node)
        self._console_who = "" if compact else self._who
        self._json_head = json_head(node, role)
        self._stamps = Stamps()
        self._json: _LogFile | None = None
        self._log: _LogFile | None = None
        self._console: TextIO | None = None
        self._shown: list[str] = []  # console lines for flush() to write out, in one go
        try:  # flush() writes them out, within a millisecond of the events
            if json_path is not None:
                self._json = _LogFile(json_path)
            if log_path is not None:
                self._log = _LogFile(log_path)
        except OSError:
            self.close()
            raise
        self._console = sys.stdout if console else None
        self._colour = console and wants_colour(sys.stdout)
        self._chatter = verbose > 0

    @property
    def counting(self) -> bool:
        return self._counts is not None

    def counted(self) -> dict[str, int]:
        """Events by name since start (none unless made with ``count=True``)."""
        return dict(self._counts or {})

    @property
    def watching(self) -> bool:
        """Whether the log keeps its events for monitors (see :meth:`keep_watched`)."""
        return self._watched is not None

    def keep_watched(self, on: bool) -> None:
        """Keep each event for the node's monitors from now on (``on``), or no longer."""
        if not on:
            self._watched = None
        elif self._watched is None:
            self._watched = []

    def take_watched(self) -> list[tuple[str, str, str]]:
        """The events kept for monitors since the last call (name, JSON line, console text)."""
        if self._watched is None:
            return []
        taken, self._watched = self._watched, []
        return taken

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` with every event from now on, in the node's own thread."""
        self._listeners.append(listener)

    def stream(self, size: int | None = None) -> Stream[Record]:
        """``async for record in events.stream()``: every event from now on, in an asyncio
        loop. Call it in that loop. At most ``size`` (``Config.stream_size``) records wait
        for a consumer that is behind: older ones are dropped (``consumer.behind``). It ends
        when the node stops."""
        return Stream(self._streams, size or self._stream_size)

    def behind(self, stream: str, dropped: int) -> None:
        """An asyncio consumer of ``stream`` fell behind and lost ``dropped`` items: said."""
        self.emit(records.ConsumerBehind(stream, dropped))

    def emit(self, event: Event) -> None:
        """Record ``event``: its JSON line, its human lines, and a dict for each listener.
        A sender's bad input is said once a while, with how much of it came."""
        kind = type(event)
        if isinstance(event, records.BadMessage):
            said = self._said_bad(event)
            if said is None:
                return
            event = said
        ts = self._clock.time()
        name = kind.NAME
        if self._json is not None:  # a line built here, not from a dict: messages make many
            self._json.write(json_line(ts, self._json_head, event))
        if self._log is not None or self._console is not None:
            text = event.text()
            when = self._stamps(ts)
            if self._log is not None:
                self._log.write(f"{when} {self._who} {name:<16} {text}\n")
            if self._console is not None and (self._chatter or not kind.CHATTER):
                self._show(when[11:], name, kind.COLOUR, text)
        if self._counts is not None and kind is not records.BadMessage:  # counted as it came
            self._counts[name] = self._counts.get(name, 0) + 1
        if self._watched is not None:
            self._watched.append((name, json_line(ts, self._json_head, event)[:-1], event.text()))
        if self._listeners or self._streams.active:
            record: Record = {"ts": ts, "node": self.node, "role": self.role, "event": name}
            record.update(event.fields())
            for listener in self._listeners:
                listener(record)
            if self._streams.active:
                self._streams.put(record)

    def _said_bad(self, event: records.BadMessage) -> records.BadMessage | None:
        """``event`` as it is to be said now, or None to keep quiet about it for now (one
        with a count says what was kept quiet: it is said as it is)."""
        if event.count is not None:
            return event
        if self._counts is not None:
            self._counts["bad.message"] = self._counts.get("bad.message", 0) + 1
        now = self._clock.monotonic()
        if now - self._bad_second >= 1.0:
            self._bad_second, self._bad_this_second = now, 0
        # past bad_lines said a second, all senders are one: a sender naming itself anew
        # in every frame would have each line said at once
        over = self._bad_this_second >= self._bad_lines
        key = "*" if over else (event.sender or "?")
        count = self._bad.report(key, now)
        if count is None:
            if len(self._bad_last) >= 1024 and key not in self._bad_last:
                self._bad_last.clear()  # bounded, as Repeats is; a count may go unsaid
            self._bad_last[key] = event
            if self.quiet_until is None:
                self.quiet_until = now + self._bad_quiet
            return None
        self._bad_this_second += 1
        self._bad_last.pop(key, None)
        return event if count == 1 else records.BadMessage(event.reason, event.sender, count)

    def _show(self, when: str, name: str, colour: str, text: str) -> None:
        """A console line, kept for :meth:`flush`: a terminal writes out each line it is
        given at once, one system call a message under a flood."""
        self._shown.append(console_line(when, self._console_who, name, colour, text, self._colour))

    def flush(self) -> None:
        """Write out what the logs hold: the node calls this soon after each event. A log
        that cannot be written is said so once (and again once it can), on the other log
        and the console, and the node goes on."""
        now = self._flushed = self._clock.monotonic()
        if self.quiet_until is not None and now >= self.quiet_until:
            self.quiet_until = None
            for key, count in self._bad.due(now):  # what was kept quiet, said once it ends
                last = self._bad_last.pop(key, None)
                if last is not None:
                    self.emit(records.BadMessage(last.reason, last.sender, count))
            if self._bad_last:  # kept quiet later than the first: said in its turn
                self.quiet_until = now + self._bad_quiet
        news = [event for file in self._files() for event in file.flush(now)]
        for event in news:
            self.emit(event)
        if news:  # said at once, where it can be
            for file in self._files():
                file.flush(now)
        if self._console is not None and self._shown:
            lines, self._shown = "".join(self._shown), []
            try:
                self._console.write(lines)
                self._console.flush()
            except OSError:  # stdout went away (a closed pipe): the logs go on without it
                self._console = None

    def lag(self) -> float:
        """How long the oldest line not written out yet has waited (seconds; 0: none)."""
        if not any(file.waiting for file in self._files()):
            return 0.0
        return self._clock.monotonic() - self._flushed

    def _files(self) -> list[_LogFile]:
        return [file for file in (self._json, self._log) if file is not None]

    def close(self) -> None:
        self._streams.close()
        self.flush()
        for file in self._files():
            file.close()
        self._json = self._log = self._console = None
