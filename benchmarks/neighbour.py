"""Stand-in neighbours for the peer under test, speaking zgossip's own link protocol.

Run as ``python -m benchmarks.neighbour PEER_ID PEER_PUB COUNT``: one process holds COUNT
neighbours, served by one poller, so that the whole harness takes one process's share of
the cores (four processes, each with its own I/O thread, took more CPU than the peer).
Each neighbour does exactly what a real one does on the wire, and no more: binds a ROUTER
(its identity) and an XPUB, subscribes a SUB to the peer's PUB (to what is addressed to
it, and the ``\\x00<id>`` topic of the slow-joiner handshake), sends LINK over a DEALER,
answers READY and PINGs. It ignores prunes: the peer under test runs the flood.

A flood is two commands from stdin. ``prepare MESSAGES COPIES [BATCH]`` encodes the
frames beforehand, so that the flood costs a send each: with ``copies`` every neighbour
sends every frame, byte for byte, as the neighbours of a real peer each pass on what they
received (the peer gets each message once per neighbour: one first copy, the rest
duplicates); without, each neighbour sends its own share. With ``BATCH`` (copies only),
each frame carries that many messages, in a ``batch`` envelope: what a real peer's PUB
sends when one turn of its loop forwards several, as under load. The messages come from
16 origins in turn, as through a busy peer of a real network. ``go WINDOW``
then floods with at most ``window`` messages that the peer has not yet forwarded, and
counts the forwards: the peer forwards each message to every neighbour but the one whose
copy came first, several in one frame when a turn of its loop forwards several.

Speaks to the parent in JSON lines on stdout: ``{"linked": [ids]}``, then one line a command.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field

import zmq

from zgossip.protocol import wire

_SUBSCRIBED = b"\x01\x00"
#: The origins of the flood, in turn: a peer takes at most Config.origin_rate messages a
#: second of any one origin, and the flood is faster than that; so is a real network's
#: traffic through a busy peer, from many origins.
_ORIGINS = tuple(f"127.0.0.1:{port}" for port in range(1, 17))


@dataclass(slots=True)
class _Link:
    """One neighbour's sockets."""

    id: str
    router: zmq.Socket[bytes]
    pub: zmq.Socket[bytes]
    sub: zmq.Socket[bytes]
    dealer: zmq.Socket[bytes]
    ready_heard: bool = False  # the peer told us its PUB reaches our SUB
    subscribed: bool = False  # the peer's SUB is live on our XPUB
    forwards: int = 0  # frames the peer forwarded to it in this flood


@dataclass(slots=True)
class Flood:
    """What one ``prepare`` made ready and one ``go`` reports."""

    frames: list[tuple[zmq.Socket[bytes], bytes]] = field(default_factory=list)  # in order
    distinct: int = 0  # distinct messages in it: what the peer forwards
    batch: int = 1  # messages a frame
    copies: int = 1  # frames that carry the same messages (one from each neighbour)
    first: float = 0.0  # when the first forward came
    last: float = 0.0  # when the last forward came


class Neighbours:
    def __init__(self, peer: str, peer_pub: str, count: int) -> None:
        self.peer = peer
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.links = [self._link(peer, peer_pub) for _ in range(count)]
        self.seqs = dict.fromkeys(_ORIGINS, 0)  # each origin's last sequence number
        self.poller = zmq.Poller()
        for link in self.links:
            self.poller.register(link.router, zmq.POLLIN)
            self.poller.register(link.sub, zmq.POLLIN)

    def _socket(self, kind: int) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)  # never drop: the flood is paced by its window
        sock.setsockopt(zmq.RCVHWM, 0)
        return sock

    def _link(self, peer: str, peer_pub: str) -> _Link:
        router = self._socket(zmq.ROUTER)
        own = f"127.0.0.1:{router.bind_to_random_port('tcp://127.0.0.1')}"
        pub = self._socket(zmq.XPUB)
        pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        sub = self._socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, wire.topic(own.encode()))
        sub.setsockopt(zmq.SUBSCRIBE, b"\x00" + own.encode())
        sub.connect(peer_pub)
        dealer = self._socket(zmq.DEALER)
        dealer.connect(f"tcp://{peer}")
        return _Link(own, router, pub, sub, dealer)

    def close(self) -> None:
        self.ctx.destroy(linger=0)

    # -- the link ---------------------------------------------------------------

    def link(self) -> None:
        """The handshake of zgossip.peer, from the other side; returns once every link is up."""
        poller = zmq.Poller()
        for link in self.links:
            pub_port = link.pub.bind_to_random_port("tcp://127.0.0.1")
            link.dealer.send(wire.encode(wire.Link(link.id, f"tcp://127.0.0.1:{pub_port}")))
            poller.register(link.router, zmq.POLLIN)
            poller.register(link.pub, zmq.POLLIN)
        while not all(link.ready_heard and link.subscribed for link in self.links):
            for sock, _ in poller.poll():
                link = next(n for n in self.links if sock in (n.router, n.pub))
                if sock is link.router:
                    self._on_router(link)
                elif link.pub.recv() == _SUBSCRIBED + self.peer.encode() and not link.subscribed:
                    link.subscribed = True
                    link.dealer.send(wire.encode(wire.Ready(link.id)))

    def _on_router(self, link: _Link) -> None:
        """READY, HISTORY and PINGs from the peer; a PING is answered at once."""
        identity, frame = link.router.recv_multipart()
        message = wire.decode(frame)
        if isinstance(message, wire.Ready):
            link.ready_heard = True
        elif isinstance(message, wire.Ping):
            pong = wire.Pong(message.peer, message.ts, linked=True)
            link.router.send_multipart([identity, wire.encode(pong)])

    # -- the flood --------------------------------------------------------------

    def prepare(self, messages: int, copies: bool, batch: int = 1) -> Flood:
        """Encode the frames of a flood of ``messages`` distinct messages, ``batch`` a frame
        (``copies`` only)."""
        flood = Flood(distinct=messages, batch=batch, copies=len(self.links) if copies else 1)
        to_peer = wire.topic(self.peer.encode())
        envelopes: list[bytes] = []
        for i in range(messages):
            origin = _ORIGINS[i % len(_ORIGINS)]
            self.seqs[origin] += 1
            seq = self.seqs[origin]
            if copies:  # the same bytes from every neighbour
                envelopes.append(wire.encode(wire.Gossip(origin, seq, float(seq), str(seq))))
                if len(envelopes) == batch or i == messages - 1:
                    flood.frames.extend(
                        (n.pub, to_peer + _frame(n.id, envelopes)) for n in self.links
                    )
                    envelopes = []
            else:  # each neighbour its own share, in turn
                link = self.links[i % len(self.links)]
                now = time.time()
                body = f"{now:.6f}:127.0.0.1:{seq}"
                frame = wire.encode(wire.Gossip(origin, seq, now, body))
                flood.frames.append((link.pub, to_peer + _frame(link.id, [frame])))
        return flood

    def go(self, flood: Flood, window: int) -> None:
        """Send the frames with at most ``window`` messages in flight; count forwards."""
        for link in self.links:
            link.forwards = 0
        sent = 0  # frames
        while True:
            done = self.forwarded()
            if done >= flood.distinct:
                return
            while sent < len(flood.frames) and sent // flood.copies * flood.batch - done < window:
                sock, frame = flood.frames[sent]
                sock.send(frame)
                sent += 1
            ready = self.poller.poll(10_000)
            if not ready:
                return  # the peer stopped forwarding: report what came
            for sock, _ in ready:
                link = next(n for n in self.links if sock in (n.router, n.sub))
                if sock is link.router:
                    self._on_router(link)
                else:
                    self._drain(link, flood)

    def forwarded(self) -> int:
        """Messages the peer forwarded in this flood, each to all neighbours but one."""
        return sum(link.forwards for link in self.links) // (len(self.links) - 1)

    @staticmethod
    def _drain(link: _Link, flood: Flood) -> None:
        recv, start = link.sub.recv, len(wire.topic(link.id.encode()))
        for _ in range(1000):
            try:
                frame = recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if wire.is_batch(frame[start:]):  # what the peer forwarded in one turn
                batch = wire.decode(frame[start + 1 :])
                assert isinstance(batch, wire.Batch)
                link.forwards += len(batch.items)
            else:
                link.forwards += 1
        flood.last = time.time()
        flood.first = flood.first or flood.last


def _frame(sender: str, envelopes: list[bytes]) -> bytes:
    """What a peer's PUB sends (after the topic): one message, or several in a batch."""
    if len(envelopes) == 1:
        return wire.gossip_frame(sender.encode(), envelopes[0])
    return wire.batch_frame(sender, tuple(envelopes))


def _serve(neighbours: Neighbours) -> None:
    """Link, then run ``prepare MESSAGES COPIES [BATCH]`` and ``go WINDOW`` commands until
    EOF."""
    neighbours.link()
    _say({"linked": [link.id for link in neighbours.links]})
    flood = Flood()
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["prepare"]:
            batch = int(words[3]) if len(words) > 3 else 1
            flood = neighbours.prepare(int(words[1]), words[2] == "1", batch)
            _say({"prepared": flood.distinct})
        elif words[:1] == ["go"]:
            neighbours.go(flood, int(words[1]))
            forwards = neighbours.forwarded()
            _say({"forwards": forwards, "first": flood.first, "last": flood.last})
        else:
            break


def _say(document: dict[str, object]) -> None:
    print(json.dumps(document), flush=True)


def main() -> None:
    neighbours = Neighbours(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    try:
        _serve(neighbours)
    finally:
        neighbours.close()


if __name__ == "__main__":
    main()
