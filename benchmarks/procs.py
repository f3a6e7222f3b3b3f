"""Processes and their JSON event logs, for benchmarks that push many messages.

The processes and events machinery of the system tests (``tests/support.py``) is reused
as it is. What is added here: a tap that does not parse what it only needs to count, so
the benchmark's own process stays out of the way of a peer forwarding 10^4-10^5 messages a
second, and the resident set size of a process.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

from tests.support import ZGOSSIP, Events

#: Events counted, never parsed: one JSON line per message through a peer.
_COUNTED = b'"event":"gossip.'
#: What close() writes to end the reader (no node writes a line that is not JSON).
_END = b"\x00end"


class CountingTap(Events):
    """Reads one node's JSON event log from a FIFO; counts gossip events, parses the rest."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        os.mkfifo(path)
        self.path = path
        self.gossip_lines = 0
        # Read and write: never blocks opening, never sees an end until close() writes one.
        self._fd = os.open(path, os.O_RDWR)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        tail = b""
        while chunk := os.read(self._fd, 1 << 16):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            for line in lines:
                if line == _END:
                    return
                if _COUNTED in line:
                    self.gossip_lines += 1
                else:
                    self(json.loads(line))

    def close(self) -> None:
        """Call once the writer exited: the end marker is then the last line."""
        os.write(self._fd, _END + b"\n")
        self._thread.join(5)
        os.close(self._fd)


def cpu_seconds(pid: int) -> float:
    """CPU time a process used so far, all its threads (user and system), from the
    scheduler's own count in nanoseconds (``/proc/PID/task/*/schedstat``): ``/proc/PID/stat``
    counts 10 ms ticks, 167 us a message over 60 messages. A thread that ends takes its
    share with it, so read it around work that starts and ends no thread."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def cpu_of(pids: Iterable[int]) -> float:
    """CPU time these processes used so far, all together (see :func:`cpu_seconds`)."""
    return sum(map(cpu_seconds, pids))


def start_node(
    role: str, port: int, directory: Path, *flags: str, python_flags: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """``zgossip ROLE --port PORT FLAGS`` in ``directory``, its console to a file there.

    ``python_flags`` run it as ``python FLAGS -m zgossip`` instead (for a profiler).
    """
    command = [ZGOSSIP] if not python_flags else [_python(), *python_flags, "-m", "zgossip"]
    with open(directory / f"{role}-{port}.out", "wb") as out:
        return subprocess.Popen(
            [*command, role, "--port", str(port), *flags],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _python() -> str:
    return str(Path(ZGOSSIP).with_name("python"))


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10.0) -> None:
    """End a process of ours: SIGTERM (a node leaves cleanly), SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()
