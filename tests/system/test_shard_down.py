"""A shard that is down keeps its keys: their messages wait for it (or are refused while it is parked), and
never go to another shard, whatever else restarts meanwhile."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from actors.kinds import Kind
from actors.messages import GetUserSettings, SetAlias, SetAutorespond
from bridge import ActorUnavailable
from supervision.protocol import Undelivered
from supervision.sharding import shard_of
from testkit.process import wait_for
from tests.system.conftest import Tree

SHARDS = 3
DOWN = "user/1"
KEYS = list(range(1, 21))


def owner(key: int) -> str:
    return f"user/{shard_of(str(key), SHARDS)}"


WAITING = [k for k in KEYS if owner(k) == DOWN]
OTHERS = [k for k in KEYS if owner(k) != DOWN]


def activate_all(tree: Tree) -> None:
    assert WAITING and {owner(k) for k in OTHERS} == {"user/0", "user/2"}
    for key in KEYS:  # every actor live on its own shard, and the bridge knows every shard's address
        tree.ask(Kind.USER, key, SetAutorespond(key, True))


def restarted(tree: Tree, key: str, old_pid: int) -> bool:
    row = tree.child(key, "root")
    return row is not None and row.status == "live" and row.pid != old_pid


def assert_each_actor_only_on_its_own_shard(tree: Tree, keys: list[int]) -> None:
    for key in keys:
        holders = [s.key for s in tree.bridge.status()[1:] if any(r.key == str(key) for r in s.children)]
        assert holders == [owner(key)], (key, holders)
    records = tree.log()
    wrong = [(r["key"], r.get("supervisor")) for r in records if r["event"] == "activated" and r["kind"] == "user"
             and r.get("supervisor") != owner(int(r["key"]))]
    assert wrong == []
    assert [r for r in records if r["event"] == "stale_copy"] == []


@pytest.mark.slow  # 15-20 s: runs in .ci/run (make test-slow), keeping make test under 8 minutes
def test_while_a_user_shard_is_down_its_keys_wait_for_it_and_no_other_shard_takes_them(make_tree) -> None:
    # A long backoff keeps the killed shard down for about 3 s, long enough to send to every shard meanwhile.
    tree = make_tree({"TZUROT_USER_SHARDS": str(SHARDS), "TZUROT_BACKOFF_FIRST_S": "3", "TZUROT_BACKOFF_MAX_S": "4"})
    activate_all(tree)

    shard = tree.child(DOWN, "root")
    tree.kill(shard.pid)
    wait_for(lambda: tree.child(DOWN, "root").status != "live", what=f"root to notice that {DOWN} is gone")

    with ThreadPoolExecutor(len(WAITING)) as pool:
        for key in WAITING:  # a tell too: it must not be lost, and must come before the ask below
            tree.bridge.tell(Kind.USER, key, SetAlias(key, "pal", "bob"))
        answers = {key: pool.submit(tree.ask, "user", key, GetUserSettings(key), 15) for key in WAITING}
        for key in OTHERS:  # the live shards answer at once
            assert tree.ask(Kind.USER, key, GetUserSettings(key), 5).autorespond is True
        assert tree.child(DOWN, "root").status != "live", "the other shards answered while it was down"
        for key in WAITING:  # the down shard's keys are answered once it is back, by it
            settings = answers[key].result(timeout=20)
            assert settings.autorespond is True and settings.aliases == (("pal", "bob"),)

    assert tree.child(DOWN, "root").pid != shard.pid
    assert_each_actor_only_on_its_own_shard(tree, KEYS)


def test_while_a_user_shard_is_parked_its_keys_are_refused_even_after_another_child_of_root_restarts(
    make_tree,
) -> None:
    facts: list[object] = []
    tree = make_tree(
        {"TZUROT_USER_SHARDS": str(SHARDS), "TZUROT_INTENSITY_MAX_RESTARTS": "1", "TZUROT_PARK_COOLDOWN_S": "120"},
        on_fact=facts.append,
    )
    activate_all(tree)
    first = tree.child(DOWN, "root").pid
    tree.kill(first)  # one restart is allowed ...
    wait_for(lambda: restarted(tree, DOWN, first), what=f"{DOWN} to restart")
    tree.kill(tree.child(DOWN, "root").pid)  # ... the second failure parks it
    wait_for(lambda: tree.child(DOWN, "root").status == "parked", what=f"{DOWN} to be parked")
    registry = tree.child("registry", "root").pid
    tree.kill(registry)  # another child of Root restarts meanwhile: Root publishes its directory again
    wait_for(lambda: restarted(tree, "registry", registry), what="the registry to restart")

    for key in OTHERS:
        assert tree.ask(Kind.USER, key, GetUserSettings(key), 5).autorespond is True
    for key in WAITING:
        with pytest.raises(ActorUnavailable) as refused:
            tree.ask(Kind.USER, key, GetUserSettings(key), 5)
        assert refused.value.retry_after_s > 0
    tree.bridge.tell(Kind.USER, WAITING[0], SetAlias(WAITING[0], "pal", "bob"))
    [fact] = wait_for(lambda: [f for f in facts if isinstance(f, Undelivered)], what="the refused tell")
    assert (fact.key, fact.body) == (str(WAITING[0]), SetAlias(WAITING[0], "pal", "bob")) and fact.retry_after_s > 0

    assert_each_actor_only_on_its_own_shard(tree, OTHERS)
    assert all(tree.shard_of_child(str(key)) is None for key in WAITING)
