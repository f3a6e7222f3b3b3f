"""What a user sees from the ``zgossip`` command when they get something wrong."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ZGOSSIP, free_ports, one_line_error, run_zgossip, write_config
from zgossip import Seed
from zgossip.protocol.config import Address, Config

pytestmark = pytest.mark.system


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("127.0.0.1", "expected IP:PORT"),
        ("127.0.0.1:99999", "port '99999' is not a number from 1 to 65535"),
        ("localhost:5000", "is not an IPv4 address"),
        ("127.0.0.1:5001", "listed twice"),
    ],
)
@pytest.mark.parametrize("role", ["seed", "peer"])
def test_bad_config_line_exits_2_naming_file_and_line(
    tmp_path: Path, role: str, line: str, reason: str
) -> None:
    (tmp_path / "config.txt").write_text(f"# seeds\n127.0.0.1:5001\n\n{line}\n")
    result = run_zgossip(role, "--port", "5001", cwd=tmp_path)
    assert result.returncode == 2
    error = one_line_error(result)
    assert "config.txt:4: " in error and reason in error


def test_missing_config_exits_2(tmp_path: Path) -> None:
    result = run_zgossip("peer", "--port", "6000", "--config", "nope.txt", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.txt" in one_line_error(result)


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    config = write_config(tmp_path / "config.txt", [port])
    with Seed(Config(seeds=[Address("127.0.0.1", port)], address=Address("127.0.0.1", port))):
        for role in ("seed", "peer"):
            result = run_zgossip(role, "--port", str(port), "--config", str(config), cwd=tmp_path)
            assert result.returncode == 1
            assert f"port {port} on 127.0.0.1 is already in use" in one_line_error(result)


def test_peer_without_port_and_no_terminal_exits_2(tmp_path: Path) -> None:
    write_config(tmp_path / "config.txt", [5001])
    result = run_zgossip("peer", cwd=tmp_path)
    assert result.returncode == 2
    assert "--port is required" in one_line_error(result)


@pytest.mark.parametrize(
    ("tag", "said"),
    [
        ("role", "--tag 'role': expected KEY=VALUE"),
        ("=db", "--tag: a tag key is 1 to 128 characters"),
        (f"big={'x' * 5000}", "--tag: tags take 5003 bytes, over the 4096-byte limit"),
    ],
)
def test_a_bad_tag_is_a_one_line_error_and_exit_2(tmp_path: Path, tag: str, said: str) -> None:
    write_config(tmp_path / "config.txt", [5001])
    result = run_zgossip("peer", "--port", str(free_ports(1)[0]), "--tag", tag, cwd=tmp_path)
    assert result.returncode == 2
    assert said in one_line_error(result)


def test_seed_not_in_config_is_warned_about(tmp_path: Path) -> None:
    listed, unlisted = free_ports(2)
    write_config(tmp_path / "config.txt", [listed])
    proc = subprocess.Popen(
        [ZGOSSIP, "seed", "--port", str(unlisted)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        warning = proc.stderr.readline()
        assert f"127.0.0.1:{unlisted} is not listed in config.txt" in warning
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        finally:  # it did not leave in time: it is still not left running
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("command", ["peers", "members"])
def test_peers_and_members_with_no_seed_answering_exit_1(tmp_path: Path, command: str) -> None:
    write_config(tmp_path / "config.txt", free_ports(2))
    result = run_zgossip(command, "--timeout", "0.2", cwd=tmp_path)
    assert result.returncode == 1
    assert "no seed of config.txt answered" in one_line_error(result)


def test_module_entry_point_and_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zgossip", "--version"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and result.stdout.startswith("zgossip ")
    assert result.stdout.rstrip().endswith((", compiled (mypyc)", ", pure Python"))
    helped = run_zgossip("peer", "--help", cwd=tmp_path)
    for flag in ("--gossip-interval", "--gossip-count", "--liveness-interval", "--liveness-misses",
                 "--log-file", "--json-log", "--host", "--config", "--port",
                 "--dissemination"):  # fmt: skip
        assert flag in helped.stdout
    (verbose,) = [line for line in helped.stdout.splitlines() if "--verbose" in line]
    assert "<int>" not in verbose and "default" not in verbose  # a flag: it takes no value


@pytest.mark.parametrize("value", ["nan", "inf"])  # -inf: below the range, typer says so
@pytest.mark.parametrize("flag", ["--gossip-interval", "--liveness-interval"])
@pytest.mark.parametrize("role", ["seed", "peer"])
def test_a_timer_that_is_not_a_finite_number_is_a_one_line_error(
    tmp_path: Path, role: str, flag: str, value: str
) -> None:
    port = free_ports(1)[0]
    write_config(tmp_path / "config.txt", [port])
    result = run_zgossip(role, "--port", str(port), flag, value, cwd=tmp_path)
    assert result.returncode == 2
    error = one_line_error(result)
    assert flag in error and "finite" in error


@pytest.mark.parametrize(
    "args",
    [
        ("peers", "--timeout", "nan"),
        ("members", "--timeout", "inf"),
        ("monitor", "127.0.0.1:1", "--timeout", "nan"),
        ("send", "--via", "127.0.0.1:1", "x", "--timeout", "inf"),
        ("simulate", "--latency", "nan"),
        ("simulate", "--fail", "nan"),
        ("tmux", "up", "--liveness-interval", "inf"),
    ],
)
def test_every_float_flag_refuses_nan_and_inf_in_one_line(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    write_config(tmp_path / "config.txt", free_ports(1))
    result = run_zgossip(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert (
        f"is not a finite number (see zgossip {' '.join(args[: 2 if args[0] == 'tmux' else 1])}"
        in one_line_error(result)
    )


def test_the_port_prompt_asks_again_until_it_gets_a_port(tmp_path: Path) -> None:
    write_config(tmp_path / "config.txt", [5001])
    controller, terminal = pty.openpty()
    log = tmp_path / "no-such-dir" / "peer.log"  # so the peer stops right after the prompt
    with subprocess.Popen(
        [ZGOSSIP, "peer", "--log-file", str(log)],
        cwd=tmp_path, stdin=terminal, stdout=terminal, stderr=terminal,
    ) as proc:  # fmt: skip
        os.close(terminal)
        os.write(controller, b"abc\n99999\n6001\n")
        assert proc.wait(30) == 2  # the log file's error: it got past the prompt
        said = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            said += chunk
    os.close(controller)
    text = said.decode(errors="replace")
    assert text.count("Port for this peer") == 3
    assert "99999 is not a port from 1 to 65535" in text and "no-such-dir" in text


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["peer", "--port", "99999"], "Invalid value for '--port'"),
        (["peer", "--bogus"], "No such option: --bogus"),
        (["simulate", "--fail", "2"], "Invalid value for '--fail'"),
        (["nonsense"], "No such command 'nonsense'"),
    ],
)
def test_typer_s_usage_errors_are_one_line_errors_like_ours(
    tmp_path: Path, args: list[str], reason: str
) -> None:
    result = run_zgossip(*args, cwd=tmp_path)
    assert result.returncode == 2
    error = one_line_error(result)
    assert error.startswith("zgossip: error: ") and reason in error


def test_a_node_on_a_terminal_leaves_on_hangup(tmp_path: Path) -> None:
    """SIGHUP is a hangup for a node on a terminal (a closed tmux pane, an ssh session
    gone): it leaves, as it did before SIGHUP meant "read the keys again" to daemons."""
    port = free_ports(1)[0]
    write_config(tmp_path / "config.txt", [port])
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [ZGOSSIP, "seed", "--port", str(port)],
        cwd=tmp_path, stdin=terminal, stdout=terminal, stderr=terminal,
    ) as proc:  # fmt: skip
        try:
            os.close(terminal)
            said = b""
            while b"started" not in said:  # up, its signal handlers set
                said += os.read(controller, 4096)
            proc.send_signal(signal.SIGHUP)
            assert proc.wait(30) == 0
            with contextlib.suppress(OSError):  # the terminal may be gone with it
                said += os.read(controller, 4096)
        finally:
            if proc.poll() is None:  # a node that did not leave is not waited for forever
                proc.kill()
    os.close(controller)
    assert b"stopped" in said
