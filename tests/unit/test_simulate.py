"""The simulator: the real cores on a simulated network, deterministic, with no pyzmq."""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from zgossip.protocol import records, wire
from zgossip.simulate import Partition, Scenario, Simulation
from zgossip.tools.cli import app

SMALL = {"nodes": 60, "messages": 6, "settle": 1.0, "drain": 2.0}


def _run(**options: object) -> tuple[str, str]:
    """The events a run writes, and its summary."""
    log = io.StringIO()
    summary = Simulation(Scenario(**{**SMALL, **options}), log).run()  # type: ignore[arg-type]
    return log.getvalue(), repr(summary)


def test_the_same_seed_gives_the_same_run_byte_for_byte_and_another_seed_another() -> None:
    first, again, other = _run(seed=7, loss=0.01), _run(seed=7, loss=0.01), _run(seed=8, loss=0.01)
    assert first == again
    assert first[0] != other[0]


def test_every_live_peer_gets_every_message_exactly_once_in_a_stable_network() -> None:
    summary = Simulation(Scenario(**SMALL)).run()  # type: ignore[arg-type]
    assert summary.messages == 6 and summary.complete == 6
    assert summary.reliability_min == 1.0
    assert summary.false_deaths == 0 and summary.bad_messages == 0


def test_the_cycle_collector_is_off_while_a_run_advances_and_left_as_it_was() -> None:
    simulation = Simulation(Scenario(**SMALL))  # type: ignore[arg-type]
    seen: list[bool] = []
    simulation.at(0.5, lambda: seen.append(gc.isenabled()))
    was = gc.isenabled()
    try:
        gc.enable()
        simulation.advance(1.0)
        assert seen == [False] and gc.isenabled()
        gc.disable()  # a caller that turned it off itself keeps it off
        simulation.advance(2.0)
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_the_event_log_has_the_names_and_fields_of_real_nodes() -> None:
    log, _ = _run()
    lines = [json.loads(line) for line in log.splitlines()]
    known = {cls.NAME: cls for cls in vars(records).values() if _is_record(cls)}
    for line in lines:
        assert {"ts", "node", "role", "event"} <= line.keys()
        fields = {key for key, _ in known[line["event"]].FIELDS}
        assert set(line) - {"ts", "node", "role", "event"} <= fields
    received = [line for line in lines if line["event"] == "gossip.received"]
    assert len(received) == 6 * 59  # once per message per peer but its origin
    assert {"id", "body", "origin", "seq", "from"} <= received[0].keys()
    assert {line["role"] for line in lines} == {"seed", "peer"}


def test_sent_and_received_carry_the_origin_s_sequence_number() -> None:
    lines = [json.loads(line) for line in _run()[0].splitlines()]
    sent = {
        line["id"]: (line["node"], line["seq"]) for line in lines if line["event"] == "gossip.sent"
    }
    assert len({origin for origin, _ in sent.values()}) == 6  # six origins, one message each
    for line in lines:
        if line["event"] == "gossip.received":
            assert (line["origin"], line["seq"]) == sent[line["id"]]


def _is_record(value: object) -> bool:
    return (
        isinstance(value, type) and issubclass(value, records.Event) and value is not records.Event
    )


def test_killed_peers_are_found_and_removed_and_no_live_one_is() -> None:
    summary = Simulation(
        Scenario(nodes=40, messages=3, fail=0.25, liveness_interval=0.5, drain=6.0)
    ).run()
    assert summary.failed == 10 and summary.live == 30
    assert summary.dead_removed == 10  # by every seed that held them
    assert summary.false_deaths == 0
    assert summary.reliability_min > 0


def test_gossip_does_not_cross_a_partition_while_it_lasts() -> None:
    cut = Partition(start=1.2, end=3.0)  # the messages go from 1.3 s to 1.8 s
    summary = Simulation(Scenario(**{**SMALL, "partitions": [cut]})).run()  # type: ignore[arg-type]
    assert summary.complete == 0
    # some gets through on each side, none across (a side's own peers cut off from it by
    # the partition wait for liveness: 0.11-0.42 over seeds 1-8, a half at most)
    assert 0.1 < summary.reliability_mean < 0.55


def _two_parts(cross_rounds: int) -> tuple[bool, int]:
    """20 peers join as two parts of 10 that no link joins (each part's links to the other
    are refused while they join), every peer with its links, so none would link again;
    then one message from each part. Whether both reached every peer within 30 s, and how
    many links bridged the parts (``neighbour.bridged``)."""
    part: dict[str, int] = {}
    joining = True
    heard: dict[str, set[str]] = {}
    bridged = 0

    def refuse_across(node: str, carried: wire.Message | bytes) -> bool:
        if not joining or not isinstance(carried, wire.Link | wire.Ready):
            return False  # (Ready too: two that pick each other link without a Link)
        return part[carried.peer] != part[node]

    def listen(node: str, event: records.Event) -> None:
        nonlocal bridged
        if isinstance(event, records.GossipReceived):
            heard.setdefault(event.body, set()).add(node)
        elif isinstance(event, records.NeighbourBridged):
            bridged += 1

    scenario = Scenario(
        nodes=20, messages=0, seed=2, liveness_interval=1.0, options={"cross_rounds": cross_rounds}
    )
    sim = Simulation(scenario, listener=listen, deaf_to=refuse_across)
    sim.boot()
    for n in range(scenario.nodes):
        sim.at(n * scenario.join_interval, lambda n=n: part.setdefault(sim.join(), n % 2))
    peers = sim.peers()
    while joining:  # until the links refused timed out, and were made within the part
        sim.advance(sim.now + 1.0)
        assert sim.now < 60.0, "the parts never settled"
        peers = sim.peers()
        joining = len(peers) < scenario.nodes or not all(
            len(p.neighbours) >= p.config.links  # enough: no one links again
            and all(n.up and part[n.id] == part[p.id] for n in p.neighbours.values())
            for p in peers
        )
    origins = [next(p.id for p in peers if part[p.id] == side) for side in (0, 1)]
    for origin in origins:
        sim.broadcast(origin, f"from {origin}")
    sim.advance(sim.now + 30.0)
    everyone = set(part)
    reached = all(heard.get(f"from {o}", set()) | {o} == everyone for o in origins)
    return reached, bridged


def test_two_parts_of_the_overlay_that_no_link_joins_are_bridged_by_a_digest_across() -> None:
    assert _two_parts(cross_rounds=0) == (False, 0)  # each part keeps to itself
    reached, bridged = _two_parts(cross_rounds=4)
    assert reached and bridged >= 1


def test_the_command_prints_the_summary_and_its_json_on_the_last_line(tmp_path: Path) -> None:
    events = tmp_path / "sim.jsonl"
    args = ["simulate", "--nodes", "30", "--messages", "3", "--json", "--events", str(events)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["nodes"] == 30 and summary["reliability_min"] == 1.0
    assert events.read_text(encoding="utf-8").count('"event":"gossip.received"') == 3 * 29


def test_a_bad_partition_is_a_one_line_error() -> None:
    result = CliRunner().invoke(app, ["simulate", "--partition", "5:2"])
    assert result.exit_code == 2
    assert "--partition" in result.output


def test_simulate_runs_where_pyzmq_cannot_be_imported() -> None:
    blocker = (
        "import sys\n"
        "class NoZmq:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'zmq' or name.startswith('zmq.'):\n"
        "            raise ImportError('no pyzmq here')\n"
        "sys.meta_path.insert(0, NoZmq())\n"
        "sys.argv = ['zgossip', 'simulate', '--nodes', '20', '--messages', '2', '--json']\n"
        "from zgossip.tools.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocker], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["complete"] == 2


def test_the_command_draws_delivery_and_degrees_into_a_png(tmp_path: Path) -> None:
    png = tmp_path / "run.png"
    result = CliRunner().invoke(
        app, ["simulate", "--nodes", "30", "--messages", "2", "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(b"\x89PNG")


def test_an_events_file_that_cannot_be_written_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--nodes", "5", "--events", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "zgossip: error:" in result.output


def test_killed_peers_that_restart_are_live_again_and_get_the_messages() -> None:
    scenario = Scenario(
        nodes=40, messages=3, fail=0.25, restart_after=1.0, liveness_interval=0.5, drain=6.0
    )
    summary = Simulation(scenario).run()
    assert summary.failed == summary.restarted == 10
    assert summary.live == 40 and summary.dead_removed == 0
    assert summary.reliability_min == 1.0  # the restarted got them from their new neighbours


def test_two_sybils_claiming_links_to_everyone_eclipse_no_newcomer() -> None:
    """Two fake peers keep registered with every seed, claiming links to each other and to
    every peer, and never link back; of 50 newcomers, how many link to them alone?
    (Believing a claimed degree of 2**62: 49; bounding it by what the seed holds: 2.)"""
    sim = Simulation(Scenario(nodes=0, messages=0))
    sim.boot()
    sybils = ["10.9.9.1:6000", "10.9.9.2:6000"]

    def claim() -> None:
        everyone = tuple(p.id for p in sim.peers()) + tuple(sybils)
        for seed in sim.seed_states():
            for sybil in sybils:
                register = wire.Register(sybil, f"tcp://{sybil[:-5]}:6001", everyone)
                seed.request(sim.now, b"p\x00\x00\x00\x00", register)  # a reply goes nowhere
        sim.at(sim.now + 5.0, claim)

    eclipsed = 0
    for n in range(60):
        if n == 10:  # ten honest peers first
            claim()
        newcomer = sim.join()
        sim.advance(sim.now + 0.2)
        links = next(p for p in sim.peers() if p.id == newcomer).neighbours
        eclipsed += n >= 10 and set(links) <= set(sybils)
    assert eclipsed == 0


def test_the_tree_forms_on_the_warm_up_and_heals_around_killed_peers_as_well_as_a_flood() -> None:
    grafts: list[str] = []

    def listen(node: str, event: records.Event) -> None:
        if isinstance(event, records.GossipGraft):
            grafts.append(node)

    for seed in range(1, 21):  # the first run whose kills cut tree links (a draw's luck)
        failed = {**SMALL, "warmup": 10, "fail": 0.2, "seed": seed}
        tree = Simulation(Scenario(**failed), listener=listen).run()  # type: ignore[arg-type]
        if grafts:
            break
    flood = Scenario(**{**failed, "options": {"dissemination": "flood"}})  # type: ignore[arg-type]
    flooded = Simulation(flood).run()
    assert tree.messages == 6  # the warm-up's are left out
    assert grafts, "no link was grafted: the killed peers cut no tree link?"
    assert tree.reliability_mean >= flooded.reliability_mean
    assert tree.copies_per_delivery <= 0.2 < 1.0 < flooded.copies_per_delivery
