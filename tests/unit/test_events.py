"""The event log: one JSON object a line, the same as listeners get (fake clock)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zgossip.events import EventLog, Record
from zgossip.protocol import records
from zgossip.protocol.clock import FakeClock


@records.event("test.odd")
class _Odd(records.Event):
    value: Any
    sender: str


ODD_VALUES: list[Any] = [
    "plain",
    'quotes " and \\ backslash',
    "new\nline\ttab\x00nul",
    "non-ascii: é ∑ 🙂",
    "",
    0,
    -7,
    1 << 70,
    1764167000.123456,
    0.1,
    float("nan"),
    float("inf"),
    True,
    False,
    None,
    ["127.0.0.1:5001", 3],
    {"nested": [1, 2.5, "x"]},
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_json_line_is_what_json_dumps_would_write_and_what_listeners_get(
    tmp_path: Path, value: Any
) -> None:
    clock = FakeClock()
    log = EventLog("127.0.0.1:6001", "peer", clock, json_path=tmp_path / "events.jsonl")
    heard: list[Record] = []
    log.listen(heard.append)
    log.emit(_Odd(value, "127.0.0.1:6002"))
    log.close()
    (line,) = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    expected = {
        "ts": clock.time(),
        "node": "127.0.0.1:6001",
        "role": "peer",
        "event": "test.odd",
        **({} if value is None else {"value": value}),  # None: the field is left out
        "from": "127.0.0.1:6002",
    }
    assert line == json.dumps(expected, separators=(",", ":"))
    assert heard == [expected] or value != value  # NaN is not equal to itself
    assert list(heard[0]) == list(expected)  # the same fields, in the same order


def test_an_event_without_fields_has_the_four_keys(tmp_path: Path) -> None:
    log = EventLog("127.0.0.1:5001", "seed", FakeClock(), json_path=tmp_path / "e.jsonl")
    log.emit(records.Stopped())
    log.close()
    record = json.loads((tmp_path / "e.jsonl").read_text(encoding="utf-8"))
    assert record == {
        "ts": record["ts"],
        "node": "127.0.0.1:5001",
        "role": "seed",
        "event": "stopped",
    }


def test_started_says_whether_curvezmq_is_on() -> None:
    assert records.Started(["tcp://127.0.0.1:1"]).text().endswith("; CurveZMQ off")
    on = records.Started(["tcp://127.0.0.1:1"], "allow")
    assert on.text().endswith("; CurveZMQ on (allowed: allow)") and on.fields()["curve"] == "allow"
    assert "curve" not in records.Started(["tcp://127.0.0.1:1"]).fields()  # off: not in the log


def test_a_sender_s_bad_input_is_said_once_a_while_with_how_much_came(tmp_path: Path) -> None:
    clock = FakeClock()
    log = EventLog("127.0.0.1:6001", "peer", clock, json_path=tmp_path / "events.jsonl")
    for item in range(50_000):  # one history frame of 50,000 bad items, say
        log.emit(records.BadMessage(f"bad item {item}", "127.0.0.1:6002"))
    log.emit(records.BadMessage("garbage", None))  # another sender: said at once
    log.flush()
    clock.advance(1.0)
    log.flush()  # the quiet time is over: what was kept quiet is said
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["reason"], e.get("from"), e.get("count")) for e in lines] == [
        ("bad item 0", "127.0.0.1:6002", None),
        ("garbage", None, None),
        ("bad item 49999", "127.0.0.1:6002", 49_999),
    ]


def test_bad_input_from_ever_new_senders_is_said_at_most_so_often(tmp_path: Path) -> None:
    clock = FakeClock()
    log = EventLog("127.0.0.1:6001", "peer", clock, json_path=tmp_path / "e.jsonl", bad_lines=5)
    for n in range(1000):  # a forged sender id in every frame
        log.emit(records.BadMessage("garbage", f"10.0.{n // 250}.{n % 250}:1"))
    clock.advance(1.0)
    log.flush()
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert len(lines) == 5 + 1 + 1  # five said, then one for all: at once, and once quiet
    assert sum(e.get("count", 1) for e in lines) == 1000
