"""A tree over three nodes (a leader and two members, `bot.py node`) on one PostgreSQL database, two of them
running an edge for half the gateway shards each: users in both guilds talk while a whole member node, then
the leader, is killed with SIGKILL. Every message is answered
exactly once, the dead node's shards run on the survivor within seconds, a node that comes back takes shards
again, and a leader's death is a restart of the tree with nothing lost.

The nodes share this machine's loopback, each with its own ports, data directory and processes: a node's
death is the death of all its processes, not a cut network.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.tally import Talk, summary, wait_for_quiet
from observability import jsonlog
from testkit.cluster import Cluster, kill_node
from testkit.process import wait_for

pytestmark = pytest.mark.slow
ENV = {"TZUROT_USER_RATE_PER_MIN": "120", "TZUROT_USER_BURST": "10"}
USERS = ["alice", "bob", "carol"]


def talk(cluster: Cluster) -> tuple[Talk, list[int], int]:
    sb = cluster.stack.sandbox
    rooms = [sb.channel("general"), sb.channel("commons")]  # one in each guild (gateway shards 0 and 1)
    sb.command(rooms[0], "alice", "!tz add echo", "Added", timeout=30)
    since = sb.post(rooms[0], "alice", "the talk starts")
    return Talk(cluster.stack, USERS, rooms, (0.4, 1.2)).start(), rooms, since


def shard_events(cluster: Cluster, name: str, event: str) -> list[dict]:
    return [r for r in cluster.members[name].supervisor_log() if r.get("event") == event]


def test_a_member_node_killed_under_load_loses_nothing_and_its_shards_run_elsewhere(
    tmp_path: Path, postgres_url: str
) -> None:
    # Two edges, half the gateway each: the leader's has the Sandbox guild (shard 0), n1's the Annex (shard 1).
    cluster = Cluster(tmp_path, postgres_url, members=2, env=ENV, shards=2, edges={"leader": "0", "n1": "1"})
    try:
        before = cluster.start().nodes()
        assert set(before) == {"n1", "n2"} and len(before["n1"]) == len(before["n2"]) == 3  # 6 shards, even
        chatter, rooms, since = talk(cluster)
        time.sleep(4)  # the users talk for a while (a scenario's length, not a wait for a condition)
        killed, at = cluster.kill_member("n2")
        assert killed >= 4  # the node process, Thespian's admin and logger, its shards (and their actors)
        after = cluster.wait_placed({"n1"}, timeout=30)
        moved_s = time.monotonic() - at
        time.sleep(4)
        figures = chatter.finish(since)
        assert figures["sent"] > 20 and figures["lost"] == 0 and figures["duplicated"] == 0, figures
        assert len(after["n1"]) == 6 and moved_s < 15, (after, moved_s)
        assert any("received" == r.get("event") for r in jsonlog.read(cluster.members["n1"].data_dir / "events.log"))

        # n2 comes back: it joins again and takes its share, and nothing is answered twice meanwhile.
        cluster.members["n2"].start()
        again = cluster.wait_placed({"n1", "n2"}, timeout=30)
        assert len(again["n1"]) == len(again["n2"]) == 3
        chatter2 = Talk(cluster.stack, USERS, rooms, (0.4, 1.2), first_tag=10_000_000).start()
        time.sleep(3)
        chatter2.stop()
        counts = wait_for_quiet(cluster.stack, rooms, {**chatter.sent, **chatter2.sent}, since, 120.0)
        figures = summary({**chatter.sent, **chatter2.sent}, counts)
        assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    finally:
        assert cluster.stop() == []  # no Discord rule broken


def test_the_leader_killed_is_a_restart_of_the_tree_with_nothing_lost(tmp_path: Path, postgres_url: str) -> None:
    cluster = Cluster(tmp_path, postgres_url, members=2, env=ENV, shards=2, edges={"leader": "0", "n1": "1"})
    try:
        cluster.start()
        chatter, rooms, since = talk(cluster)
        time.sleep(3)
        leader = cluster.stack.bot
        assert kill_node(leader) >= 4  # the edge, Thespian's admin and logger, Root, the singletons
        # The members' shards stop themselves when Root's heartbeats stop (no shard outlives its Root).
        wait_for(lambda: all(len(shard_events(cluster, n, "fenced")) >= 3 for n in ("n1", "n2")), 20,
                 "every member's shards to fence themselves")
        time.sleep(2)  # users go on talking while the leader is down: the restarted edge catches up
        chatter.stop()
        leader.start(timeout=60)
        cluster.wait_placed({"n1", "n2"}, timeout=60)  # the members rejoin the new leader and get shards
        figures = chatter.finish(since, 180.0)
        assert figures["sent"] > 10 and figures["lost"] == 0 and figures["duplicated"] == 0, figures
    finally:
        cluster.stop()
