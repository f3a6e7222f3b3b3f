"""The member list's rules (protocol.members): the newer fact wins whatever the order,
nothing comes back from its end, a peer refutes what is said of it, and the sums find
where two lists differ."""

from __future__ import annotations

import itertools
import random

from zgossip.protocol import wire
from zgossip.protocol.members import Members, bucket, fact_hash, matches, precedence

ME, A, B = "10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000"
NOW = 1_767_225_600.0


def _list(me: str = ME, **options: float) -> Members:
    limit = int(options.get("limit", 1000))
    return Members(me, run=1, since=NOW, tags=(), limit=limit, keep=options.get("keep", 3600.0))


def _fact(
    peer: str, run: int, ver: int, state: str, tags: tuple[tuple[str, str], ...] = ()
) -> wire.Fact:
    return wire.Fact(peer, run, ver, state, NOW, tags)


FACTS = [
    _fact(A, 1, 0, "alive"),
    _fact(A, 1, 1, "alive", (("role", "db"),)),
    _fact(A, 1, 1, "suspect", (("role", "db"),)),
    _fact(A, 1, 2, "alive", (("role", "web"),)),
    _fact(A, 1, 0, "dead"),
    _fact(A, 1, 0, "left"),
    _fact(A, 2, 0, "alive", (("role", "new"),)),
    _fact(B, 5, 0, "alive"),
    _fact(B, 5, 0, "dead"),
]


def test_any_order_of_the_same_facts_gives_the_same_list_and_sums() -> None:
    seen: set[tuple[tuple[wire.Fact, ...], bytes]] = set()
    for order in itertools.islice(itertools.permutations(FACTS), 0, None, 97):
        members = _list()
        for fact in order:
            members.merge(fact, NOW)
        seen.add((tuple(sorted(members, key=lambda f: f.peer)), members.sums()))
    assert len(seen) == 1
    ((facts, _),) = seen
    assert [(f.peer, f.run, f.state) for f in facts] == [
        (ME, 1, "alive"),
        (A, 2, "alive"),
        (B, 5, "dead"),
    ]


def test_the_sums_follow_every_change_of_the_list() -> None:
    """The sums are kept packed between changes: each change must show in them."""

    def fresh(members: Members) -> bytes:
        sums = [0] * wire.SUM_BUCKETS
        for fact in members:
            sums[bucket(fact.peer)] ^= fact_hash(fact)
        return b"".join(x.to_bytes(8, "big") for x in sums)

    members = _list(keep=10.0)
    neighbour = _list(B)
    assert members.differing(neighbour.sums()) == sorted([bucket(ME), bucket(B)])
    changes = [
        lambda: members.merge(_fact(A, 1, 0, "alive"), NOW),
        lambda: members.merge(_fact(A, 1, 1, "alive", (("role", "db"),)), NOW),
        lambda: members.set_tags((("zone", "eu"),)),
        lambda: members.merge(_fact(A, 1, 0, "dead"), NOW),
        lambda: members.expire(NOW + 11.0),
        lambda: members.leave(NOW + 12.0),
    ]
    for change in changes:
        before = members.sums()
        change()
        assert members.sums() != before
        assert members.sums() == fresh(members)
    assert members.differing(members.sums()) == []


def test_nothing_said_before_a_runs_end_brings_the_peer_back() -> None:
    members = _list()
    members.merge(_fact(A, 1, 3, "alive"), NOW)
    change = members.merge(_fact(A, 1, 0, "dead"), NOW)
    assert change is not None and change.news == "failed"
    for late in (_fact(A, 1, 99, "alive"), _fact(A, 1, 99, "suspect"), _fact(A, 0, 0, "alive")):
        assert members.merge(late, NOW) is None
    assert members.get(A) == _fact(A, 1, 0, "dead")
    joined = members.merge(_fact(A, 2, 0, "alive"), NOW)  # it restarted: a new run
    assert joined is not None and joined.news == "joined"


def test_news_says_what_a_program_would_want_to_hear() -> None:
    members = _list()
    news = [
        change.news if change else None
        for change in (
            members.merge(_fact(A, 1, 0, "alive"), NOW),
            members.merge(_fact(A, 1, 1, "alive", (("k", "v"),)), NOW),
            members.merge(_fact(A, 1, 1, "alive", (("k", "v"),)), NOW),
            members.merge(_fact(A, 1, 1, "left"), NOW),
            members.merge(_fact(B, 1, 0, "dead"), NOW),  # never held alive: no news
        )
    ]
    assert news == ["joined", "updated", None, "left", ""]


def test_a_peer_called_dead_lives_on_as_a_new_run_and_one_called_suspect_as_a_new_version() -> None:
    members = _list()
    suspect = members.merge(_fact(ME, 1, 0, "suspect"), NOW)
    assert suspect is not None and suspect.fact == members.own
    assert (members.own.run, members.own.ver, members.own.state) == (1, 1, "alive")
    dead = members.merge(_fact(ME, 1, 0, "dead"), NOW + 1)
    assert dead is not None and members.own.state == "alive"
    assert members.own.run == int((NOW + 1) * 1e9)  # past the dead run
    assert precedence(members.own) > precedence(_fact(ME, 1, 0, "dead"))
    assert members.merge(_fact(ME, 1, 0, "dead"), NOW + 2) is None  # an old death: nothing


def test_after_we_leave_nothing_said_of_us_is_refuted() -> None:
    members = _list()
    left = members.leave(NOW)
    assert left.state == "left" and members.get(ME) == left
    assert members.merge(_fact(ME, 1, 5, "dead"), NOW) is None


def test_our_tags_are_a_new_version_of_our_fact() -> None:
    members = _list()
    fact = members.set_tags((("role", "db"),))
    assert (fact.ver, fact.tags) == (1, (("role", "db"),))
    other = _list(A)
    change = other.merge(fact, NOW)
    assert change is not None and change.news == "joined"


def test_two_lists_that_exchange_the_facts_of_differing_buckets_end_equal() -> None:
    rng = random.Random(5)
    left, right = _list(ME), _list(A)
    for n in range(600):
        fact = _fact(
            f"10.1.{n // 200}.{n % 200 + 1}:5000",
            rng.randrange(3),
            rng.randrange(3),
            rng.choice(wire.FACT_STATES),
        )
        (left if rng.random() < 0.5 else right).merge(fact, NOW)
    assert left.differing(right.sums())
    for _ in range(30):  # 4 KiB an answer: about 70 facts
        for one, other in ((left, right), (right, left)):
            facts, _ = one.facts_in(one.differing(other.sums()), 4096)
            for fact in facts:
                other.merge(fact, NOW)
    assert left.differing(right.sums()) == []
    assert sorted(left, key=lambda f: f.peer) == sorted(right, key=lambda f: f.peer)


def test_an_answer_is_cut_at_its_size_and_says_so() -> None:
    members = _list()
    for n in range(100):
        members.merge(_fact(f"10.1.0.{n + 1}:5000", 1, 0, "alive"), NOW)
    buckets = list(range(wire.SUM_BUCKETS))
    facts, whole = members.facts_in(buckets, 1000)
    assert len(whole) < len(buckets) and 0 < len(facts) < 100
    assert all(fact in facts for fact in members if bucket(fact.peer) in whole)  # whole, each


def test_ends_are_kept_for_a_while_then_forgotten_and_old_ends_not_taken_again() -> None:
    members = _list(keep=60.0)
    members.merge(_fact(A, 1, 0, "alive"), NOW)
    members.merge(_fact(A, 1, 0, "dead"), NOW)
    members.expire(NOW + 30)
    assert members.get(A) is not None
    members.expire(NOW + 61)
    assert members.get(A) is None and len(members) == 1
    assert members.merge(_fact(A, 1, 0, "dead"), NOW + 61) is None


def test_a_full_list_forgets_its_oldest_end_and_turns_away_a_new_peer_only_when_all_live() -> None:
    members = _list(limit=3)
    members.merge(_fact(A, 1, 0, "dead"), NOW)
    members.merge(_fact(B, 1, 0, "alive"), NOW)
    assert members.merge(_fact("10.0.0.4:5000", 1, 0, "alive"), NOW) is not None
    assert members.get(A) is None and len(members) == 3
    assert members.merge(_fact("10.0.0.5:5000", 1, 0, "alive"), NOW) is None
    assert members.refused == 1


def test_peers_spread_over_the_buckets() -> None:
    used = {bucket(f"10.{n // 250}.{n % 250}.1:5000") for n in range(2000)}
    assert len(used) > wire.SUM_BUCKETS * 0.95


def test_a_tag_filter_wants_every_key_with_a_value_matching_its_pattern() -> None:
    tags = (("role", "db-1"), ("zone", "eu"))
    assert matches(tags, ())
    assert matches(tags, (("role", "db*"),))
    assert matches(tags, (("role", "db-[12]"), ("zone", "eu")))
    assert not matches(tags, (("role", "db"),))  # a plain value: itself, whole
    assert not matches(tags, (("rack", "*"),))  # a key it does not have
