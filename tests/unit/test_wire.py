"""The msgpack envelope: every kind round-trips, and every bad frame is a WireError."""

from __future__ import annotations

import contextlib
import math
import random
from typing import Any

import msgpack
import pytest

from zgossip.protocol import wire

V = wire.VERSION
PEER = "10.0.0.1:5000"
OTHER = "10.0.0.2:5001"
PUB = "tcp://10.0.0.1:40000"

SAMPLES: list[wire.Message] = [
    wire.Register(PEER, PUB, (OTHER,)),
    wire.Register(PEER, PUB, (), (("dc", "eu-1"), ("role", "db"))),
    wire.Peers(
        "10.0.0.9:9000",
        (
            wire.PeerInfo(PEER, PUB, 0, 1_700_000_000.25),
            wire.PeerInfo(OTHER, "tcp://10.0.0.2:40001", 7, 1_700_000_001.5),
        ),
    ),
    wire.ListPeers(),
    wire.Dead(OTHER, 1_700_000_002.125, PEER),
    wire.Leave(PEER),
    wire.Link(PEER, PUB),
    wire.Ready(PEER),
    wire.Ping(PEER, 1_700_000_003.5),
    wire.Pong(PEER, 1_700_000_003.5, True),
    wire.Bye(PEER),
    wire.History(PEER, (b"first frame", b"", b"\x00\xff third")),
    wire.Gossip(PEER, 4, 1_700_000_004.0, "1700000004.000000:10.0.0.1:4"),
    wire.Neighbours(),
    wire.Links(PEER, (OTHER, "10.0.0.3:5000")),
    wire.Probe(PEER, OTHER, 1_700_000_005.0),
    wire.Probed(PEER, OTHER, 1_700_000_005.0, False),
    wire.Suspect("10.0.0.9:9000", OTHER, PEER),
    wire.Vote("10.0.0.9:9000", OTHER, True, PEER),
    wire.Repair(PEER, OTHER, (3, 4, 9)),
    wire.Page(5000),
    wire.Listing("10.0.0.9:9000", 0, 1, (wire.PeerInfo(PEER, PUB, 2, 1_700_000_000.5),)),
    wire.IHave(PEER, (b"\x01" * 16, b"\x02" * 16)),
    wire.Graft(PEER, (b"\x03" * 16,)),
    wire.Prune(PEER),
    wire.Batch(PEER, (b"first envelope", b"second")),
    wire.Members(5000),
    wire.Roster(
        "10.0.0.9:9000", 0, 2, (wire.Member(PEER, "alive", 1.5), wire.Member(OTHER, "dead", 2.0))
    ),
    wire.Watch(("gossip.*", "stopped"), 12),
    wire.Watched(PEER, 12, (('{"event":"stopped"}', "stopped"),)),
    wire.Say("hello from outside"),
    wire.Said(PEER, "0123456789abcdef" * 2),
    wire.Refused(PEER, "a seed does not gossip"),
    wire.Shuffle(PEER, (wire.PeerInfo(PEER, PUB, 2, 1_700_000_000.5),)),
    wire.Shuffled(OTHER, (wire.PeerInfo(OTHER, "tcp://10.0.0.2:40001", 7, 1_700_000_001.5),)),
    wire.Digest(PEER, 1_700_000_000.5, (wire.Holding(OTHER, 3, 90, (5, 7, 80, 80)),), False),
    wire.Delta(OTHER, (b"\x81\xa1v\x04",), True),
    wire.Tag((("role", "db"),), ("dc",)),
    wire.Tagged(PEER, (("role", "db"),)),
    wire.Register(PEER, PUB, (), (), 1_767_225_600_000_000_000),
    wire.Facts(
        PEER,
        (
            wire.Fact(OTHER, 1_767_225_600_000_000_000, 3, "alive", 1.5, (("role", "db"),)),
            wire.Fact(PEER, 7, 0, "dead", 2.0),
        ),
        False,
        False,
    ),
    wire.Sums(PEER, bytes(range(256)) * 8, True),
    wire.Ask("info", "", (("role", "db*"),), 5.0),
    wire.Query(PEER, 7, "info", b"\x00payload"),
    wire.Answer(PEER, 7, "ok", '{"version": "0.1.0"}'),
    wire.Answered(OTHER, "busy", "", 0.002),
    wire.Ended(PEER, 10, (OTHER,), (), True),
]


def _pack(obj: Any) -> bytes:
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


def _envelope(message: wire.Message) -> dict[str, Any]:
    """The map ``encode`` sends for ``message``, to be spoiled by a test."""
    envelope: dict[str, Any] = msgpack.unpackb(wire.encode(message), raw=False)
    return envelope


def _param_id(value: object) -> str:
    kind = getattr(value, "KIND", None)
    return kind.value if isinstance(kind, wire.Kind) else repr(value)


def _rejected(frame: bytes) -> wire.WireError:
    """Decode ``frame``, which must fail with a WireError (any other exception fails the test)."""
    with pytest.raises(wire.WireError) as info:
        wire.decode(frame)
    return info.value


def _spoiled(message: wire.Message, **fields: Any) -> bytes:
    envelope = _envelope(message)
    envelope.update(fields)
    return _pack(envelope)


# -- round trips ----------------------------------------------------------------------------------


def test_samples_cover_every_message_kind() -> None:
    assert {message.KIND for message in SAMPLES} == set(wire.Kind)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.KIND.value)
def test_every_kind_round_trips(message: wire.Message) -> None:
    frame = wire.encode(message)
    assert isinstance(frame, bytes)
    decoded = wire.decode(frame)
    assert type(decoded) is type(message)
    assert decoded == message
    assert wire.encode(decoded) == frame


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.KIND.value)
def test_envelope_carries_version_and_type(message: wire.Message) -> None:
    envelope = _envelope(message)
    assert envelope["v"] == wire.VERSION == 5
    assert envelope["type"] == message.KIND.value


def test_integer_timestamps_decode_as_floats() -> None:
    frame = _spoiled(wire.Ping(PEER, 0.0), ts=1_700_000_000)
    decoded = wire.decode(frame)
    assert isinstance(decoded, wire.Ping)
    assert type(decoded.ts) is float
    assert decoded.ts == 1_700_000_000.0


def test_peer_list_since_decodes_as_float() -> None:
    envelope = _envelope(wire.Peers(PEER, ()))
    envelope["peers"] = [[OTHER, PUB, 2, 17]]
    decoded = wire.decode(_pack(envelope))
    assert isinstance(decoded, wire.Peers)
    assert decoded.peers == (wire.PeerInfo(OTHER, PUB, 2, 17.0),)
    assert type(decoded.peers[0].since) is float


def test_empty_peer_list_and_empty_history_round_trip() -> None:
    for message in (wire.Peers(PEER, ()), wire.History(PEER, ())):
        assert wire.decode(wire.encode(message)) == message


def test_largest_count_is_accepted() -> None:
    message = wire.Gossip(PEER, (1 << 63) - 1, 1.0, "x")
    assert wire.decode(wire.encode(message)) == message


@pytest.mark.parametrize("peer", ["0.0.0.0:1", "255.255.255.255:65535", "127.0.0.1:5000"])
def test_boundary_peer_ids_are_accepted(peer: str) -> None:
    assert wire.decode(wire.encode(wire.Leave(peer))) == wire.Leave(peer)


def test_body_of_exactly_max_body_characters_is_accepted() -> None:
    message = wire.Gossip(PEER, 1, 1.0, "b" * wire.MAX_BODY)
    assert wire.decode(wire.encode(message)) == message


def test_frame_of_exactly_max_frame_bytes_is_accepted() -> None:
    overhead = len(wire.encode(wire.History(PEER, (b"x" * 70_000,)))) - 70_000
    message = wire.History(PEER, (b"x" * (wire.MAX_FRAME - overhead),))
    frame = wire.encode(message)
    assert len(frame) == wire.MAX_FRAME
    assert wire.decode(frame) == message


# -- rejected frames ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xc1",  # the one byte msgpack never uses
        b"\xc1\xc1\xc1\xc1",
        b"hello, world",
        b"\x00" * 64,
        b"\xff" * 64,
        bytes(range(256)),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b'{"v": 1, "type": "ping"}',  # JSON, not msgpack
    ],
    ids=["empty", "c1", "c1x4", "text", "zeros", "ff", "all-bytes", "http", "json"],
)
def test_garbage_bytes_are_rejected(frame: bytes) -> None:
    _rejected(frame)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.KIND.value)
def test_every_truncation_of_a_valid_frame_is_rejected(message: wire.Message) -> None:
    frame = wire.encode(message)
    for end in range(len(frame)):
        _rejected(frame[:end])


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.KIND.value)
def test_trailing_bytes_after_a_valid_frame_are_rejected(message: wire.Message) -> None:
    frame = wire.encode(message)
    _rejected(frame + b"\x00")
    _rejected(frame + frame)


@pytest.mark.parametrize(
    "obj",
    [
        [1, "ping", PEER, 1.0],
        [],
        42,
        -1,
        "ping",
        b"ping",
        None,
        True,
        3.5,
        [{"v": 1, "type": "list"}],
    ],
    ids=["list", "empty-list", "int", "negative", "str", "bytes", "nil", "bool", "float", "nested"],
)
def test_non_map_envelopes_are_rejected(obj: Any) -> None:
    _rejected(_pack(obj))


def test_missing_version_is_rejected() -> None:
    envelope = _envelope(wire.Leave(PEER))
    del envelope["v"]
    error = _rejected(_pack(envelope))
    assert "version" in str(error)


@pytest.mark.parametrize("version", [1, 2, 3, 4, 6, 0, -1, 1 << 40])  # 1-4: older nodes
def test_unsupported_version_is_rejected(version: int) -> None:
    error = _rejected(_spoiled(wire.Leave(PEER), v=version))
    assert str(version) in str(error)


@pytest.mark.parametrize("version", ["1", 1.0, True, None, b"\x01", [1], {"v": 1}], ids=repr)
def test_version_of_wrong_type_is_rejected(version: Any) -> None:
    _rejected(_spoiled(wire.Leave(PEER), v=version))


def test_map_with_binary_keys_is_rejected() -> None:
    envelope = {key.encode(): value for key, value in _envelope(wire.Leave(PEER)).items()}
    _rejected(_pack(envelope))


def test_map_with_integer_keys_is_rejected() -> None:
    _rejected(_pack({1: 1, 2: "leave", 3: PEER}))


def test_missing_type_is_rejected() -> None:
    envelope = _envelope(wire.Leave(PEER))
    del envelope["type"]
    _rejected(_pack(envelope))


@pytest.mark.parametrize(
    "kind",
    ["nope", "", "LEAVE", "Leave", "leave ", "Kind.LEAVE", 5, None, True, b"leave", ["leave"]],
    ids=repr,
)
def test_unknown_type_is_rejected(kind: Any) -> None:
    error = _rejected(_spoiled(wire.Leave(PEER), type=kind))
    assert "type" in str(error)


def test_long_unknown_type_is_reported_briefly() -> None:
    error = _rejected(_spoiled(wire.Leave(PEER), type="x" * 10_000))
    assert len(str(error)) < 200


def _fields(message: wire.Message) -> list[str]:
    return [name for name in _envelope(message) if name not in ("v", "type")]


@pytest.mark.parametrize(
    ("message", "field"),
    [(m, f) for m in SAMPLES for f in _fields(m)],
    ids=_param_id,
)
def test_missing_field_is_rejected(message: wire.Message, field: str) -> None:
    envelope = _envelope(message)
    del envelope[field]
    error = _rejected(_pack(envelope))
    assert "missing" in str(error)
    assert field in str(error)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.KIND.value)
def test_extra_field_is_rejected(message: wire.Message) -> None:
    error = _rejected(_spoiled(message, extra=1))
    assert "unexpected field 'extra'" in str(error)


def test_extra_field_in_place_of_a_missing_one_is_rejected() -> None:
    envelope = _envelope(wire.Link(PEER, PUB))
    del envelope["pub"]
    envelope["pubb"] = PUB
    _rejected(_pack(envelope))


def test_several_extra_binary_keys_are_rejected() -> None:
    envelope: dict[Any, Any] = _envelope(wire.Leave(PEER))
    envelope[b"x"] = 1
    envelope[b"y"] = 2
    _rejected(_pack(envelope))


def test_extra_fields_with_mixed_str_and_binary_keys_are_rejected() -> None:
    envelope: dict[Any, Any] = _envelope(wire.Leave(PEER))
    envelope[b"x"] = 1
    envelope["y"] = 2
    _rejected(_pack(envelope))


@pytest.mark.parametrize(
    ("message", "field", "value"),
    [
        # str where int
        (wire.Gossip(PEER, 1, 1.0, "b"), "seq", "1"),
        (wire.Register(PEER, PUB, ()), "neighbours", "10.0.0.2:5001"),
        # bool where int
        (wire.Gossip(PEER, 1, 1.0, "b"), "seq", True),
        (wire.Register(PEER, PUB, ()), "neighbours", [False]),
        # float where int
        (wire.Gossip(PEER, 1, 1.0, "b"), "seq", 1.0),
        # negative and too large counts
        (wire.Register(PEER, PUB, ()), "neighbours", ["nobody"]),
        (wire.Gossip(PEER, 1, 1.0, "b"), "seq", -(1 << 63)),
        (wire.Gossip(PEER, 1, 1.0, "b"), "seq", 1 << 63),
        (wire.Gossip(PEER, 1, 1.0, "b"), "seq", (1 << 64) - 1),
        # timestamps: NaN, wrong types
        (wire.Ping(PEER, 1.0), "ts", math.nan),
        (wire.Pong(PEER, 1.0, False), "ts", math.nan),
        (wire.Dead(OTHER, 1.0, PEER), "ts", math.nan),
        (wire.Gossip(PEER, 1, 1.0, "b"), "ts", math.nan),
        (wire.Ping(PEER, 1.0), "ts", "1.0"),
        (wire.Ping(PEER, 1.0), "ts", True),
        (wire.Ping(PEER, 1.0), "ts", None),
        (wire.Ping(PEER, 1.0), "ts", [1.0]),
        # text fields
        (wire.Gossip(PEER, 1, 1.0, "b"), "body", 5),
        (wire.Gossip(PEER, 1, 1.0, "b"), "body", None),
        # ids and endpoints of the wrong type
        (wire.Leave(PEER), "peer", 5),
        (wire.Leave(PEER), "peer", PEER.encode()),
        (wire.Leave(PEER), "peer", None),
        (wire.Leave(PEER), "peer", [PEER]),
        (wire.Link(PEER, PUB), "pub", PUB.encode()),
        (wire.Link(PEER, PUB), "pub", None),
    ],
    ids=_param_id,
)
def test_field_of_wrong_type_is_rejected(message: wire.Message, field: str, value: Any) -> None:
    error = _rejected(_spoiled(message, **{field: value}))
    assert field in str(error)


BAD_PEER_IDS = [
    "300.1.1.1:5",
    "1.2.3.256:5",
    "1.2.3.4:0",
    "1.2.3.4:70000",
    "1.2.3.4:65536",
    "abc",
    "",
    "1.2.3.4",
    "1.2.3.4:",
    ":5000",
    "1.2.3:5",
    "1.2.3.4.5:5",
    "1.2.3.4:-5",
    "1.2.3.4:5 ",
    " 1.2.3.4:5",
    "1.2.3.4:5\n",
    "localhost:5000",
    "tcp://1.2.3.4:5",
    "1.2.3.4:123456",
    "1111.2.3.4:5",
    "1.2.3.4:5" + "0" * 100,
]


@pytest.mark.parametrize("peer", BAD_PEER_IDS, ids=repr)
@pytest.mark.parametrize(
    ("message", "field"),
    [
        (wire.Leave(PEER), "peer"),
        (wire.Register(PEER, PUB, ()), "peer"),
        (wire.Dead(OTHER, 1.0, PEER), "dead"),
        (wire.Dead(OTHER, 1.0, PEER), "reporter"),
        (wire.Peers(PEER, ()), "seed"),
        (wire.Gossip(PEER, 1, 1.0, "b"), "origin"),
    ],
    ids=["leave.peer", "register.peer", "dead.dead", "dead.reporter", "peers.seed", "origin"],
)
def test_bad_peer_id_is_rejected(message: wire.Message, field: str, peer: str) -> None:
    _rejected(_spoiled(message, **{field: peer}))


@pytest.mark.parametrize("peer", ["\u0661.2.3.4:5", "1.2.3.4:\u0665", "\uff11.2.3.4:5"], ids=repr)
def test_peer_id_with_non_ascii_digits_is_rejected(peer: str) -> None:
    _rejected(_spoiled(wire.Leave(PEER), peer=peer))


@pytest.mark.parametrize(
    "endpoint",
    [
        "udp://1.2.3.4:5",
        "ipc:///tmp/zgossip",
        "inproc://zgossip",
        "1.2.3.4:5",
        "tcp://",
        "tcp://abc",
        "tcp://*:5000",
        "tcp://300.1.1.1:5",
        "tcp://1.2.3.4:0",
        "tcp://1.2.3.4:70000",
        "TCP://1.2.3.4:5",
        " tcp://1.2.3.4:5",
        "",
    ],
    ids=repr,
)
@pytest.mark.parametrize(
    ("message", "field"),
    [(wire.Register(PEER, PUB, ()), "pub"), (wire.Link(PEER, PUB), "pub")],
    ids=["register", "link"],
)
def test_bad_endpoint_is_rejected(message: wire.Message, field: str, endpoint: str) -> None:
    _rejected(_spoiled(message, **{field: endpoint}))


def test_oversized_garbage_frame_is_rejected() -> None:
    _rejected(b"\x00" * (wire.MAX_FRAME + 1))


def test_oversized_valid_frame_is_rejected() -> None:
    overhead = len(wire.encode(wire.History(PEER, (b"x" * 70_000,)))) - 70_000
    frame = wire.encode(wire.History(PEER, (b"x" * (wire.MAX_FRAME + 1 - overhead),)))
    assert len(frame) == wire.MAX_FRAME + 1
    error = _rejected(frame)
    assert "limit" in str(error)


def test_oversized_body_is_rejected() -> None:
    frame = wire.encode(wire.Gossip(PEER, 1, 1.0, "b" * (wire.MAX_BODY + 1)))
    assert len(frame) < wire.MAX_FRAME
    error = _rejected(frame)
    assert "body" in str(error)


def test_oversized_multibyte_body_is_rejected() -> None:
    frame = wire.encode(wire.Gossip(PEER, 1, 1.0, "é" * (wire.MAX_BODY + 1)))
    _rejected(frame)


@pytest.mark.parametrize(
    "peers",
    [
        "not a list",
        {"a": 1},
        None,
        5,
        [None],
        [[]],
        [[OTHER, PUB, 1]],
        [[OTHER, PUB, 1, 1.0, "extra"]],
        [{"id": OTHER, "pub": PUB, "degree": 1, "since": 1.0}],
        [OTHER],
        [[OTHER, PUB, 1, 1.0], "junk"],
        [["abc", PUB, 1, 1.0]],
        [[OTHER, "udp://1.2.3.4:5", 1, 1.0]],
        [[OTHER, PUB, -1, 1.0]],
        [[OTHER, PUB, "1", 1.0]],
        [[OTHER, PUB, True, 1.0]],
        [[OTHER, PUB, 1, "1.0"]],
        [[OTHER, PUB, 1, math.nan]],
        [[OTHER, PUB, 1, None]],
        [[PUB, OTHER, 1, 1.0]],
    ],
    ids=repr,
)
def test_peer_entries_of_wrong_shape_are_rejected(peers: Any) -> None:
    error = _rejected(_spoiled(wire.Peers(PEER, ()), peers=peers))
    assert "peers" in str(error)


def test_peer_list_over_max_list_is_rejected() -> None:
    entry = [OTHER, PUB, 1, 1.0]
    _rejected(_spoiled(wire.Peers(PEER, ()), peers=[entry] * (wire.MAX_LIST + 1)))


@pytest.mark.parametrize(
    "neighbours",
    ["not a list", None, [None], [OTHER, 5], ["abc"], [PUB], {OTHER: 1}],
    ids=lambda value: repr(value)[:40],
)
def test_links_of_wrong_shape_are_rejected(neighbours: Any) -> None:
    error = _rejected(_spoiled(wire.Links(PEER, ()), neighbours=neighbours))
    assert "neighbours" in str(error)


@pytest.mark.parametrize(
    "items",
    [
        ["text, not bytes"],
        [1],
        [None],
        [[b"nested"]],
        [b"ok", "not ok"],
        [b"ok", 5],
        [{"frame": b"x"}],
        b"bytes, not a list",
        "str, not a list",
        None,
        {"a": b"x"},
    ],
    ids=repr,
)
def test_history_items_that_are_not_bytes_are_rejected(items: Any) -> None:
    error = _rejected(_spoiled(wire.History(PEER, ()), items=items))
    assert "items" in str(error)


def test_history_over_max_list_items_is_rejected() -> None:
    _rejected(_spoiled(wire.History(PEER, ()), items=[b""] * (wire.MAX_LIST + 1)))


def test_list_peers_with_a_field_is_rejected() -> None:
    _rejected(_pack({"v": V, "type": "list", "peer": PEER}))


def test_extension_types_are_rejected() -> None:
    _rejected(_pack({"v": V, "type": "ping", "peer": PEER, "ts": msgpack.ExtType(5, b"x")}))
    _rejected(_pack({"v": V, "type": msgpack.ExtType(1, b"ping"), "peer": PEER, "ts": 1.0}))
    _rejected(_pack(msgpack.ExtType(3, b"\x00\x01")))


def test_deeply_nested_frame_is_rejected() -> None:
    frame = b"\x91" * 100_000 + b"\xc0"  # [[[[...nil...]]]]
    _rejected(frame)
    _rejected(_pack({"v": V, "type": "leave", "peer": [[[[[[[[[[PEER]]]]]]]]]]}))


# -- fuzzing --------------------------------------------------------------------------------------


def test_random_bytes_raise_only_wire_error() -> None:
    rng = random.Random(20240601)
    valid = [wire.encode(m) for m in SAMPLES]
    for _ in range(3000):
        how = rng.random()
        if how < 0.4:
            frame = rng.randbytes(rng.randrange(0, 64))
        elif how < 0.7:  # a valid frame with a few bytes flipped
            spoilt = bytearray(rng.choice(valid))
            for _ in range(rng.randrange(1, 4)):
                spoilt[rng.randrange(len(spoilt))] = rng.randrange(256)
            frame = bytes(spoilt)
        else:  # a valid prefix followed by junk
            base = rng.choice(valid)
            frame = base[: rng.randrange(len(base))] + rng.randbytes(rng.randrange(0, 16))
        with contextlib.suppress(wire.WireError):
            wire.decode(frame)


_KEYS = ["v", "type", "peer", "pub", "degree", "seed", "peers", "dead", "ts", "reporter"]
_KEYS += ["items", "origin", "seq", "body", "extra"]
_KINDS = [kind.value for kind in wire.Kind]
_STRINGS = [PEER, OTHER, PUB, "abc", "", "1.2.3.4:0", "tcp://", "300.1.1.1:5", *_KINDS]


def _random_scalar(rng: random.Random) -> Any:
    choice = rng.randrange(9)
    if choice == 0:
        return None
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        return rng.choice([0, 1, 2, -1, 1 << 63, (1 << 64) - 1, -(1 << 63), rng.randrange(-9, 9)])
    if choice == 3:
        return rng.choice([0.0, -0.0, 1.5, math.nan, math.inf, -math.inf, rng.random()])
    if choice == 4:
        return rng.choice(_STRINGS)
    if choice == 5:
        return "".join(chr(rng.randrange(0x20, 0x2FF)) for _ in range(rng.randrange(8)))
    if choice == 6:
        return rng.randbytes(rng.randrange(8))
    if choice == 7:
        return msgpack.ExtType(rng.randrange(128), rng.randbytes(2))
    return rng.choice(_KINDS)


def _random_object(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth >= 3 or roll < 0.5:
        return _random_scalar(rng)
    if roll < 0.75:
        return [_random_object(rng, depth + 1) for _ in range(rng.randrange(5))]
    # A map's keys are either all str or all bytes: mixed ones hit the bug that
    # test_extra_fields_with_mixed_str_and_binary_keys_are_rejected shows.
    binary = rng.random() < 0.2
    keys = [rng.choice(_KEYS) for _ in range(rng.randrange(5))]
    return {(key.encode() if binary else key): _random_object(rng, depth + 1) for key in keys}


def _random_envelope(rng: random.Random) -> dict[str, Any]:
    """A valid envelope with one to three fields dropped, added or replaced at random."""
    envelope = _envelope(rng.choice(SAMPLES))
    for _ in range(rng.randrange(1, 4)):
        key = rng.choice([*envelope, *_KEYS])
        if rng.random() < 0.25:
            envelope.pop(key, None)
        else:
            envelope[key] = _random_object(rng, 1)
    return envelope


def test_random_msgpack_objects_raise_only_wire_error() -> None:
    rng = random.Random(7)
    accepted = 0
    for _ in range(4000):
        obj = _random_envelope(rng) if rng.random() < 0.7 else _random_object(rng)
        try:
            message = wire.decode(_pack(obj))
        except wire.WireError:
            continue
        accepted += 1
        assert wire.decode(wire.encode(message)) == message
    assert 0 < accepted < 400  # the fuzzer builds mostly bad frames, and a few good ones


@pytest.mark.parametrize("peer", ["001.2.3.4:5", "1.2.3.4:05", "1.2.3.4:65536"])
def test_peer_id_has_one_spelling(peer: str) -> None:
    _rejected(_spoiled(wire.Leave(PEER), peer=peer))


@pytest.mark.parametrize("ts", [float("inf"), float("-inf"), float("nan")])
def test_timestamps_are_finite(ts: float) -> None:
    _rejected(_spoiled(wire.Ping(PEER, 1.0), ts=ts))


@pytest.mark.parametrize("body", ["text", b"\x00\xffbinary", ""])
def test_gossip_body_is_text_or_bytes_and_round_trips_as_it_was(body: str | bytes) -> None:
    message = wire.Gossip(PEER, 1, 1.0, body)
    decoded = wire.decode(wire.encode(message))
    assert decoded == message and type(decoded.body) is type(body)  # type: ignore[union-attr]


def test_gossip_frame_carries_the_sender_then_the_envelope_untouched() -> None:
    envelope = wire.encode(wire.Gossip(OTHER, 1, 1.0, "hi"))
    frame = wire.gossip_frame(PEER.encode(), envelope)
    raw, view = wire.split_gossip(frame)
    assert wire.sender_id(raw) == PEER
    assert bytes(view) == envelope


@pytest.mark.parametrize(
    "frame",
    [b"", b"\x00", b"\x16" + b"1" * 30, b"\x05abc", b"\x0a10.0.0.1:1"],
    ids=["empty", "no-sender", "sender-too-long", "truncated", "no-envelope"],
)
def test_malformed_gossip_frames_are_refused(frame: bytes) -> None:
    with pytest.raises(wire.WireError, match="gossip frame"):
        wire.split_gossip(frame)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"not-an-id", b"10.0.0.1:0", b"300.0.0.1:5"])
def test_gossip_sender_must_be_ip_port(raw: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.sender_id(raw)


@pytest.mark.parametrize(
    "seqs",
    ["3", None, [1, -1], [1, "2"], [1, True], [1.0], list(range(wire.MAX_REPAIR + 1))],
    ids=lambda value: repr(value)[:30],
)
def test_repair_requests_of_wrong_shape_are_rejected(seqs: Any) -> None:
    error = _rejected(_spoiled(wire.Repair(PEER, OTHER, (1,)), seqs=seqs))
    assert "seqs" in str(error)


def test_a_dead_report_reads_as_the_assignment_writes_it() -> None:
    report = wire.Dead("10.0.0.2:6001", 1_700_000_000.5, "10.0.0.1:6000")
    assert report.line() == "Dead Node:10.0.0.2:6001:1700000000.5:10.0.0.1"


@pytest.mark.parametrize(
    "ids",
    [b"x" * 16, [b"x" * 15], [b"x" * 17], ["x" * 16], [b"x" * 16, 5]],
    ids=["not-a-list", "short", "long", "text", "mixed"],
)
def test_announced_ids_of_wrong_shape_are_rejected(ids: Any) -> None:
    for message in (wire.IHave(PEER, ()), wire.Graft(PEER, ())):
        error = _rejected(_spoiled(message, ids=ids))
        assert "ids" in str(error)


def test_a_batch_frame_carries_its_envelopes_untouched_and_never_looks_like_one_message() -> None:
    envelopes = tuple(wire.encode(wire.Gossip(OTHER, n, 1.0, f"m{n}")) for n in range(3))
    frame = wire.batch_frame(PEER, envelopes)
    assert wire.is_batch(frame) and not wire.is_batch(wire.gossip_frame(PEER.encode(), b"x"))
    assert wire.decode(frame[1:]) == wire.Batch(PEER, envelopes)
    with pytest.raises(wire.WireError):
        wire.split_gossip(frame)


@pytest.mark.parametrize(
    ("message", "field", "value"),
    [
        (wire.Roster(PEER, 0, 0, ()), "members", [[OTHER, "asleep", 1.0]]),
        (wire.Roster(PEER, 0, 0, ()), "members", [[OTHER, "alive"]]),
        (wire.Roster(PEER, 0, 0, ()), "members", [["nobody", "alive", 1.0]]),
        (wire.Roster(PEER, 0, 0, ()), "members", [[OTHER, "alive", float("nan")]]),
        (wire.Watch((), 0), "events", "gossip.*"),
        (wire.Watch((), 0), "events", [""]),
        (wire.Watch((), 0), "events", ["x" * (wire.MAX_NAME + 1)]),
        (wire.Watch((), 0), "events", ["e"] * (wire.MAX_NAMES + 1)),
        (wire.Watch((), 0), "events", [b"gossip.*"]),
        (wire.Watch((), 0), "read", -1),
        (wire.Watched(PEER, 0, ()), "events", [["json only"]]),
        (wire.Watched(PEER, 0, ()), "events", [["{}", b"text"]]),
        (wire.Watched(PEER, 0, ()), "events", ["{}"]),
        (wire.Said(PEER, "ab" * 16), "id", "AB" * 16),
        (wire.Said(PEER, "ab" * 16), "id", "ab" * 15),
        (wire.Said(PEER, "ab" * 16), "id", b"\x01" * 16),
        (wire.Refused(PEER, "no"), "reason", "x" * (wire.MAX_NAME * 4 + 1)),
    ],
    ids=lambda v: v.KIND.value if hasattr(v, "KIND") else str(v)[:12],
)
def test_monitor_and_send_messages_of_wrong_shape_are_rejected(
    message: wire.Message, field: str, value: Any
) -> None:
    assert field in str(_rejected(_spoiled(message, **{field: value})))


@pytest.mark.parametrize(
    "tags",
    [
        [["a=b", "c"]],
        [["", "c"]],
        [["k", "v"], ["k", "w"]],
        [["k", 1]],
        [["k"]],
        {"k": "v"},
        [["k" * 129, "v"]],
        [["k", "v" * 4096]],
    ],
    ids=repr,
)
def test_bad_tags_are_refused(tags: Any) -> None:
    _rejected(_spoiled(wire.Register(PEER, PUB, ()), tags=tags))


def test_tags_come_sorted_and_up_to_4_kib_are_taken() -> None:
    assert wire.check_tags([("b", "2"), ("a", "1")]) == (("a", "1"), ("b", "2"))
    assert len(wire.check_tags([("k", "v" * 4095)])[0][1]) == 4095


FACT = [OTHER, 5, 1, "alive", 1.5, [["role", "db"]]]


@pytest.mark.parametrize(
    "facts",
    [
        [FACT[:5]],
        [[OTHER, 5, 1, "gone", 1.5, []]],
        [[OTHER, -1, 1, "alive", 1.5, []]],
        [[OTHER, 5, 1.5, "alive", 1.5, []]],
        [[OTHER, 5, 1, "alive", float("nan"), []]],
        [["nobody", 5, 1, "alive", 1.5, []]],
        [[OTHER, 5, 1, "alive", 1.5, [["k", "v" * 4096]]]],
        {"facts": 1},
    ],
    ids=repr,
)
def test_bad_member_facts_are_refused(facts: Any) -> None:
    assert "facts" in str(_rejected(_spoiled(wire.Facts(PEER, (), False, False), facts=facts)))


@pytest.mark.parametrize("sums", [b"", b"\x00" * 2047, b"\x00" * 2049, "0" * 2048])
def test_sums_are_exactly_a_bucket_of_8_bytes_each(sums: Any) -> None:
    assert "sums" in str(_rejected(_spoiled(wire.Sums(PEER, bytes(2048), False), sums=sums)))


@pytest.mark.parametrize(
    ("message", "field", "value"),
    [
        (wire.Ask("info", "", (), 5.0), "name", ""),
        (wire.Ask("info", "", (), 5.0), "name", "x" * 65),
        (wire.Ask("info", "", (), 5.0), "timeout", 0),
        (wire.Ask("info", "", (), 5.0), "timeout", 3601),
        (wire.Ask("info", "", (), 5.0), "payload", "x" * (wire.MAX_BODY + 1)),
        (wire.Answer(PEER, 1, "ok", ""), "status", "maybe"),
        (wire.Answer(PEER, 1, "ok", ""), "id", -1),
        (wire.Ended(PEER, 1, (), (), False), "missing", ["nobody"]),
    ],
    ids=lambda v: v.KIND.value if hasattr(v, "KIND") else str(v)[:12],
)
def test_query_messages_of_wrong_shape_are_rejected(
    message: wire.Message, field: str, value: Any
) -> None:
    assert field in str(_rejected(_spoiled(message, **{field: value})))
