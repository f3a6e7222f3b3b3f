"""config.txt parsing (errors say FILE:LINE: reason) and Config validation."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from zgossip.protocol.config import Address, Config, ConfigError
from zgossip.seedlist import parse_seeds


def _config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.txt"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        parse_seeds(path)
    message = str(info.value)
    assert "\n" not in message  # one line, as the CLI prints it
    return message


# -- parse_seeds: what it accepts -----------------------------------------------------------------


def test_one_seed_a_line_is_read_in_order(tmp_path: Path) -> None:
    path = _config_file(tmp_path, "127.0.0.1:5000\n127.0.0.1:5001\n10.1.2.3:65535\n")
    assert parse_seeds(path) == [
        Address("127.0.0.1", 5000),
        Address("127.0.0.1", 5001),
        Address("10.1.2.3", 65535),
    ]


def test_comments_blank_lines_and_trailing_comments_are_ignored(tmp_path: Path) -> None:
    text = (
        "# the seeds of the test network\n"
        "\n"
        "   \n"
        "127.0.0.1:5000   # first seed\n"
        "\t# an indented comment\n"
        "  127.0.0.1:5001\t\n"
        "127.0.0.1:5002#no space before the comment\n"
        "#127.0.0.1:5003\n"
        "\n"
    )
    assert [str(a) for a in parse_seeds(_config_file(tmp_path, text))] == [
        "127.0.0.1:5000",
        "127.0.0.1:5001",
        "127.0.0.1:5002",
    ]


def test_last_line_without_newline_is_read(tmp_path: Path) -> None:
    assert parse_seeds(_config_file(tmp_path, "127.0.0.1:5000")) == [Address("127.0.0.1", 5000)]


def test_windows_line_endings_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.txt"
    path.write_bytes(b"# seeds\r\n127.0.0.1:5000\r\n127.0.0.1:5001\r\n")
    assert [a.port for a in parse_seeds(path)] == [5000, 5001]


def test_address_string_is_identity_and_endpoint() -> None:
    address = Address.parse(" 10.0.0.7:6000 ")
    assert address == Address("10.0.0.7", 6000)
    assert str(address) == "10.0.0.7:6000"
    assert address.endpoint == "tcp://10.0.0.7:6000"


# -- parse_seeds: errors name the file and the line -----------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("300.1.1.1:5000", "'300.1.1.1' is not an IPv4 address"),
        ("localhost:5000", "'localhost' is not an IPv4 address"),
        ("1.2.3:5000", "'1.2.3' is not an IPv4 address"),
        ("127.0.0.1", "expected IP:PORT, got '127.0.0.1'"),
        ("127.0.0.1:", "port '' is not a number from 1 to 65535"),
        (":5000", "expected IP:PORT, got ':5000'"),
        ("127.0.0.1:0", "port '0' is not a number from 1 to 65535"),
        ("127.0.0.1:70000", "port '70000' is not a number from 1 to 65535"),
        ("127.0.0.1:65536", "port '65536' is not a number from 1 to 65535"),
        ("127.0.0.1:http", "port 'http' is not a number from 1 to 65535"),
        ("127.0.0.1:50a0", "port '50a0' is not a number from 1 to 65535"),
        ("127.0.0.1:-5", "port '-5' is not a number from 1 to 65535"),
        ("127.0.0.1:5000 5001", "port '5000 5001' is not a number from 1 to 65535"),
    ],
    ids=repr,
)
def test_bad_line_is_reported_with_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = _config_file(tmp_path, f"# seeds\n127.0.0.1:4000\n\n{line}  # the bad one\n")
    assert _error(path) == f"{path}:4: {reason}"


def test_duplicate_seed_is_reported_on_its_second_line(tmp_path: Path) -> None:
    path = _config_file(tmp_path, "127.0.0.1:5000\n127.0.0.1:5001\n# again:\n127.0.0.1:5000\n")
    assert _error(path) == f"{path}:4: seed 127.0.0.1:5000 is listed twice"


def test_same_port_spelt_differently_is_a_duplicate(tmp_path: Path) -> None:
    path = _config_file(tmp_path, "127.0.0.1:5000\n127.0.0.1:05000\n")
    assert _error(path).startswith(f"{path}:2: ")


def test_first_bad_line_is_the_one_reported(tmp_path: Path) -> None:
    path = _config_file(tmp_path, "127.0.0.1:5000\nbad\nworse:0\n")
    assert _error(path).startswith(f"{path}:2: ")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = _config_file(tmp_path, "")
    assert _error(path) == f"{path}: no seeds listed (expected IP:PORT lines)"


def test_file_of_comments_only_is_an_error(tmp_path: Path) -> None:
    path = _config_file(tmp_path, "# nothing here\n\n   # still nothing\n")
    assert "no seeds listed" in _error(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.txt"
    message = _error(path)
    assert message.startswith(f"{path}: cannot read config")


def test_directory_is_a_config_error(tmp_path: Path) -> None:
    assert _error(tmp_path).startswith(f"{tmp_path}: cannot read config")


def test_unreadable_file_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 0 does not stop root, so the refusal is the operating system's, simulated.
    path = _config_file(tmp_path, "127.0.0.1:5000\n")

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    assert _error(path) == f"{path}: cannot read config: {os.strerror(errno.EACCES)}"


def test_binary_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.txt"
    path.write_bytes(b"127.0.0.1:5000\n\xff\xfe\x00\x01\n")
    assert _error(path) == f"{path}: not a UTF-8 text file"


# -- Config ---------------------------------------------------------------------------------------


def _seeds(n: int) -> list[Address]:
    return [Address("127.0.0.1", 5000 + i) for i in range(n)]


@pytest.mark.parametrize(("n", "quorum"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_quorum_is_a_strict_majority_of_the_seeds(n: int, quorum: int) -> None:
    config = Config(seeds=_seeds(n))
    assert config.quorum == quorum == n // 2 + 1


def test_defaults_are_the_assignment_numbers() -> None:
    config = Config()
    assert config.gossip_interval == 5.0
    assert config.gossip_count == 10
    assert config.liveness_interval == 13.0
    assert config.liveness_misses == 3


def test_tiny_timers_are_accepted() -> None:
    config = Config(gossip_interval=0.1, liveness_interval=0.1, liveness_misses=1, gossip_count=0)
    assert config.request_timeout == 0.1


def test_request_timeout_is_at_most_two_seconds() -> None:
    assert Config(liveness_interval=13.0).request_timeout == 2.0


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"gossip_count": -2}, "--gossip-count"),
        ({"gossip_interval": 0.0}, "--gossip-interval"),
        ({"gossip_interval": -1.0}, "--gossip-interval"),
        ({"liveness_interval": 0.0}, "--liveness-interval"),
        ({"liveness_interval": -0.5}, "--liveness-interval"),
        ({"liveness_misses": 0}, "--liveness-misses"),
        ({"liveness_misses": -3}, "--liveness-misses"),
        ({"links": 0}, "links"),
    ],
    ids=repr,
)
def test_bad_options_are_config_errors(options: dict[str, float], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**options)  # type: ignore[arg-type]
    assert needle in str(info.value)


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), 0.0, -1.0])
def test_timers_must_be_positive_finite_numbers(seconds: float) -> None:
    with pytest.raises(ConfigError, match="--liveness-interval must be a positive, finite"):
        Config(liveness_interval=seconds)
    with pytest.raises(ConfigError, match="--gossip-interval must be a positive, finite"):
        Config(gossip_interval=seconds)


def test_presets_name_the_timers_of_a_kind_of_network_and_keywords_win() -> None:
    assert Config.lan() == Config()  # the assignment's numbers
    local, wan = Config.local(), Config.wan()
    assert (local.gossip_interval, local.liveness_interval, local.liveness_misses) == (0.05, 0.1, 3)
    assert wan.death_window > Config.lan().death_window > local.death_window
    assert Config.local(liveness_interval=0.3, gossip_count=0).liveness_interval == 0.3


def test_a_passive_view_and_a_shuffle_of_no_size_are_refused_in_one_line() -> None:
    assert Config(passive_size=0).passive_size == 0  # no backups: allowed
    with pytest.raises(ConfigError, match="shuffle_size and shuffle_rounds at least 1"):
        Config(shuffle_size=0)
    with pytest.raises(ConfigError, match="passive_size must be 0 or more"):
        Config(passive_size=-1)
