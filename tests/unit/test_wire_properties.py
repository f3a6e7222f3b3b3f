"""Properties of the codec over inputs nobody wrote by hand (hypothesis).

Whatever arrives on a socket, ``wire.decode`` either returns a message or raises
``WireError``: never another exception, which would reach the node's loop as a bug.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zgossip.protocol import wire

pytestmark = pytest.mark.timeout(120)

PROPERTY = settings(max_examples=300, deadline=None)

#: Integers msgpack can carry.
packable = st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
scalars = (
    st.none()
    | st.booleans()
    | packable
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
keys = st.text(max_size=10) | st.binary(max_size=10) | packable
#: Anything msgpack can carry: scalars, lists and maps of them, nested.
objects = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(keys, children, max_size=6),
    max_leaves=25,
)
ids = st.builds(
    lambda a, b, c, d, port: f"{a}.{b}.{c}.{d}:{port}",
    *[st.integers(0, 255)] * 4,
    st.integers(1, 65535),
)
stamps = st.floats(allow_nan=False, allow_infinity=False)


def _decodes_or_refuses(frame: bytes) -> None:
    try:
        message = wire.decode(frame)
    except wire.WireError:
        return
    assert wire.decode(wire.encode(message)) == message  # what it accepts, it can say again


@PROPERTY
@given(st.binary(max_size=512))
def test_arbitrary_bytes_decode_or_raise_wire_error(frame: bytes) -> None:
    _decodes_or_refuses(frame)


@PROPERTY
@given(objects)
def test_arbitrary_msgpack_objects_decode_or_raise_wire_error(value: Any) -> None:
    _decodes_or_refuses(msgpack.packb(value, use_bin_type=True))


@PROPERTY
@given(
    st.sampled_from([kind.value for kind in wire.Kind]) | st.text(max_size=8),
    st.dictionaries(
        st.sampled_from(["peer", "pub", "degree", "seed", "peers", "dead", "ts", "reporter",
                         "origin", "seq", "body", "items", "linked", "suspect", "alive",
                         "neighbours"]),
        objects,
        max_size=6,
    ),
    st.sampled_from([1, 1, 1, 0, 2, "1", None]),
)  # fmt: skip
def test_envelopes_with_arbitrary_fields_decode_or_raise_wire_error(
    kind: str, fields: dict[str, Any], version: Any
) -> None:
    envelope = {"v": version, "type": kind, **fields}
    _decodes_or_refuses(msgpack.packb(envelope, use_bin_type=True))


@PROPERTY
@given(st.binary(max_size=64))
def test_arbitrary_pub_frames_split_or_raise_wire_error(frame: bytes) -> None:
    try:
        raw, _ = wire.split_gossip(frame)
        wire.sender_id(bytes(raw))
    except wire.WireError:
        pass


@PROPERTY
@given(ids, st.integers(0, (1 << 63) - 1), stamps, st.text(max_size=200) | st.binary(max_size=200))
def test_every_valid_gossip_message_round_trips(
    origin: str, seq: int, ts: float, body: str | bytes
) -> None:
    message = wire.Gossip(origin, seq, ts, body)
    assert wire.decode(wire.encode(message)) == message


@PROPERTY
@given(ids, st.lists(st.tuples(ids, ids, st.integers(0, 1000), stamps), max_size=20))
def test_every_valid_peer_list_round_trips(
    seed: str, entries: list[tuple[str, str, int, float]]
) -> None:
    peers = tuple(wire.PeerInfo(p, f"tcp://{pub}", d, s) for p, pub, d, s in entries)
    message = wire.Peers(seed, peers)
    assert wire.decode(wire.encode(message)) == message
