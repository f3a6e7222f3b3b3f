"""Which of many repeats to say: the first at once, then one a while with a count."""

from __future__ import annotations

from zgossip.protocol.repeats import Repeats


def test_the_first_is_said_at_once_then_one_a_while_with_a_count() -> None:
    quiet = Repeats(quiet=10.0, max_keys=2)
    assert quiet.report("a", 0.0) == 1
    assert [quiet.report("a", t) for t in (1.0, 2.0, 9.0)] == [None, None, None]
    assert quiet.report("a", 10.0) == 4  # three kept quiet, and this one
    assert quiet.report("b", 10.0) == 1
    assert quiet.report("c", 10.0) == 1  # over max_keys: memory is cleared, stays bounded
    assert quiet.report("a", 11.0) == 1


def test_what_was_kept_quiet_is_due_once_the_quiet_time_is_over() -> None:
    quiet = Repeats(quiet=1.0)
    quiet.report("a", 0.0)
    quiet.report("a", 0.2)
    quiet.report("a", 0.4)
    quiet.report("b", 0.5)  # said at once: nothing kept quiet
    assert quiet.due(0.9) == []
    assert quiet.due(1.0) == [("a", 2)]
    assert quiet.due(5.0) == []  # said: counted from zero again
    assert quiet.report("a", 1.5) is None  # within the quiet time of that saying


def test_when_a_count_kept_quiet_is_due_is_known_and_nothing_before() -> None:
    quiet = Repeats(quiet=1.0)
    assert quiet.next_due is None
    quiet.report("a", 0.0)
    assert quiet.next_due is None  # said at once: nothing kept quiet
    quiet.report("b", 0.5)
    quiet.report("a", 0.2)
    quiet.report("b", 0.6)
    assert quiet.next_due == 1.0  # a's quiet time ends first
    assert quiet.due(0.99) == []
    assert quiet.due(1.0) == [("a", 1)]
    assert quiet.next_due == 1.5  # then b's
    assert quiet.due(1.5) == [("b", 1)]
    assert quiet.next_due is None
