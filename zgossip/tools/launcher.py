"""``zgossip tmux up|down|status``: a whole network in one tmux session, a pane a node.

``up`` checks what it can before it starts anything (tmux, the config, the session name,
every node's port), starts the seeds of the config, waits until each is bound, then the
peers likewise, and says which nodes failed to start (exit 1), their panes kept open so
that their errors can be read. The seeds sit in a column on the left and the peers in
wider columns on the right; each pane is titled with its node's role and address, and
the nodes print compact console lines (``--compact``) that fit their panes.
``down`` stops the peers first (so that they tell their seeds they leave), then the seeds,
and closes the session, whatever of it still runs. ``status`` lists the panes, and exits 1
when a node is down.

The nodes are ``zgossip`` itself (``$ZGOSSIP`` if set, else this Python's ``-m zgossip``);
``$ZGOSSIP_TMUX_SOCKET`` picks a tmux server of its own (``tmux -L NAME``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from zgossip.protocol.config import Address, ConfigError
from zgossip.seedlist import parse_seeds

#: Seconds ``up`` waits for each group of nodes (seeds, then peers) to bind its ports.
START_WAIT = 10.0
#: Seconds ``down`` waits for each group (peers, then seeds) to exit before killing it.
STOP_WAIT = 5.0
#: The window when detached (columns, rows): wide enough for a column of seeds and two of
#: peers with lines that fit.
WINDOW = (200, 60)
#: Rows a peer's pane gets at least; more peers than fit go into another column.
PANE_ROWS = 7
#: The flags the launcher sets for every node itself.
OWN_FLAGS = ("--port", "--config", "--log-file", "--json-log")

#: What every pane runs: the node ("$@") under a bash that keeps the pane open when the
#: node fails, so that its error can be read (and marks the pane, for status and the
#: border). $0 is the pane's title. A TERM (from down) or HUP (tmux) ends it.
PANE_SCRIPT = """trap "exit 143" TERM
trap "exit 129" HUP
"$@"
status=$?
if ((status != 0)); then
    tmux set-option -p -t "${TMUX_PANE:-}" @zgossip-exit "${status}" 2>/dev/null || true
    printf "\\n%s exited with status %d; press Enter to close this pane\\n" "$0" "${status}"
    read -r _ || true
fi
exit "${status}"
"""


class LaunchError(Exception):
    """What went wrong, in one line for the user, and the exit code to leave with."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Node:
    role: str
    address: Address

    @property
    def title(self) -> str:
        return f"{self.role} {self.address}"


@dataclass(frozen=True, slots=True)
class Pane:
    role: str
    pid: int
    dead: bool
    failed: str  # the node's exit status when it failed and its pane is kept open
    title: str

    @property
    def state(self) -> str:
        if self.failed:
            return f"exited with status {self.failed} (pane kept open)"
        return "exited" if self.dead else "running"


class Tmux:
    """The tmux server the launcher talks to."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            raise LaunchError("tmux is not installed (no tmux on PATH)")
        socket_name = os.environ.get("ZGOSSIP_TMUX_SOCKET")
        self.command = ["tmux", "-L", socket_name] if socket_name else ["tmux"]
        version = self._run("-V").stdout
        numbers = version.removeprefix("tmux ").split(".")
        with contextlib.suppress(ValueError, IndexError):  # a version that does not parse
            if (int(numbers[0]), int(numbers[1][:1])) < (3, 2):
                raise LaunchError(f"tmux 3.2 or later is needed, found {version.strip()}")

    def __call__(self, *args: str) -> str:
        result = self._run(*args)
        if result.returncode != 0:
            raise LaunchError(f"tmux {args[0]}: {result.stderr.strip() or 'failed'}")
        return result.stdout

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL
        )

    def attach(self, session: str) -> None:
        """Show ``session`` in this terminal (from inside tmux: switch this client to it)."""
        if os.environ.get("TMUX") and len(self.command) == 1:  # inside this very server
            self("switch-client", "-t", f"={session}")
        else:  # the terminal's own: no output captured
            subprocess.run([*self.command, "attach-session", "-t", f"={session}"], check=False)

    def has(self, session: str) -> bool:
        return self._run("has-session", "-t", f"={session}").returncode == 0

    def panes(self, session: str) -> list[Pane]:
        fields = "#{@zgossip-role}|#{pane_pid}|#{pane_dead}|#{@zgossip-exit}|#{pane_title}"
        panes = []
        for line in self("list-panes", "-s", "-t", f"={session}", "-F", fields).splitlines():
            role, pid, dead, failed, title = line.split("|", 4)
            panes.append(Pane(role, int(pid), dead == "1", failed, title))
        return panes


def check_session(name: str) -> None:
    if not name:
        raise LaunchError("--session needs a non-empty name", 2)
    if "." in name or ":" in name:
        raise LaunchError(f"--session {name!r}: tmux session names cannot hold '.' or ':'", 2)


# -- up -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``up`` starts: the nodes, and the flags each role gets."""

    config: Path
    seeds: list[Node]
    peers: list[Node]
    seed_flags: list[str]  # the timer flags and -v, given to the seeds too
    peer_flags: list[str]  # those and everything after --
    log_dir: Path | None


def plan(
    config: Path,
    peers: int,
    base_port: int,
    node_flags: Sequence[str],
    extra: Sequence[str],
    log_dir: Path | None,
) -> Plan:
    """Check the options against each other and the config; what to start."""
    for flag in extra:
        if flag.split("=", 1)[0] in OWN_FLAGS:
            own = flag.split("=", 1)[0]
            raise LaunchError(
                f"{own} is set by the launcher for every node (use --base-port, --config "
                "or --log-dir instead of passing it after --)",
                2,
            )
    if any(flag.split("=", 1)[0] == "--metrics-port" for flag in extra) and peers > 1:
        raise LaunchError("--metrics-port after -- would give every peer the same port", 2)
    if peers and base_port + peers - 1 > 65535:
        raise LaunchError(f"{peers} peers from port {base_port} run past port 65535", 2)
    try:
        seeds = [Node("seed", address) for address in parse_seeds(config)]
    except ConfigError as exc:
        raise LaunchError(str(exc), 2) from None
    host = _peer_host(extra)
    timers = _timer_flags(extra)  # given after --, as before there was room for them
    nodes = [Node("peer", Address(host, port)) for port in range(base_port, base_port + peers)]
    for seed in seeds:
        if seed.address in {n.address for n in nodes}:
            raise LaunchError(
                f"peer port {seed.address.port} is the seed {seed.address}'s: pick another "
                "--base-port",
                2,
            )
    seed_flags = [*node_flags, *timers]
    return Plan(config.resolve(), seeds, nodes, seed_flags, [*node_flags, *extra], log_dir)


#: The flags seeds take too, given after --: the seeds time their checks by the same timers.
_TIMERS = ("--gossip-interval", "--gossip-count", "--liveness-interval", "--liveness-misses")


def _timer_flags(extra: Sequence[str]) -> list[str]:
    flags: list[str] = []
    for index, flag in enumerate(extra):
        if flag in _TIMERS and index + 1 < len(extra):
            flags += [flag, extra[index + 1]]
        elif flag.split("=", 1)[0] in _TIMERS or flag in ("-v", "--verbose"):
            flags.append(flag)
    return flags


def _peer_host(extra: Sequence[str]) -> str:
    for index, flag in enumerate(extra):
        if flag == "--host" and index + 1 < len(extra):
            return extra[index + 1]
        if flag.startswith("--host="):
            return flag.split("=", 1)[1]
    return "127.0.0.1"


def up(
    tmux: Tmux, session: str, planned: Plan, *, detach: bool, say: Callable[[str], None]
) -> None:
    """Start the planned network in ``session``, and attach unless ``detach`` (or stdin is
    no terminal); ``say`` tells the user what came of it. Raises LaunchError
    (exit 1) when a node's port is taken, nothing having started, or when nodes failed to
    start, their panes kept open."""
    check_session(session)
    if tmux.has(session):
        raise LaunchError(
            f"tmux session '{session}' already exists (stop it with: zgossip tmux down "
            f"--session {session})"
        )
    taken = [
        f"{n.title} (port {n.address.port})" for n in planned.seeds + planned.peers if not _free(n)
    ]
    if taken:
        raise LaunchError(f"ports already in use, nothing started: {', '.join(taken)}")
    if planned.log_dir is not None:
        try:
            planned.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = planned.log_dir
            raise LaunchError(f"cannot create the log directory {where}: {exc.strerror}") from None
    attach = not detach and sys.stdin.isatty()
    columns, rows = WINDOW
    if attach:
        columns, rows = shutil.get_terminal_size(WINDOW)
    layout = _Layout(tmux, session, columns, rows, len(planned.seeds), len(planned.peers))
    started = False
    try:
        for node in planned.seeds:
            layout.open(node, _command(node, planned, planned.seed_flags))
            started = True
        layout.arrange()
        failed = _wait_bound(tmux, session, planned.seeds)
        if not failed:
            for node in planned.peers:
                layout.open(node, _command(node, planned, planned.peer_flags))
            layout.arrange()
            failed = _wait_bound(tmux, session, planned.peers)
    except BaseException:
        if started:
            stop(tmux, session)
        raise
    if failed:
        raise LaunchError(
            f"{len(failed)} node(s) failed to start: {', '.join(failed)}; their panes stay "
            f"open (zgossip tmux down --session {session} stops the rest)"
        )
    say(f"session '{session}': {len(planned.seeds)} seed(s), {len(planned.peers)} peer(s)")
    if attach:
        tmux.attach(session)
        return
    how = " ".join(tmux.command)
    say(f"attach with: {how} attach -t {session}; stop with: zgossip tmux down --session {session}")


def _free(node: Node) -> bool:
    """Whether the node's port can be bound now (so its node can bind it)."""
    with socket.socket() as probe:
        # as libzmq binds: a port that only a closed connection holds (TIME_WAIT) is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((node.address.host, node.address.port))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise LaunchError(
                    f"cannot start {node.title} here: {node.address.host} is not an address "
                    "of this machine"
                ) from None
            return False
    return True


def _command(node: Node, planned: Plan, flags: list[str]) -> list[str]:
    zgossip = os.environ.get("ZGOSSIP")
    program = [zgossip] if zgossip else [sys.executable, "-m", "zgossip"]
    args = [node.role, "--port", str(node.address.port), "--config", str(planned.config)]
    if node.role == "seed":
        args += ["--host", node.address.host]
    if planned.log_dir is not None:
        stem = f"{node.role}-{node.address.host}-{node.address.port}"
        args += ["--log-file", str(planned.log_dir.resolve() / f"{node.role}_network.log")]
        args += ["--json-log", str(planned.log_dir.resolve() / f"{stem}.jsonl")]
    return ["bash", "-c", PANE_SCRIPT, node.title, *program, *args, "--compact", *flags]


class _Layout:
    """Panes in columns: the seeds on the left, two fifths of the width (80 of 200 columns:
    a seed's compact lines fit); the peers in as many columns as they need (``PANE_ROWS``
    rows each at least), sharing the rest (a peer's received lines take about 110)."""

    def __init__(
        self, tmux: Tmux, session: str, columns: int, rows: int, seeds: int, peers: int
    ) -> None:
        self._tmux, self._session = tmux, session
        self._size = (columns, rows)
        per_column = max(1, rows // PANE_ROWS)
        self._per_column = per_column
        # how many panes each column gets: the seeds', then the peers' columns
        self._heights = [seeds] + [
            min(per_column, peers - start) for start in range(0, peers, per_column)
        ]
        self._grid: list[list[str]] = []  # the panes of each column, top to bottom
        self._peers = 0

    def open(self, node: Node, command: list[str]) -> None:
        """A pane for ``node`` running ``command``, where its role's next one goes."""
        if not self._grid:
            columns, rows = self._size
            pane = self._tmux(
                "new-session", "-d", "-s", self._session, "-n", "zgossip", "-c", os.getcwd(),
                "-x", str(columns), "-y", str(rows), *self._env(), "-P", "-F", "#{pane_id}",
                *command,
            ).strip()  # fmt: skip
            self._window_options(pane)
            self._grid.append([pane])
        elif node.role == "peer" and self._peers % self._per_column == 0:
            # a new column, full height, on the right
            self._grid.append([self._split(self._grid[-1][0], "-hf", None, command, node)])
            self._peers += 1
        else:  # below the last of its column, which keeps a share for itself only
            column = self._grid[0] if node.role == "seed" else self._grid[-1]
            left = self._heights[len(self._grid) - 1 if node.role == "peer" else 0] - len(column)
            share = f"{100 * left // (left + 1)}%"
            column.append(self._split(column[-1], "-v", share, command, node))
            self._peers += node.role == "peer"
        pane = self._grid[0][-1] if node.role == "seed" else self._grid[-1][-1]
        self._tmux("select-pane", "-t", pane, "-T", node.title)
        self._tmux("set-option", "-p", "-t", pane, "@zgossip-role", node.role)

    def arrange(self) -> None:
        """Give each column its width and each pane of a column an equal share of rows."""
        columns, rows = self._size
        peer_columns = len(self._grid) - 1
        seed_width = columns * 2 // 5 if peer_columns else columns
        widths = [seed_width] + [(columns - seed_width) // max(1, peer_columns)] * peer_columns
        for column, width in zip(self._grid, widths, strict=True):
            self._tmux("resize-pane", "-t", column[0], "-x", str(width))
            for pane in column[:-1]:
                self._tmux("resize-pane", "-t", pane, "-y", str(rows // len(column)))

    def _split(
        self, target: str, how: str, share: str | None, command: list[str], node: Node
    ) -> str:
        """A pane split off ``target`` (``how``: -v below, -hf a full-height column on the
        right), taking ``share`` of it."""
        size = [] if share is None else ["-l", share]
        try:
            return self._tmux(
                "split-window", how, "-d", "-t", target, *size, "-c", os.getcwd(),
                *self._env(), "-P", "-F", "#{pane_id}", *command,
            ).strip()  # fmt: skip
        except LaunchError as exc:
            raise LaunchError(
                f"cannot open a pane for the {node.title}: {exc} (too many panes for the window?)"
            ) from None

    @staticmethod
    def _env() -> list[str]:
        return ["-e", f"PATH={os.environ.get('PATH', '')}"]

    def _window_options(self, pane: str) -> None:
        self._tmux("set-option", "-w", "-t", pane, "remain-on-exit", "off")
        self._tmux("set-option", "-w", "-t", pane, "pane-border-status", "top")
        border = " #{pane_title}#{?@zgossip-exit, (exited with status #{@zgossip-exit}),} "
        self._tmux("set-option", "-w", "-t", pane, "pane-border-format", border)


def _wait_bound(tmux: Tmux, session: str, nodes: list[Node]) -> list[str]:
    """Wait until every node's port is bound (or its pane says it exited); those that
    failed, as the user should read them, in the order the nodes were started (not the
    order their panes happened to be seen exit)."""
    waiting = {node.title: node for node in nodes}
    deadline = time.monotonic() + START_WAIT
    failed: dict[str, str] = {}  # title -> why
    while waiting and time.monotonic() < deadline:
        exited = {p.title: p for p in tmux.panes(session) if p.dead or p.failed}
        for title, node in list(waiting.items()):
            if title in exited:
                failed[title] = f"exited with status {exited[title].failed or '?'}"
                del waiting[title]
            elif not _free(node):
                del waiting[title]
        if waiting:
            time.sleep(0.05)  # polling a port: nothing to wait on
    failed.update((title, f"not listening after {START_WAIT:g} s") for title in waiting)
    return [f"{node.title} ({failed[node.title]})" for node in nodes if node.title in failed]


# -- down and status ------------------------------------------------------------------------


def stop(tmux: Tmux, session: str, say: Callable[[str], None] = lambda line: None) -> None:
    """Stop every node of ``session`` (peers first), then close it."""
    panes = [p for p in tmux.panes(session) if not p.dead]
    for role in ("peer", "seed"):
        group = [p.pid for p in panes if p.role == role]
        if group:
            say(f"stopping {len(group)} {role}(s)")
            lingering = _stop_group(group)
            if lingering:
                say(f"warning: {lingering} {role}(s) still running after {STOP_WAIT:g} s; killed")
    with contextlib.suppress(LaunchError):  # the last pane closing may have closed it
        tmux("kill-session", "-t", f"={session}")


def _stop_group(pids: list[int]) -> int:
    """SIGTERM each pane's process group, wait, SIGKILL what lingers; how many did."""
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT
    running = pids
    while running and time.monotonic() < deadline:
        live = _live_groups()
        running = [pid for pid in running if pid in live]
        if running:
            time.sleep(0.05)  # polling other processes' ends: nothing to wait on
    _signal(running, signal.SIGKILL)
    return len(running)


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _live_groups() -> set[int]:
    """The process groups with a member that is not a zombie (tmux can be slow to reap a
    node that exited): a pane's group is its shell's pid."""
    groups = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if fields[0] != "Z":
            groups.add(int(fields[2]))
    return groups


def down(tmux: Tmux, session: str, say: Callable[[str], None]) -> None:
    check_session(session)
    if not tmux.has(session):
        raise LaunchError(f"no tmux session '{session}' is running")
    exited = [p for p in tmux.panes(session) if p.dead or p.failed]
    if exited:
        say(f"{len(exited)} node(s) had exited already: {', '.join(p.title for p in exited)}")
    stop(tmux, session, say)
    say(f"session '{session}' stopped")


def status(tmux: Tmux, session: str) -> tuple[list[str], bool]:
    """The session's panes as lines to print; whether every node runs."""
    check_session(session)
    if not tmux.has(session):
        raise LaunchError(f"no tmux session '{session}' is running")
    panes = tmux.panes(session)
    lines = [f"session {session}", f"{'TITLE':<26} {'PID':<8} STATE"]
    lines += [f"{p.title:<26} {p.pid:<8} {p.state}" for p in panes]
    return lines, all(p.state == "running" for p in panes)
