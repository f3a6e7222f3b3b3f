"""CurveZMQ from the command line: ``zgossip keygen``, and a network run with the keys it made."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq.auth

from tests.support import Cluster, free_ports, one_line_error, run_zgossip
from zgossip import security
from zgossip.protocol.config import Address

pytestmark = pytest.mark.system


def _keygen(cwd: Path, *args: str) -> None:
    result = run_zgossip("keygen", "--dir", "keys", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[Cluster, list[str]]]:
    """A cluster directory whose 3 seeds, 2 peers and an ``admin`` client have keys (made by
    what ``zgossip keygen`` runs), all allowed; the peers' addresses. Nothing runs yet."""
    cluster = Cluster(tmp_path, seeds=3)
    peers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    keys, allow = tmp_path / "keys", tmp_path / "allow"
    keys.mkdir(), allow.mkdir()
    for address in [*cluster.seeds, *peers]:
        shutil.copy(security.keygen(keys, address=Address.parse(address))[0], allow)
    shutil.copy(security.keygen(keys, name="admin")[0], allow)
    try:
        yield cluster, peers
    finally:
        cluster.close()
    assert not cluster.tap.of("internal.error"), cluster.tap.of("internal.error")


def _public(certificate: Path) -> str:
    public, _ = zmq.auth.load_certificate(certificate)
    return public.decode()


def _flags(address: str) -> list[str]:
    secret = f"keys/{address.replace(':', '-')}.key_secret"
    return ["--curve-secret", secret, "--curve-allow", "allow"]


def test_curve_network_of_processes_gossips_and_answers_only_keyed_queries(
    keyed: tuple[Cluster, list[str]],
) -> None:
    cluster, peers = keyed
    for seed in cluster.seeds:
        cluster.start("seed", seed, *_flags(seed))
    for seed in cluster.seeds:
        cluster.tap.wait_event("started", node=seed)
    for peer in peers:
        cluster.start("peer", peer, "--gossip-count", "3", *_flags(peer))
    tap = cluster.tap
    tap.wait_for(
        lambda: all(len(tap.of("gossip.received", p)) >= 3 for p in peers),
        timeout=30,
        what="each peer's 3 messages at the other",
    )
    admin = ["--curve-secret", "keys/admin.key_secret", "--curve-allow", "allow"]
    shown = run_zgossip("peers", "--json", "--links", *admin, cwd=cluster.directory)
    assert shown.returncode == 0, shown.stderr
    for peer in peers:
        assert shown.stdout.count(f'"peer": "{peer}"') >= 2  # listed by a majority of seeds
    unkeyed = run_zgossip("peers", "--timeout", "0.5", cwd=cluster.directory)
    assert unkeyed.returncode == 1
    assert "no seed of config.txt answered" in one_line_error(unkeyed)
    assert not tap.of("auth.denied")
    said = run_zgossip("send", "--via", peers[0], "keyed hello", *admin, cwd=cluster.directory)
    assert said.returncode == 0 and said.stdout.startswith(f"{peers[0]} took it"), said.stderr
    tap.wait_event("gossip.received", node=peers[1], body="keyed hello")


def test_a_key_added_while_the_network_runs_is_taken_and_sighup_reads_at_once(
    keyed: tuple[Cluster, list[str]],
) -> None:
    cluster, _ = keyed
    (seed, *_) = cluster.seeds
    proc = cluster.start("seed", seed, *_flags(seed))
    cluster.tap.wait_event("started", node=seed)
    late = security.keygen(cluster.directory / "keys", name="late")[0]
    shutil.copy(late, cluster.directory / "allow")
    proc.send_signal(signal.SIGHUP)
    changed = cluster.tap.wait_event("keys.changed", node=seed)
    assert changed["added"] == [_public(late)] and changed["removed"] == []
    late_flags = ["--curve-secret", "keys/late.key_secret", "--curve-allow", "allow"]
    shown = run_zgossip("peers", "--json", *late_flags, cwd=cluster.directory)
    assert shown.returncode == 0, shown.stderr  # the first seed answers it now
    assert proc.poll() is None  # SIGHUP did not stop it


def test_keygen_refuses_to_overwrite_and_rejects_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    _keygen(tmp_path, "--address", "127.0.0.1:5001")
    public = tmp_path / "keys" / "127.0.0.1-5001.key"
    before = public.read_text()
    assert 'address = "127.0.0.1:5001"' in before
    again = run_zgossip("keygen", "--dir", "keys", "--address", "127.0.0.1:5001", cwd=tmp_path)
    assert again.returncode == 2 and "exist already" in one_line_error(again)
    _keygen(tmp_path, "--address", "127.0.0.1:5001", "--force")
    assert public.read_text() != before
    for args, reason in [
        ([], "either --address"),
        (["--address", "localhost:5001"], "not an IPv4 address"),
        (["--name", "../x"], "letters, digits"),
    ]:
        result = run_zgossip("keygen", "--dir", "keys", *args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert reason in one_line_error(result), args


def test_bad_curve_flags_are_one_line_errors_with_exit_2(
    keyed: tuple[Cluster, list[str]],
) -> None:
    cluster, peers = keyed
    (cluster.directory / "empty").mkdir()
    cases = [  # role, flags, what the error says; each role meets a few of them
        ("seed", ["--curve-secret", "{secret}"], "go together"),
        ("peer", ["--curve-allow", "allow"], "go together"),
        ("peers", ["--curve-secret", "keys/nope", "--curve-allow", "allow"], "no such file"),
        ("seed", ["--curve-secret", "{public}", "--curve-allow", "allow"], "no secret key"),
        ("peer", ["--curve-secret", "{secret}", "--curve-allow", "nope"], "not a directory"),
        ("peers", ["--curve-secret", "{secret}", "--curve-allow", "empty"], "no public cert"),
    ]
    for role, flags, reason in cases:
        address = cluster.seeds[0] if role == "seed" else peers[0]
        secret = f"keys/{address.replace(':', '-')}.key_secret"
        args = [f.format(secret=secret, public=secret.removesuffix("_secret")) for f in flags]
        port = ["--port", address.rpartition(":")[2]] if role != "peers" else []
        result = run_zgossip(role, *port, *args, cwd=cluster.directory)
        assert result.returncode == 2, (role, flags, result.stderr)
        assert reason in one_line_error(result), (role, flags)
