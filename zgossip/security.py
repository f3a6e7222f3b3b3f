"""CurveZMQ for a whole network: key files, who is allowed in, and the options on each socket.

Every node has a key pair of its own; the *allow directory* holds the public
certificate of every node (and client) let into the network. A CURVE client must
know its server's public key before it connects, so each node's public
certificate names the node's address in its metadata (``address = "IP:PORT"``):
reading the allow directory gives both the keys to accept and the key of every
address to connect to, with no change to the protocol.

Servers (every ROUTER and a peer's XPUB) take only clients whose key is in the
allow directory: pyzmq's :class:`~zmq.auth.base.Authenticator` answers the ZAP
requests, driven by the node's own poller (one thread a node), never by a thread
of its own.

Without a key pair nothing here runs, and the wire is exactly as it was.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
from zmq.auth.base import Authenticator
from zmq.auth.certs import create_certificates, load_certificate
from zmq.utils import z85

from zgossip.protocol.config import Address, Config, ConfigError, curve_pair

#: What ``zgossip keygen`` names the files: ``<stem>.key`` (public) and ``<stem>.key_secret``.
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
#: A z85-encoded CURVE key: 32 bytes as 40 characters.
_KEY_LENGTH = 40
#: Characters a ``--name`` may use: it becomes a file name.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


# -- key files ------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def is_local(ip: str | None) -> bool:
    """Whether ``ip`` is an address of this machine (loopback, or one it can bind)."""
    if ip is None:
        return False
    try:
        if ipaddress.ip_address(ip).is_loopback:
            return True
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((ip, 0))
    except (OSError, ValueError):
        return False
    return True


def key_stem(address: Address | None = None, name: str | None = None) -> str:
    """The file stem of a node's keys (``IP-PORT``) or a client's (``NAME``)."""
    if (address is None) == (name is None):
        raise ConfigError("give either --address IP:PORT (a node) or --name NAME (a client)")
    if address is not None:
        return f"{address.host}-{address.port}"
    assert name is not None
    if not name or not set(name) <= _NAME_CHARS or name.startswith("."):
        raise ConfigError(f"--name {name!r}: use letters, digits, '.', '_' and '-' only")
    return name


def keygen(
    directory: Path,
    *,
    address: Address | None = None,
    name: str | None = None,
    force: bool = False,
) -> tuple[Path, Path]:
    """Write a new key pair into ``directory``; return (public certificate, secret file).

    The public certificate carries the node's ``address`` in its metadata, which is how
    other nodes find the key to connect to it. The pair is made in a private temporary
    directory and moved into place, so a secret file is never readable by others and a
    failure leaves no half-written pair. Existing keys are kept unless ``force``.
    """
    stem = key_stem(address, name)
    public, secret = directory / f"{stem}{PUBLIC_SUFFIX}", directory / f"{stem}{SECRET_SUFFIX}"
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such directory")
    existing = [str(path) for path in (public, secret) if path.exists()]
    if existing and not force:
        raise ConfigError(f"{' and '.join(existing)} exist already (--force replaces them)")
    metadata = {"address": str(address)} if address is not None else None
    try:
        with tempfile.TemporaryDirectory(dir=directory, prefix=".keygen-") as scratch:
            made_public, made_secret = map(Path, create_certificates(scratch, stem, metadata))
            made_secret.chmod(0o600)
            if metadata is not None:  # pyzmq writes metadata into the secret file only
                _add_metadata(made_public, metadata)
            os.replace(made_secret, secret)
            os.replace(made_public, public)
    except OSError as exc:
        raise ConfigError(f"{directory}: cannot write keys: {exc.strerror or exc}") from None
    return public, secret


def _add_metadata(certificate: Path, metadata: dict[str, str]) -> None:
    """Put ``metadata`` into the (empty) metadata section of a pyzmq certificate."""
    lines = certificate.read_text(encoding="utf-8").splitlines(keepends=True)
    entries = [f'    {key} = "{value}"\n' for key, value in metadata.items()]
    at = lines.index("metadata\n") + 1  # pyzmq always writes the section, empty here
    certificate.write_text("".join(lines[:at] + entries + lines[at:]), encoding="utf-8")


def read_metadata(certificate: Path) -> dict[str, str]:
    """The ``metadata`` section of a ZPL certificate (pyzmq's loader reads only the keys).

    ZPL: a section name starts a line; its entries are indented ``name = value`` lines,
    the value quoted (``"..."`` or ``'...'``) or bare up to a ``#`` comment.
    """
    section = None
    found: dict[str, str] = {}
    for line in certificate.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not line[0].isspace():
            section = text.split("#", 1)[0].strip()
        elif section == "metadata" and "=" in text:
            key, _, value = text.partition("=")
            found[key.strip()] = _zpl_value(value.strip())
    return found


def _zpl_value(text: str) -> str:
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        return text[1:end] if end > 0 else text[1:]
    return text.split("#", 1)[0].strip()


def _check_key(key: bytes | None, path: Path, what: str) -> bytes:
    """``key`` when it is a well-formed z85 CURVE key; else a one-line error naming ``path``."""
    if key is None:
        raise ConfigError(f"{path}: no {what} key in it")
    if len(key) != _KEY_LENGTH or not set(key) <= set(z85.Z85CHARS):
        raise ConfigError(f"{path}: the {what} key is not a 40-character z85 CURVE key")
    return key


def _load(path: Path) -> tuple[bytes | None, bytes | None]:
    try:
        return load_certificate(path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "no public key"
        if not path.exists():
            reason = "no such file"
        raise ConfigError(f"{path}: cannot read key: {reason}") from None


# -- the network's keys ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Curve:
    """One node's (or client's) keys and the allow directory's address -> public key map."""

    public: bytes
    secret: bytes
    allow: Path
    #: Each node's public key by its address (z85), from the allow directory's metadata.
    servers: dict[str, bytes]

    @classmethod
    def load(cls, secret_file: Path, allow: Path, own: str | None = None) -> Curve:
        """Read the secret file and the allow directory; ConfigError on anything wrong.

        ``own`` is the loading node's address: its certificate in the allow directory, if
        there is one, must hold this very key, or every other node would refuse it.
        """
        public, secret = _load(secret_file)
        public = _check_key(public, secret_file, "public")
        secret = _check_key(secret, secret_file, "secret")
        servers = _servers(allow)
        if own is not None and servers.get(own, public) != public:
            raise ConfigError(f"{secret_file} does not match the certificate of {own} in {allow}")
        return cls(public, secret, allow, servers)

    def serve(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` a CURVE server (before it binds): clients must know our key."""
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public)

    def client(self, sock: zmq.Socket[bytes], target: str) -> bool:
        """Make ``sock``'s next connect a CURVE client of ``target`` (an ``IP:PORT``).

        The server key applies to connects made after it is set, so a SUB can connect to
        several PUBs, setting each one's key first. False when ``target`` has no certificate.
        """
        server = self.servers.get(target)
        if server is None:
            return False
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret)
        sock.setsockopt(zmq.CURVE_SERVERKEY, server)
        return True


def _servers(allow: Path) -> dict[str, bytes]:
    """Every allowed node's key by the address in its certificate; errors name the file."""
    if not allow.is_dir():
        raise ConfigError(f"{allow}: not a directory (--curve-allow takes the allow directory)")
    certificates = sorted(allow.glob(f"*{PUBLIC_SUFFIX}"))  # what the Authenticator reads
    if not certificates:
        raise ConfigError(f"{allow}: no public certificates (*{PUBLIC_SUFFIX}) in it")
    servers: dict[str, bytes] = {}
    for certificate in certificates:
        key = _check_key(_load(certificate)[0], certificate, "public")
        try:
            where = read_metadata(certificate).get("address")
        except (OSError, UnicodeDecodeError):
            raise ConfigError(f"{certificate}: not a readable certificate") from None
        if where is None:
            continue  # a client's certificate (keygen --name): allowed in, not connected to
        try:
            address = str(Address.parse(where))
        except ValueError as exc:
            raise ConfigError(f"{certificate}: address: {exc}") from None
        if servers.setdefault(address, key) != key:
            raise ConfigError(f"{allow}: two different keys for {address}")
    return servers


def signature(allow: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a certificate is added to, removed from or rewritten in ``allow``:
    cheap to take, so a node can look every second."""
    try:
        found = [(p.name, p.stat()) for p in allow.glob(f"*{PUBLIC_SUFFIX}")]
    except OSError:
        return ()
    return tuple(sorted((name, stat.st_mtime_ns, stat.st_size) for name, stat in found))


def load(secret: Path | None, allow: Path | None, own: str | None = None) -> Curve | None:
    """The keys given by ``--curve-secret`` and ``--curve-allow`` (both or neither), or None
    for a network in the clear; ``own`` is the loading node's address (see Curve.load)."""
    pair = curve_pair(secret, allow)
    return None if pair is None else Curve.load(*pair, own)


def from_config(config: Config) -> Curve | None:
    """The node's CURVE keys, or None when the network runs in the clear."""
    return load(config.curve_secret, config.curve_allow, str(config.address))


# -- ZAP: who gets in ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Denied:
    """A client refused: its public key (z85) and the IP it came from."""

    key: str
    address: str


class Gate(Authenticator):
    """pyzmq's ZAP handler, answered from the node's own loop instead of a thread.

    :meth:`open` binds the ZAP socket; the node polls :attr:`zap_socket` and hands each
    request to :meth:`check`, which replies and says whom it refused.
    """

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], allow: Path) -> None:
        super().__init__(context)
        self._allow = allow
        self._passed = False

    def open(self) -> zmq.Socket[bytes]:
        """Bind the ZAP socket: before any server binds, as libzmq lets every client
        in while no ZAP handler is bound."""
        self.start()
        self.configure_curve(domain="*", location=str(self._allow))
        socket: zmq.Socket[bytes] = self.zap_socket
        return socket

    def reload(self) -> None:
        """Read the allow directory again: the next handshakes go by what it holds now."""
        self.configure_curve(domain="*", location=str(self._allow))

    def allows(self, user_id: str) -> bool:
        """Whether a client let in as ``user_id`` (its key, z85, as :meth:`curve_user_id`
        names it) is still allowed: a key taken out of the directory no longer is."""
        return user_id.encode() in self.certs.get("*", {})

    @property
    def keys(self) -> set[str]:
        """The public keys (z85) allowed in now."""
        return {key.decode() for key in self.certs.get("*", {})}

    def curve_user_id(self, client_public_key: bytes) -> str:
        """Called by pyzmq for an accepted CURVE client only: that is how we learn it."""
        self._passed = True
        return super().curve_user_id(client_public_key)

    def check(self, frames: list[bytes]) -> Denied | None:
        """Answer one ZAP request; who was refused, if anyone was."""
        self._passed = False
        _run_now(self.handle_zap_message(frames))
        # ZAP request: version, request id, domain, address, identity, mechanism, credentials
        if self._passed or len(frames) != 7 or frames[5] != b"CURVE":
            return None
        key = frames[6]
        shown = z85.encode(key).decode() if len(key) % 4 == 0 else key.hex()
        return Denied(shown, frames[3].decode(errors="replace"))


def _run_now(step: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never waits, here and now: pyzmq's ZAP handler is ``async``
    only for credential callbacks, which we do not use, so no event loop is needed."""
    try:
        step.send(None)
    except StopIteration:
        return
    step.close()
    raise RuntimeError("the ZAP handler waited for something; it cannot in the node's loop")
