"""A restart storm on the real tree: one supervisor restarting many children is one WARNING, with the count."""

from __future__ import annotations

import pytest

from actors.kinds import Kind
from actors.messages import GetUserSettings, SetAutorespond
from bridge import ActorUnavailable
from supervision.storm import STORM_RESTARTS
from testkit.process import wait_for
from tests.system.faulty import STORM_KEYS

STORMY = "tests.system.faulty.StormUserActor"


def test_many_children_restarting_in_one_shard_is_one_restart_storm_warning(make_tree) -> None:
    tree = make_tree({"TZUROT_USER_SHARDS": "1"}, user_class=STORMY)
    for key in STORM_KEYS:  # each dies at start, is restarted 5 times, then parked: 15 restarts in all
        with pytest.raises(ActorUnavailable):
            tree.ask(Kind.USER, key, GetUserSettings(int(key)))

    assert len(tree.events("restarted")) == 5 * len(STORM_KEYS)
    [storm] = wait_for(lambda: tree.events("restart_storm"), what="the restart_storm warning")
    assert storm["level"] == "warning" and storm["key"] == "user/0" and storm["kind"] == "shard"
    assert storm["count"] == STORM_RESTARTS + 1 and f"{STORM_RESTARTS + 1} child restarts in 60s" in storm["detail"]
    assert tree.ask(Kind.USER, 1, SetAutorespond(1, True)).autorespond is True  # its other children still answer
    assert len(tree.events("restart_storm")) == 1  # one per storm, not one per restart


def test_a_few_restarts_are_no_storm(make_tree) -> None:
    tree = make_tree({"TZUROT_USER_SHARDS": "1"}, user_class=STORMY)
    with pytest.raises(ActorUnavailable):
        tree.ask(Kind.USER, STORM_KEYS[0], GetUserSettings(int(STORM_KEYS[0])))
    assert len(tree.events("restarted")) == 5
    assert tree.events("restart_storm") == []
