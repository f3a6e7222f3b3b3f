"""README's "Attaching to a running node" and "Metrics", run as printed against node processes."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import ZGOSSIP, Cluster, free_ports, one_line_error, run_zgossip

pytestmark = pytest.mark.system

README = Path(__file__).parents[2] / "README.md"


def _commands(first: str, second: str) -> list[list[str]]:
    """The section's commands, aimed at two running peers instead of 6001 and 6002."""
    section = README.read_text().split("## Attaching to a running node")[1]
    (block,) = re.findall(r"```sh\n(.*?)```", section.split("\n## ")[0], re.DOTALL)
    commands = []
    for line in block.splitlines():
        line = line.split("  #")[0].replace("127.0.0.1:6001", first)
        words = shlex.split(line.replace("127.0.0.1:6002", second))
        assert words[0] == "zgossip"
        commands.append([ZGOSSIP, *words[1:]])
    return commands


def test_monitor_and_send_work_as_the_readme_prints_them(cluster: Cluster) -> None:
    first, second = cluster.boot(2, "--gossip-count", "0")
    for peer in (first, second):
        cluster.tap.wait_event("neighbour.added", node=peer)
    console, gossip, send = _commands(first, second)
    monitors = [
        subprocess.Popen(
            command,
            cwd=cluster.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for command in (console, gossip)
    ]
    try:
        for peer in (first, second):
            cluster.tap.wait_event("monitor.attached", node=peer)
        said = subprocess.run(
            send, cwd=cluster.directory, capture_output=True, text=True, timeout=30
        )
        assert said.returncode == 0, said.stderr
        took = re.fullmatch(rf"{first} took it: gossip ([0-9a-f]{{32}})\n", said.stdout)
        assert took is not None, said.stdout
        message_id = took.group(1)
        cluster.tap.wait_event("gossip.received", node=second, id=message_id)
        for peer in (first, second):
            cluster.procs[peer].terminate()
        outputs = [monitor.communicate(timeout=20) for monitor in monitors]
    finally:
        for monitor in monitors:
            monitor.kill()
            monitor.wait()
    assert [monitor.returncode for monitor in monitors] == [0, 0], outputs
    (console_out, _), (gossip_out, _) = outputs
    assert re.search(rf"peer {first} +gossip.sent +sent hello from outside\n", console_out)
    assert re.search(rf"peer {first} +stopped +stopped\n$", console_out)
    records = [json.loads(line) for line in gossip_out.splitlines()]
    assert {r["event"] for r in records} <= {"gossip.received", "gossip.copies", "gossip.prune"}
    (received,) = [r for r in records if r["event"] == "gossip.received"]
    assert received["id"] == message_id and received["origin"] == first


def test_send_takes_stdin_line_by_line_and_says_clearly_when_no_peer_answers(
    cluster: Cluster,
) -> None:
    (peer,) = cluster.boot(1, "--gossip-count", "0")
    lines = subprocess.run(
        [ZGOSSIP, "send", "--via", peer],
        input="one\n\ntwo\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert lines.returncode == 0, lines.stderr
    assert len(lines.stdout.splitlines()) == 2  # the empty line is no message
    bodies = {e["body"] for e in cluster.tap.of("gossip.sent", peer)}
    assert bodies == {"one", "two"}
    silent = run_zgossip("send", "--via", "127.0.0.1:1", "x", "--timeout", "0.3", cwd=Path("."))
    assert silent.returncode == 1
    assert one_line_error(silent) == "zgossip: error: 127.0.0.1:1 did not answer within 0.3 s"
    watcher = run_zgossip("monitor", "127.0.0.1:1", "--timeout", "0.3", cwd=Path("."))
    assert watcher.returncode == 1
    assert one_line_error(watcher) == "zgossip: error: 127.0.0.1:1 did not answer within 0.3 s"
    bad = run_zgossip("monitor", "localhost:1", cwd=Path("."))
    assert bad.returncode == 2 and "IP:PORT" in one_line_error(bad)


def test_metrics_are_served_as_the_readme_prints_them(cluster: Cluster) -> None:
    section = README.read_text().split("## Metrics")[1]
    (block,) = re.findall(r"```sh\n(.*?)```", section.split("\n## ")[0], re.DOTALL)
    start, fetch = block.splitlines()
    port, metrics_port = (str(p) for p in free_ports(2))
    words = shlex.split(start.replace("6001", port).replace("9101", metrics_port))
    url = shlex.split(fetch.replace("9101", metrics_port))[2]
    for seed in cluster.seeds:
        cluster.start("seed", seed)
    peer = f"127.0.0.1:{port}"
    cluster.start("peer", peer, *words[4:])  # the README's flags, after --port PORT
    cluster.tap.wait_event("seed.registered", node=peer)
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    lines = [line for line in text.splitlines() if line.startswith("zgossip_")]  # the grep
    assert f'zgossip_info{{node="{peer}",role="peer"}} 1.0' in lines
    assert any(line.startswith("zgossip_seeds_registered{") for line in lines)


def test_members_shows_one_row_a_peer_and_warns_of_a_silent_seed(cluster: Cluster) -> None:
    leaving, staying = cluster.boot(2, "--gossip-count", "0", "--tag", "role=db", "--tag", "dc=")
    cluster.procs[leaving].terminate()
    cluster.tap.wait_event("peer.removed", peer=leaving, reason="left")
    cluster.procs[cluster.seeds[2]].terminate()
    cluster.tap.wait_event("stopped", node=cluster.seeds[2])
    table = run_zgossip("members", "--timeout", "0.5", cwd=cluster.directory)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["PEER", "STATE", "SINCE", "SEEDS", "TAGS"]
    states = {row.split()[0]: row.split()[1] for row in rows}
    assert next(row for row in rows if row.startswith(staying)).endswith("dc= role=db")
    assert states == {leaving: "left", staying: "alive"}
    assert one_line_error(table) == (
        f"zgossip: warning: seed {cluster.seeds[2]} did not answer within 0.5 s"
    )
    document = json.loads(
        run_zgossip("members", "--json", "--timeout", "0.5", cwd=cluster.directory).stdout
    )
    assert document["silent_seeds"] == [cluster.seeds[2]]
    assert {m["peer"]: m["state"] for m in document["members"]} == states
    tags = {m["peer"]: m["tags"] for m in document["members"]}
    assert tags == {staying: {"role": "db", "dc": ""}, leaving: {}}  # a leaver's are gone


def test_members_via_one_peer_shows_its_own_list_filtered_by_tag(cluster: Cluster) -> None:
    db, web, leaving = cluster.boot(3, "--gossip-count", "0")
    for peer, role in ((db, "db-1"), (web, "web")):
        assert (
            run_zgossip("tag", "--via", peer, f"role={role}", cwd=cluster.directory).returncode == 0
        )
    cluster.procs[leaving].terminate()
    cluster.tap.wait_event("member.left", node=db, member=leaving)
    cluster.tap.wait_event("member.updated", node=db, member=web)
    for seed in cluster.seeds:  # no seed needed
        cluster.procs[seed].terminate()
    table = run_zgossip("members", "--via", db, cwd=cluster.directory)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["PEER", "STATE", "SINCE", "TAGS"]
    assert {row.split()[0]: row.split()[1] for row in rows} == {
        db: "alive", web: "alive", leaving: "left"
    }  # fmt: skip
    found = run_zgossip(
        "members", "--via", db, "--tag", "role=db*", "--json", cwd=cluster.directory
    )
    document = json.loads(found.stdout)
    assert document["via"] == db
    assert [(m["peer"], m["tags"]) for m in document["members"]] == [(db, {"role": "db-1"})]
    silent = run_zgossip(
        "members", "--via", "127.0.0.1:9", "--timeout", "0.3", cwd=cluster.directory
    )
    assert silent.returncode == 1
    assert one_line_error(silent) == "zgossip: error: 127.0.0.1:9 did not answer within 0.3 s"


def test_tag_sets_and_drops_a_running_peers_tags_and_the_seeds_show_them(
    cluster: Cluster,
) -> None:
    (peer,) = cluster.boot(1, "--gossip-count", "0", "--tag", "role=db", "--tag", "dc=eu")
    tagged = run_zgossip("tag", "--via", peer, "role=cache", "zone=a", "--drop", "dc",
                         cwd=cluster.directory)  # fmt: skip
    assert tagged.returncode == 0, tagged.stderr
    assert tagged.stdout == f"{peer} tags: role=cache zone=a\n"
    document = json.loads(run_zgossip("members", "--json", cwd=cluster.directory).stdout)
    (member,) = document["members"]
    assert member["tags"] == {"role": "cache", "zone": "a"}
    too_big = run_zgossip("tag", "--via", peer, f"big={'x' * 5000}", cwd=cluster.directory)
    assert too_big.returncode == 2
    assert "tag: tags take 5003 bytes" in one_line_error(too_big)
    to_seed = run_zgossip("tag", "--via", cluster.seeds[0], "a=b", cwd=cluster.directory)
    assert to_seed.returncode == 1 and "a seed has no tags" in one_line_error(to_seed)


def test_query_via_a_peer_prints_each_answer_and_exits_with_the_last(cluster: Cluster) -> None:
    first, *others = cluster.boot(4, "--gossip-count", "0", "--tag", "role=db")
    for peer in others:
        cluster.tap.wait_event("member.joined", node=first, member=peer)
    started = time.monotonic()
    found = run_zgossip("query", "--via", first, "info", "--timeout", "20", "--json",
                        cwd=cluster.directory)  # fmt: skip
    assert time.monotonic() - started < 10  # well before its timeout
    assert found.returncode == 0, found.stderr
    *answers, ended = [json.loads(line) for line in found.stdout.splitlines()]
    assert sorted(a["peer"] for a in answers) == sorted([first, *others])
    info = json.loads(answers[0]["payload"])
    assert info["tags"] == {"role": "db"} and info["version"] and info["uptime"] > 0
    assert ended == {"ended": True, "asked": 4, "missing": [], "gone": [], "timed_out": False}
    none = run_zgossip("query", "--via", first, "info", "--tag", "role=web", cwd=cluster.directory)
    assert none.returncode == 0 and none.stdout == ""
    assert one_line_error(none) == "done: 0 of 0 answered"
    bad = run_zgossip("query", "--via", first, "x" * 65, cwd=cluster.directory)
    assert bad.returncode == 2 and "name of 1 to 64 characters" in one_line_error(bad)
