"""The clock helpers: the soonest of several optional deadlines."""

from __future__ import annotations

from zgossip.protocol.clock import earliest


def test_earliest_is_the_soonest_deadline_given() -> None:
    assert earliest(3.0, None, 1.5, 2.0) == 1.5


def test_earliest_of_no_deadline_is_none() -> None:
    assert earliest() is None
    assert earliest(None, None) is None
