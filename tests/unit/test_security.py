"""Key files, the allow directory and the refusal log: the parts of CURVE with no network."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import zmq

from zgossip import ConfigError, security
from zgossip.protocol.config import Address


def test_keygen_writes_a_private_secret_and_a_public_certificate_naming_the_address(
    tmp_path: Path,
) -> None:
    public, secret = security.keygen(tmp_path, address=Address("10.0.0.7", 6001))
    assert (public.name, secret.name) == ("10.0.0.7-6001.key", "10.0.0.7-6001.key_secret")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert security.read_metadata(public) == {"address": "10.0.0.7:6001"}
    key, none = zmq.auth.load_certificate(public)
    assert none is None and zmq.auth.load_certificate(secret)[0] == key
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([public.name, secret.name])


def test_keygen_keeps_existing_keys_unless_forced(tmp_path: Path) -> None:
    public, _ = security.keygen(tmp_path, name="admin")
    before = public.read_text()
    with pytest.raises(ConfigError, match="exist already"):
        security.keygen(tmp_path, name="admin")
    assert public.read_text() == before
    security.keygen(tmp_path, name="admin", force=True)
    assert public.read_text() != before


@pytest.mark.parametrize(
    ("address", "name", "reason"),
    [(None, None, "either"), (Address("127.0.0.1", 1), "x", "either"), (None, "../x", "letters")],
)
def test_keygen_wants_an_address_or_a_plain_name(
    tmp_path: Path, address: Address | None, name: str | None, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason):
        security.keygen(tmp_path, address=address, name=name)


def test_metadata_is_read_quoted_or_bare_and_only_from_its_section(tmp_path: Path) -> None:
    cert = tmp_path / "x.key"
    cert.write_text(
        "#  comment\nmetadata\n    address = '10.0.0.1:1'\n    name = bare # note\n"
        '    quoted = "a # b"\ncurve\n    public-key = "k"\n    address = "not metadata"\n'
    )
    assert security.read_metadata(cert) == {
        "address": "10.0.0.1:1",
        "name": "bare",
        "quoted": "a # b",
    }


def test_allow_directory_maps_addresses_to_keys_and_rejects_two_keys_for_one(
    tmp_path: Path,
) -> None:
    keys, allow = tmp_path / "keys", tmp_path / "allow"
    keys.mkdir(), allow.mkdir()
    public, secret = security.keygen(keys, address=Address("127.0.0.1", 5001))
    client, _ = security.keygen(keys, name="admin")
    for cert in (public, client):
        (allow / cert.name).write_bytes(cert.read_bytes())
    curve = security.Curve.load(secret, allow, "127.0.0.1:5001")
    assert curve.servers == {"127.0.0.1:5001": zmq.auth.load_certificate(public)[0]}
    other, _ = security.keygen(keys, address=Address("127.0.0.1", 5002))
    (allow / "copy.key").write_text(other.read_text().replace("127.0.0.1:5002", "127.0.0.1:5001"))
    with pytest.raises(ConfigError, match=r"two different keys for 127\.0\.0\.1:5001"):
        security.Curve.load(secret, allow)


def test_bad_keys_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    allow = tmp_path / "allow"
    allow.mkdir()
    public, secret = security.keygen(tmp_path, name="admin")
    (allow / public.name).write_bytes(public.read_bytes())
    broken = tmp_path / "broken.key_secret"
    broken.write_text('curve\n    public-key = "short"\n    secret-key = "short"\n')
    with pytest.raises(ConfigError, match=r"broken.key_secret: the public key is not"):
        security.Curve.load(broken, allow)
    (allow / "bad.key").write_text("metadata\n    address = 1.2.3.4:5\n")
    with pytest.raises(ConfigError, match=r"bad.key: cannot read key"):
        security.Curve.load(secret, allow)
