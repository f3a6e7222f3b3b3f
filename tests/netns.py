"""A LAN of Linux network namespaces for system tests, and zgossip processes run inside it.

Every host is a namespace of its own with one veth link to a bridge that lives in a
"switch" namespace, also of its own, so the test gets real, separate IP stacks (own
addresses, own port spaces, links that can go down) without touching a single interface,
address or route of the machine that runs it. Needs root and iproute2's ``ip``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support import TIMERS, ZGOSSIP, LogTap, kill_all

#: The LAN's private /24: host ``i`` gets ``SUBNET.(i+1)``.
SUBNET = "10.77.0"
#: The name of every host's end of its link (each namespace has its own interface names).
HOST_IFACE = "eth0"
_BRIDGE = "br0"
_IP_TIMEOUT = 20.0


class NetnsError(Exception):
    """An ``ip`` command failed; the message names the command and quotes its error."""


def ip(*args: str) -> None:
    """Run ``ip ARGS``, raising :class:`NetnsError` with its stderr when it fails."""
    try:
        done = subprocess.run(
            ["ip", *args], capture_output=True, text=True, timeout=_IP_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"ip {' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")


def unavailable() -> str | None:
    """Why namespaces cannot be built here, or None when they can: the reason to skip."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs this test as root)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` command is not on PATH"
    probe = f"zgprobe{os.getpid()}"
    try:
        ip("netns", "add", probe)
    except NetnsError as exc:
        return f"`ip netns add` does not work here: {exc}"
    try:
        ip("netns", "del", probe)
    except NetnsError as exc:
        return f"`ip netns del` does not work here: {exc}"
    return None


@dataclass(frozen=True, slots=True)
class Host:
    """A host namespace: its name, its address on the LAN, and its port on the bridge."""

    netns: str
    address: str
    switch_port: str

    def command(self, *args: str) -> list[str]:
        """``args`` as a command that runs inside this host (``ip netns exec`` execs it,
        so the process started is the command itself and signals reach it directly)."""
        return ["ip", "netns", "exec", self.netns, *args]


class Lan:
    """A switch namespace holding a bridge, and host namespaces each wired to it by a veth.

    Use it as a context manager or call :meth:`close`: every namespace it created is
    deleted again, also when building it failed half-way.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.switch = f"zg{tag}-sw"
        self.hosts: list[Host] = []
        self._namespaces: list[str] = []
        try:
            self._add_netns(self.switch)
            ip("-n", self.switch, "link", "add", _BRIDGE, "type", "bridge")
            ip("-n", self.switch, "link", "set", _BRIDGE, "up")
        except NetnsError:
            self.close()
            raise

    def __enter__(self) -> Lan:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _add_netns(self, name: str) -> None:
        ip("netns", "add", name)
        self._namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def add_host(self) -> Host:
        """A new host namespace with the next address, its link to the bridge up."""
        index = len(self.hosts)
        host = Host(f"zg{self.tag}-h{index}", f"{SUBNET}.{index + 1}", f"port{index}")
        self._add_netns(host.netns)
        ip(
            "-n", host.netns, "link", "add", HOST_IFACE, "type", "veth",
            "peer", "name", host.switch_port, "netns", self.switch,
        )  # fmt: skip
        ip("-n", self.switch, "link", "set", host.switch_port, "master", _BRIDGE, "up")
        ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", HOST_IFACE)
        ip("-n", host.netns, "link", "set", HOST_IFACE, "up")
        self.hosts.append(host)
        return host

    def cut(self, host: Host) -> None:
        """Pull ``host``'s cable: its link goes down, nothing reaches it or leaves it."""
        ip("-n", host.netns, "link", "set", HOST_IFACE, "down")

    def heal(self, host: Host) -> None:
        """Plug ``host``'s cable back in (its address and route come back with the link)."""
        ip("-n", host.netns, "link", "set", HOST_IFACE, "up")

    def close(self) -> None:
        """Delete every namespace made (hosts first); the veths go with them.

        Kill the processes inside first: deleting a namespace does not stop them.
        """
        errors: list[str] = []
        for name in reversed(self._namespaces):
            try:
                ip("netns", "del", name)
            except NetnsError as exc:
                errors.append(str(exc))
        self._namespaces.clear()
        if errors:
            raise NetnsError("; ".join(errors))


class Nodes:
    """``zgossip`` processes started inside host namespaces, their JSON logs on one LogTap.

    Every node uses ``config.txt`` in ``directory`` (written by :meth:`write_config`), the
    fast TIMERS of tests.support, and its real ``--host`` address.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tap = LogTap(directory)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.config = directory / "config.txt"
        self._killed: set[str] = set()

    def write_config(self, seeds: list[str]) -> None:
        self.config.write_text("".join(f"{seed}\n" for seed in seeds))

    def start(self, host: Host, role: str, port: int, *extra: str) -> str:
        """Start a ``role`` node on ``host``; returns its ``IP:PORT`` identity."""
        address = f"{host.address}:{port}"
        name = f"{role}-{host.address}-{port}"
        args = host.command(
            ZGOSSIP, role, "--port", str(port), "--host", host.address,
            "--config", str(self.config), *TIMERS, *extra,
            "--json-log", str(self.tap.fifo(name)), "--log-file", f"{name}.log",
        )  # fmt: skip
        with open(self.directory / f"{name}.out", "wb") as out:
            self.procs[address] = subprocess.Popen(
                args, cwd=self.directory, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        return address

    def kill(self, address: str) -> None:
        """``kill -9``: the node gets no chance to say goodbye."""
        self._killed.add(address)
        self.procs[address].kill()
        self.procs[address].wait()

    def exited(self) -> dict[str, str]:
        """Nodes that stopped by themselves (a crash, a bind error), with their output's
        last lines: a node that died unasked explains a timed-out wait better than the wait."""
        return {
            address: f"exit {proc.returncode}: {self._tail(address)}"
            for address, proc in self.procs.items()
            if address not in self._killed and proc.poll() is not None
        }

    def _tail(self, address: str, lines: int = 5) -> str:
        host, _, port = address.rpartition(":")
        outputs = sorted(self.directory.glob(f"*-{host}-{port}.out"))
        text = outputs[0].read_text(errors="replace") if outputs else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def close(self) -> None:
        kill_all(self.procs.values())
        self.tap.close()
