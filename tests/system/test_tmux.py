"""bin/zgossip-tmux, for real: a tmux server of the test's own, panes read with capture-pane."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import LogTap, free_ports, write_config

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

LAUNCHER = str(Path(__file__).parents[2] / "bin" / "zgossip-tmux")
PEERS, MESSAGES = 3, 3


def _consecutive_free_ports(count: int) -> int:
    """A first port such that it and the next count-1 are free now."""
    for base in free_ports(20):
        if base + count > 65535:
            continue
        holders: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                holder = socket.socket()
                holders.append(holder)
                holder.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for holder in holders:
                holder.close()
    raise RuntimeError("no run of free ports found")


class Launcher:
    def __init__(self, directory: Path) -> None:
        self.env = {
            **os.environ,
            "ZGOSSIP": str(Path(sys.executable).with_name("zgossip")),
            "ZGOSSIP_TMUX_SOCKET": f"zgossip-test-{os.getpid()}",
        }
        self.directory = directory

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [LAUNCHER, *args],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.env["ZGOSSIP_TMUX_SOCKET"], *args],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launch = Launcher(tmp_path)
    yield launch
    launch("down")  # its nodes too, when the test failed before it stopped them: killing
    launch.tmux("kill-server")  # the server leaves a pane's node running


def test_launcher_runs_a_network_in_tmux_and_stops_it_cleanly(
    launcher: Launcher, tmp_path: Path
) -> None:
    seeds = free_ports(2)
    base = _consecutive_free_ports(PEERS)
    config = write_config(tmp_path / "config.txt", seeds)
    tap = LogTap(tmp_path / "logs")
    (tmp_path / "logs").mkdir()
    try:
        for port in seeds:
            tap.fifo(f"seed-127.0.0.1-{port}")
        for port in range(base, base + PEERS):
            tap.fifo(f"peer-127.0.0.1-{port}")
        timers = ["--gossip-interval", "0.3", "--gossip-count", str(MESSAGES)]
        up = launcher(
            "up", "--peers", str(PEERS), "--config", str(config), "--base-port", str(base),
            "--log-dir", str(tmp_path / "logs"), "--detach", *timers,  # before --, too
            "--", "--liveness-interval", "0.5", "--dissemination", "flood",
        )  # fmt: skip
        assert up.returncode == 0, up.stderr

        expected = (PEERS - 1) * MESSAGES
        peers = [f"127.0.0.1:{port}" for port in range(base, base + PEERS)]
        tap.wait_for(
            lambda: all(len(tap.of("gossip.received", p)) == expected for p in peers),
            timeout=60,
            what="every message at every peer",
        )
        assert launcher("up", "--config", str(config), "--detach").returncode == 1  # exists

        status = launcher("status")
        assert status.returncode == 0
        assert all(f"peer 127.0.0.1:{port}" in status.stdout for port in range(base, base + 3))
        titles = launcher.tmux("list-panes", "-s", "-t", "zgossip", "-F", "#{pane_title}")
        assert sorted(titles.split()) == sorted(
            ["seed"] * 2 + ["peer"] * PEERS + [f"127.0.0.1:{p}" for p in seeds] + peers
        )
        screen = launcher.tmux("capture-pane", "-p", "-J", "-t", "zgossip:0.2")
        assert "received" in screen and "sent" in screen
        for pane in range(len(seeds) + PEERS):  # compact lines, panes wide enough: no wraps
            joined = launcher.tmux("capture-pane", "-p", "-J", "-t", f"zgossip:0.{pane}")
            as_shown = launcher.tmux("capture-pane", "-p", "-t", f"zgossip:0.{pane}")
            assert joined.rstrip().splitlines() == as_shown.rstrip().splitlines()
            assert "127.0.0.1" not in as_shown.splitlines()[0][:30]  # no node before the event

        down = launcher("down")
        assert down.returncode == 0, down.stderr
        for peer in peers:
            tap.wait_event("stopped", node=peer)
        left = {e["peer"] for e in tap.of("peer.removed") if e["reason"] == "left"}
        assert left == set(peers)
        assert launcher("status").returncode == 1
    finally:
        tap.close()


def test_up_refuses_ports_in_use_and_starts_nothing(launcher: Launcher, tmp_path: Path) -> None:
    seeds = free_ports(2)
    config = write_config(tmp_path / "config.txt", seeds)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", seeds[1]))
        squatter.listen()
        up = launcher("up", "--peers", "1", "--config", str(config), "--detach")
    assert up.returncode == 1
    assert up.stderr == (
        f"zgossip: error: ports already in use, nothing started: seed 127.0.0.1:{seeds[1]} "
        f"(port {seeds[1]})\n"
    )
    assert launcher("status").returncode == 1  # no session


def test_nodes_that_fail_to_start_fail_up_and_status_and_down_stops_the_rest(
    launcher: Launcher, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.txt", free_ports(1))
    base = _consecutive_free_ports(2)
    up = launcher(
        "up", "--peers", "2", "--config", str(config), "--base-port", str(base), "--detach",
        "--", "--dissemination", "bogus",
    )  # fmt: skip
    assert up.returncode == 1
    assert f"2 node(s) failed to start: peer 127.0.0.1:{base} (exited with status 2)" in up.stderr
    status = launcher("status")
    assert status.returncode == 1
    assert status.stdout.count("exited with status 2 (pane kept open)") == 2
    assert status.stdout.count("running") == 1  # the seed
    down = launcher("down")
    assert down.returncode == 0, down.stderr
    assert "2 node(s) had exited already" in down.stdout
    assert launcher("status").returncode == 1


def test_launcher_errors_are_one_line_and_say_what_to_do(
    launcher: Launcher, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.txt", free_ports(1))
    bin_dir = tmp_path / "bin"  # bash and zgossip, no tmux
    bin_dir.mkdir()
    (bin_dir / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    no_tmux = {**launcher.env, "PATH": f"{bin_dir}:{Path(sys.executable).parent}"}
    result = subprocess.run(
        [LAUNCHER, "status"], env=no_tmux, capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stderr) == (
        1, "zgossip: error: tmux is not installed (no tmux on PATH)\n"
    )  # fmt: skip
    own = launcher("up", "--config", str(config), "--", "--port", "7000")
    assert own.returncode == 2 and "--port is set by the launcher" in own.stderr
    unknown = launcher("up", "--bogus")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("zgossip: error: No such option: --bogus")
    assert launcher("down").stderr == "zgossip: error: no tmux session 'zgossip' is running\n"


def _read_until(fd: int, wanted: bytes, timeout: float) -> bytes:
    """What a pty shows until ``wanted`` (or the timeout, or its end)."""
    seen, deadline = b"", time.monotonic() + timeout
    while wanted not in seen and (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_up_at_a_terminal_attaches_and_detaching_leaves_it_running(
    launcher: Launcher, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.txt", free_ports(1))
    base = _consecutive_free_ports(1)
    pid, fd = pty.fork()
    if pid == 0:  # the child: a user at a terminal
        os.chdir(tmp_path)
        os.execve(LAUNCHER, [LAUNCHER, "up", "--peers", "1", "--config", str(config),
                             "--base-port", str(base)], launcher.env)  # fmt: skip
    try:
        shown = _read_until(fd, b"zgossip*", 30)  # tmux drew its status line: attached
        assert b"zgossip: session 'zgossip': 1 seed(s), 1 peer(s)" in shown
        launcher.tmux("detach-client", "-s", "zgossip")  # as Ctrl-B d does
        assert b"[detached" in _read_until(fd, b"[detached", 30)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert launcher("status").returncode == 0  # still running, detached
    assert launcher("down").returncode == 0


def test_many_nodes_get_panes_in_columns(launcher: Launcher, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.txt", free_ports(6))
    base = _consecutive_free_ports(10)
    up = launcher(
        "up", "--peers", "10", "--config", str(config), "--base-port", str(base),
        "--detach", "--gossip-count", "0",
    )  # fmt: skip
    assert up.returncode == 0, up.stderr  # halving the last pane each time ran out at 5
    panes = launcher.tmux(
        "list-panes", "-s", "-t", "zgossip", "-F", "#{pane_left} #{pane_height} #{pane_title}"
    ).splitlines()
    lefts = {int(line.split()[0]) for line in panes}
    assert len(panes) == 16 and len(lefts) == 3  # the seeds' column, and two of peers
    assert all(int(line.split()[1]) >= 3 for line in panes)
    assert launcher("down").returncode == 0
