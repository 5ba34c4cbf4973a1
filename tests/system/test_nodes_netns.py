"""The tree over three "hosts": the leader on a bridge's address, two members each in a network namespace of
its own, talking over 10.x addresses. One member is cut off the network under load (its link down: its
processes live on, unreachable): the leader gives its shards up and starts them on the other member, the
cut-off shards stop themselves (no second live copy answers), and every message is answered exactly once.
When the link comes back, the node joins again and takes its share."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.tally import Talk
from testkit import netns
from testkit.cluster import Cluster
from testkit.process import wait_for

pytestmark = pytest.mark.slow
ENV = {"TZUROT_USER_RATE_PER_MIN": "120", "TZUROT_USER_BURST": "10"}


@pytest.fixture
def hosts():
    reason = netns.missing_reason()
    if reason is not None:
        pytest.skip(f"{reason}: tests/system/test_nodes.py covers nodes on loopback")
    with netns.hosts(["n1", "n2"]) as made:
        yield made


def test_a_member_cut_off_the_network_is_fenced_and_replaced_and_rejoins(
    tmp_path: Path, postgres_url: str, hosts: netns.Hosts
) -> None:
    cluster = Cluster(tmp_path, postgres_url, members=2, env=ENV, shards=2, hosts=hosts)
    try:
        placed = cluster.start(timeout=90).nodes()
        assert set(placed) == {"n1", "n2"}
        sb = cluster.stack.sandbox
        rooms = [sb.channel("general"), sb.channel("commons")]
        sb.command(rooms[0], "alice", "!tz add echo", "Added", timeout=30)
        since = sb.post(rooms[0], "alice", "the talk starts")
        chatter = Talk(cluster.stack, ["alice", "bob", "carol"], rooms, (0.4, 1.2)).start()
        time.sleep(4)  # the users talk for a while (a scenario's length, not a wait for a condition)
        hosts.cut("n1")
        cut_at = time.monotonic()
        after = cluster.wait_placed({"n2"}, timeout=60)
        moved_s = time.monotonic() - cut_at
        fenced = lambda: [r for r in cluster.members["n1"].supervisor_log() if r.get("event") == "fenced"]  # noqa: E731
        wait_for(lambda: len(fenced()) == len(placed["n1"]), 30, "every shard on the cut-off node to stop itself")
        time.sleep(3)
        figures = chatter.finish(since)
        assert figures["sent"] > 15 and figures["lost"] == 0 and figures["duplicated"] == 0, figures
        assert len(after["n2"]) == 6 and moved_s < 20, (after, moved_s)

        hosts.heal("n1")  # back on the network: Thespian's re-registration brings it into the tree again
        again = cluster.wait_placed({"n1", "n2"}, timeout=60)
        assert len(again["n1"]) == len(again["n2"]) == 3
    finally:
        cluster.stop()
