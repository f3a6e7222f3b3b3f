"""The epidemic broadcast tree's bookkeeping, with no peer around it (zgossip.protocol.tree)."""

from __future__ import annotations

import pytest

from zgossip.protocol.clock import FakeClock
from zgossip.protocol.deadlines import Deadlines
from zgossip.protocol.tree import ANNOUNCE, GraftTimeout, Tree, TreeKey

A, B, C, D = "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"
INTERVAL, TIMEOUT, HURRY, HURRY_FOR = 0.2, 0.25, 0.05, 1.0


def _tree(
    *links: str, lazy: bool = True, max_announce: int = 100, max_announced: int = 100
) -> tuple[Tree, Deadlines[TreeKey], FakeClock]:
    deadlines: Deadlines[TreeKey] = Deadlines()
    clock = FakeClock()
    tree = Tree(
        deadlines,
        clock,
        lazy=lazy,
        announce_interval=INTERVAL,
        graft_timeout=TIMEOUT,
        hurry_interval=HURRY,
        hurry_for=HURRY_FOR,
        max_announce=max_announce,
        max_announced=max_announced,
    )
    for link in links:
        tree.add(link)
    return tree, deadlines, clock


def _id(n: int) -> bytes:
    return n.to_bytes(16, "big")


def test_links_start_eager_and_a_message_goes_to_all_but_its_sender() -> None:
    tree, deadlines, _ = _tree(A, B, C)
    assert tree.first(_id(1), B) == [A, C]
    assert tree.first(_id(2), "10.9.9.9:1") == [A, B, C]  # our own
    assert ANNOUNCE not in deadlines  # no lazy link: nothing to announce


def test_a_duplicate_prunes_once_and_the_pruned_link_hears_ids_in_one_batch() -> None:
    tree, deadlines, clock = _tree(A, B, C)
    tree.first(_id(1), A)
    assert tree.duplicate(B) and not tree.duplicate(B)
    assert list(tree.eager) == [A, C] and list(tree.lazy) == [B]
    assert tree.first(_id(2), A) == [C]
    tree.first(_id(3), C)
    assert deadlines.get(ANNOUNCE) == clock.monotonic() + INTERVAL
    assert tree.announcements() == {B: (_id(2), _id(3))}
    assert tree.announcements() == {}  # told once


def test_an_id_is_not_announced_to_its_sender_nor_to_who_announced_it_first() -> None:
    tree, _, _ = _tree(A, B, C, D)
    for peer in (B, C, D):
        tree.pruned(peer)
    tree.announced(C, [_id(1)], have=set())
    assert tree.first(_id(1), B) == [A]
    tree.announced(D, [_id(1)], have={_id(1)})  # it has it too: no need to tell it
    assert tree.announcements() == {}


def test_a_message_pushed_by_a_lazy_link_puts_it_back_on_the_tree() -> None:
    tree, _, _ = _tree(A, B)
    tree.pruned(B)
    tree.first(_id(1), B)
    assert list(tree.eager) == [A, B] and not tree.lazy


def test_an_announced_message_missing_is_grafted_from_each_live_announcer_in_turn() -> None:
    tree, deadlines, clock = _tree(A, B, C)
    for peer in (A, B, C):
        tree.pruned(peer)
    tree.announced(A, [_id(1)], have=set())
    tree.announced(B, [_id(1)], have=set())
    tree.announced(C, [_id(1)], have=set())
    assert deadlines.get(GraftTimeout(_id(1))) == clock.monotonic() + TIMEOUT
    clock.advance(TIMEOUT)
    assert tree.grafts([_id(1)]) == {A: [_id(1)]}
    assert A in tree.eager and B in tree.lazy
    tree.remove(B)  # gone before its turn
    clock.advance(TIMEOUT)
    assert tree.grafts([_id(1)]) == {C: [_id(1)]}
    assert tree.given_up == []
    assert tree.grafts([_id(1)]) == {}  # all asked: given up, and said to the peer
    assert tree.given_up == [_id(1)]
    assert tree.grafts([_id(1)]) == {}
    assert tree.given_up == [_id(1)]


def test_a_message_that_comes_cancels_its_graft() -> None:
    tree, deadlines, _ = _tree(A, B)
    tree.pruned(B)
    tree.announced(B, [_id(1)], have=set())
    tree.first(_id(1), A)
    assert GraftTimeout(_id(1)) not in deadlines
    assert tree.grafts([_id(1)]) == {}


def test_awaited_ids_are_bounded_the_oldest_given_up() -> None:
    tree, deadlines, _ = _tree(A, max_announced=3)
    tree.pruned(A)
    tree.announced(A, [_id(n) for n in range(5)], have=set())
    assert [GraftTimeout(_id(n)) in deadlines for n in range(5)] == [False, False, True, True, True]
    assert tree.given_up == [_id(0), _id(1)]
    assert tree.grafts([_id(0), _id(4)]) == {A: [_id(4)]}


def test_the_last_eager_link_is_never_pruned() -> None:
    tree, _, _ = _tree(A, B)
    tree.first(_id(1), A)
    assert tree.duplicate(B)
    assert not tree.duplicate(A)  # the last: a copy costs less than hearing only of ids
    assert list(tree.eager) == [A] and list(tree.lazy) == [B]
    lone, _, _ = _tree(C)
    lone.first(_id(2), C)
    assert not lone.duplicate(C) and list(lone.eager) == [C]


def test_a_full_batch_of_ids_is_announced_at_once() -> None:
    tree, deadlines, clock = _tree(A, B, max_announce=2)
    tree.pruned(B)
    tree.first(_id(1), A)
    assert deadlines.get(ANNOUNCE) == clock.monotonic() + INTERVAL
    tree.first(_id(2), A)
    assert deadlines.get(ANNOUNCE) == clock.monotonic()


def test_the_flood_keeps_every_link_eager_and_announces_nothing() -> None:
    tree, deadlines, _ = _tree(A, B, C, lazy=False)
    tree.first(_id(1), A)
    assert not tree.duplicate(B)
    tree.pruned(C)
    assert list(tree.eager) == [A, B, C]
    assert tree.first(_id(2), C) == [A, B]
    assert ANNOUNCE not in deadlines


def test_a_link_grafted_before_the_announcement_still_hears_of_what_came_while_it_was_lazy() -> (
    None
):
    tree, _, _ = _tree(A, B)
    tree.pruned(B)
    assert tree.first(_id(1), A) == []  # not pushed to B: lazy then
    tree.grafted(B)  # B asked for something else meanwhile
    assert tree.announcements() == {B: (_id(1),)}  # else B would never get it


def test_announcements_ride_on_the_wake_up_of_a_later_message_once_half_due() -> None:
    tree, deadlines, clock = _tree(A, B)
    tree.pruned(B)
    tree.first(_id(1), A)
    clock.advance(INTERVAL / 4)
    tree.first(_id(2), A)
    assert deadlines.get(ANNOUNCE) == pytest.approx(clock.monotonic() + 3 * INTERVAL / 4)
    clock.advance(INTERVAL / 2)
    tree.first(_id(3), A)
    assert deadlines.get(ANNOUNCE) == clock.monotonic()  # awake anyway: now


def test_after_a_graft_announcements_hurry_for_a_while_then_calm_down() -> None:
    tree, deadlines, clock = _tree(A, B, C)
    tree.pruned(B)
    tree.first(_id(1), A)
    assert deadlines.get(ANNOUNCE) == pytest.approx(clock.monotonic() + INTERVAL)
    tree.grafted(C)  # C asked us for something: the tree is broken near here
    assert deadlines.get(ANNOUNCE) == pytest.approx(clock.monotonic() + HURRY)
    tree.announcements()
    deadlines.cancel(ANNOUNCE)
    tree.first(_id(2), A)
    assert deadlines.get(ANNOUNCE) == pytest.approx(clock.monotonic() + HURRY)
    clock.advance(HURRY_FOR)
    tree.announcements()
    deadlines.cancel(ANNOUNCE)
    tree.first(_id(3), A)  # calm again
    assert deadlines.get(ANNOUNCE) == pytest.approx(clock.monotonic() + INTERVAL)
