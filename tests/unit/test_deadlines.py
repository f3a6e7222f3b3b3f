"""One deadline structure per node: keys due soonest first, moved and cancelled in O(log n)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from zgossip.protocol.deadlines import Deadlines

#: Any hashable key does: the cores' are typed records, tuples here.
Key = tuple[str | int, ...]


def test_keys_come_due_soonest_first_and_only_once() -> None:
    deadlines = Deadlines[Key]()
    deadlines.set(("b",), 2.0)
    deadlines.set(("a",), 1.0)
    deadlines.set(("c",), 3.0)
    assert deadlines.next() == 1.0
    assert deadlines.due(2.0) == [("a",), ("b",)]
    assert deadlines.due(2.0) == []
    assert deadlines.next() == 3.0 and len(deadlines) == 1


def test_setting_a_key_again_moves_it_and_cancelling_drops_it() -> None:
    deadlines = Deadlines[Key]()
    deadlines.set(("link", "x"), 1.0)
    deadlines.set(("link", "x"), 5.0)
    deadlines.set(("probe", "y"), 2.0)
    deadlines.cancel(("probe", "y"))
    deadlines.cancel(("never", "set"))
    assert deadlines.next() == 5.0 and deadlines.get(("link", "x")) == 5.0
    assert deadlines.due(4.0) == []
    assert deadlines.due(5.0) == [("link", "x")]
    assert deadlines.next() is None and ("link", "x") not in deadlines


def test_equal_deadlines_come_in_the_order_they_were_set() -> None:
    deadlines = Deadlines[Key]()
    for n in range(5):
        deadlines.set(("k", n), 1.0)
    assert deadlines.due(1.0) == [("k", n) for n in range(5)]


def test_the_heap_stays_within_twice_the_keys_however_often_they_move() -> None:
    deadlines = Deadlines[Key]()
    rng = random.Random(1)
    for step in range(100_000):  # a seed touching 100 registrations over and over
        deadlines.set(("silent", step % 100), rng.random() * 1000)
    assert len(deadlines) == 100
    assert deadlines.entries <= 2 * 100 + 64


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(0, 100), st.booleans()), max_size=200))
def test_due_agrees_with_a_plain_dict(ops: list[tuple[int, float, bool]]) -> None:
    deadlines, plain = Deadlines[Key](), dict[int, float]()
    for key, when, cancel in ops:
        if cancel:
            deadlines.cancel(("k", key))
            plain.pop(key, None)
        else:
            deadlines.set(("k", key), when)
            plain[key] = when
    assert deadlines.next() == min(plain.values(), default=None)
    due = deadlines.due(50.0)
    assert sorted(due) == sorted(("k", key) for key, when in plain.items() if when <= 50.0)
    assert [plain[int(k[1])] for k in due] == sorted(plain[int(k[1])] for k in due)


@given(
    st.lists(
        st.tuples(st.sampled_from(["set", "cancel", "due"]), st.integers(0, 8), st.floats(0, 100)),
        max_size=200,
    )
)
def test_next_agrees_with_a_plain_dict_after_every_step(
    ops: list[tuple[str, int, float]],
) -> None:
    """next() keeps its answer between steps: moving the soonest later, cancelling it, or
    its coming due must each make it look again."""
    deadlines, plain = Deadlines[Key](), dict[int, float]()
    for op, key, when in ops:
        if op == "set":
            deadlines.set(("k", key), when)
            plain[key] = when
        elif op == "cancel":
            deadlines.cancel(("k", key))
            plain.pop(key, None)
        else:
            came = sorted(int(k[1]) for k in deadlines.due(when))
            assert came == sorted(k for k, w in plain.items() if w <= when)
            plain = {k: w for k, w in plain.items() if w > when}
        assert deadlines.next() == min(plain.values(), default=None)
