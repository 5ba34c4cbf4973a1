"""What the supervisor log says when a child dies: how it died, and which process it was."""

from __future__ import annotations

import pytest

from actors.kinds import Kind
from actors.messages import GetUserSettings, SetAutorespond
from bridge import ActorUnavailable
from observability.jsonlog import readable
from testkit.process import wait_for
from tests.system.faulty import CRASH_ON_START_KEY

FAULTY = "tests.system.faulty.FaultyUserActor"


def exits(tree, key: str) -> list[dict]:
    """The records of that child's deaths (an exit notice, or the liveness check when the notice was lost)."""
    return [r for r in tree.log() if r["key"] == key and r["event"] in ("exited", "liveness_miss")]


def test_a_user_actor_killed_by_signal_9_is_logged_as_such_with_its_own_pid(make_tree) -> None:
    tree = make_tree()
    tree.ask(Kind.USER, 42, SetAutorespond(42, True))
    child = tree.child("42")
    supervisor = tree.shard_of_child("42")

    tree.kill(child.pid)

    [record] = wait_for(lambda: exits(tree, "42"), what="the exit in the supervisor log")
    assert "killed by signal 9" in record["detail"]
    assert record["child_pid"] == child.pid and record["pid"] == supervisor.pid
    line = readable(record)
    assert f"user/42 pid={child.pid}: killed by signal 9" in line and f"pid={supervisor.pid}" not in line
    assert tree.ask(Kind.USER, 42, GetUserSettings(42)).autorespond is True


def test_an_actor_that_exits_with_status_3_at_start_is_logged_with_that_status(make_tree) -> None:
    tree = make_tree({"TZUROT_USER_SHARDS": "1"}, user_class=FAULTY)
    with pytest.raises(ActorUnavailable):
        tree.ask(Kind.USER, CRASH_ON_START_KEY, GetUserSettings(int(CRASH_ON_START_KEY)))

    records = exits(tree, CRASH_ON_START_KEY)
    assert len(records) == 6  # the first start and five restarts, then parked
    assert all("exited with status 3" in r["detail"] for r in records), [r["detail"] for r in records]
    pids = [r["child_pid"] for r in records]
    assert all(isinstance(p, int) for p in pids) and len(set(pids)) == 6  # a new process each time
    parked = tree.events("parked", CRASH_ON_START_KEY)
    assert parked and "exited with status 3" in parked[0]["detail"]
