"""A stand-in neighbour for the peer under test, speaking zgossip's own link protocol.

Run as ``python -m benchmarks.neighbour PEER_ID PEER_PUB``, one process per neighbour.
It does exactly what a real neighbour does on the wire, and no more: binds a ROUTER
(its identity) and an XPUB, subscribes a SUB to the peer's PUB (with the ``\\x00<id>``
topic of the slow-joiner handshake), sends LINK over a DEALER, answers READY and PINGs.
Then, on each ``go`` command from stdin, it floods gossip frames with at most ``window``
of them unforwarded (the peer forwards to every neighbour, the sender too, so each frame
coming back is a credit). Its own frames are distinct from every other neighbour's; with
``copies`` every neighbour sends the same frames instead, byte for byte, as the
neighbours of a real peer each pass on what they received: the peer then gets each
message once per neighbour, one first copy and three duplicates with four. Either way
the stand-in does as little per frame as it can (a send, a counted receive), so that the
figure is the peer's, not its neighbours'.

Speaks to the parent in JSON lines on stdout: ``{"linked": id}``, then one result a go.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import zmq

from zgossip import wire

_SUBSCRIBED = b"\x01\x00"
#: The origin of the frames every neighbour sends alike.
_SHARED = "127.0.0.1:1"


@dataclass(slots=True)
class Flood:
    """One ``go``: what to send, and what came back."""

    own: int  # frames this neighbour sends
    total: int  # distinct frames the peer will forward in all (every neighbour's)
    copies: bool  # every neighbour sends the same frames
    window: int
    sent: int = 0
    forwards: int = 0  # distinct frames received from the peer
    first: float = 0.0
    last: float = 0.0


class Neighbour:
    def __init__(self, peer: str, peer_pub: str) -> None:
        self.peer = peer
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.router = self._socket(zmq.ROUTER)
        port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.id = f"127.0.0.1:{port}"
        self.id_bytes = self.id.encode()
        self.pub = self._socket(zmq.XPUB)
        self.pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.pub_endpoint = f"tcp://127.0.0.1:{self.pub.bind_to_random_port('tcp://127.0.0.1')}"
        self.sub = self._socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.SUBSCRIBE, b"\x00" + self.id_bytes)
        self.sub.connect(peer_pub)
        self.dealer = self._socket(zmq.DEALER)
        self.dealer.connect(f"tcp://{peer}")
        self.ready_heard = False
        self.subscribed = False  # the peer's SUB is live on our XPUB
        self.seq = 0

    def _socket(self, kind: int) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if kind in (zmq.XPUB, zmq.SUB):
            sock.setsockopt(zmq.SNDHWM, 0)  # never drop: the flood is paced by its window
            sock.setsockopt(zmq.RCVHWM, 0)
        return sock

    def close(self) -> None:
        self.ctx.destroy(linger=0)

    # -- the link ---------------------------------------------------------------

    def link(self) -> None:
        """The handshake of zgossip.peer, from the other side; returns once both ways are up."""
        self.dealer.send(wire.encode(wire.Link(self.id, self.pub_endpoint)))
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.pub, zmq.POLLIN)
        while not (self.ready_heard and self.subscribed):
            for sock, _ in poller.poll():
                if sock is self.router:
                    self.on_router()
                else:
                    self.on_subscription(self.pub.recv())

    def on_subscription(self, notice: bytes) -> None:
        if notice == _SUBSCRIBED + self.peer.encode() and not self.subscribed:
            self.subscribed = True
            self.dealer.send(wire.encode(wire.Ready(self.id)))

    def on_router(self) -> None:
        """READY, HISTORY and PINGs from the peer; a PING is answered at once."""
        identity, frame = self.router.recv_multipart()
        message = wire.decode(frame)
        if isinstance(message, wire.Ready):
            self.ready_heard = True
        elif isinstance(message, wire.Ping):
            pong = wire.Pong(message.peer, message.ts, linked=True)
            self.router.send_multipart([identity, wire.encode(pong)])

    # -- the flood --------------------------------------------------------------

    def frame(self, copies: bool) -> bytes:
        """The next frame: this neighbour's own, or the next of the stream all of them send."""
        self.seq += 1
        if copies:  # the same bytes at every neighbour
            return wire.encode(wire.Gossip(_SHARED, self.seq, float(self.seq), str(self.seq)))
        now = time.time()
        body = f"{now:.6f}:127.0.0.1:{self.seq}"
        return wire.encode(wire.Gossip(self.id, self.seq, now, body))

    def flood(self, run: Flood) -> None:
        """Send ``run.own`` frames with at most ``run.window`` unforwarded; count forwards."""
        poller = zmq.Poller()
        poller.register(self.sub, zmq.POLLIN)
        poller.register(self.router, zmq.POLLIN)
        self._top_up(run)
        while run.forwards < run.total:
            if not poller.poll(10_000):
                break  # the peer stopped forwarding: report what came
            while self.router.poll(0):
                self.on_router()
            self._drain(run)
            self._top_up(run)

    def _top_up(self, run: Flood) -> None:
        share = run.own / run.total  # of the frames the peer forwards, ours (about)
        while run.sent < run.own and run.sent - run.forwards * share < run.window:
            self.pub.send(wire.gossip_frame(self.id_bytes, self.frame(run.copies)))
            run.sent += 1

    def _drain(self, run: Flood) -> None:
        for _ in range(1000):
            try:
                self.sub.recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            run.last = time.time()
            run.first = run.first or run.last
            run.forwards += 1


def _serve(neighbour: Neighbour) -> None:
    """Link, then run each ``go OWN TOTAL COPIES WINDOW`` from stdin until ``quit`` or EOF."""
    neighbour.link()
    _say({"linked": neighbour.id})
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "go":
            break
        run = Flood(int(words[1]), int(words[2]), words[3] == "1", int(words[4]))
        neighbour.flood(run)
        _say(
            {
                "id": neighbour.id,
                "sent": run.sent,
                "forwards": run.forwards,
                "first": run.first,
                "last": run.last,
            }
        )


def _say(document: dict[str, object]) -> None:
    print(json.dumps(document), flush=True)


def main() -> None:
    neighbour = Neighbour(sys.argv[1], sys.argv[2])
    try:
        _serve(neighbour)
    finally:
        neighbour.close()


if __name__ == "__main__":
    main()
