"""The real tree on multiprocTCPBase: what a user and an operator see when actor processes die."""

from __future__ import annotations

import pytest

from actors.kinds import Kind
from actors.messages import (
    ActivatePersonality,
    GetChannelInfo,
    GetUserSettings,
    LookupPersonality,
    RegisterPersonality,
    SetAlias,
    SetAutorespond,
    UserSettings,
)
from bridge import ActorFailed, ActorUnavailable
from supervision.procs import pid_alive
from testkit.process import wait_for
from tests.conftest import STORES
from tests.system.conftest import leftover
from tests.system.faulty import CRASH_ON_START_KEY, RAISING_ALIAS

FAULTY = "tests.system.faulty.FaultyUserActor"


@pytest.fixture(params=STORES, autouse=True)
def store_backend(request: pytest.FixtureRequest) -> str:
    """Every test here runs on SQLite and on PostgreSQL (`make_tree` gives the tree a fresh database)."""
    return request.param


def test_killed_user_actor_is_replaced_with_its_state(make_tree) -> None:
    tree = make_tree()
    tree.ask(Kind.USER, 42, SetAutorespond(42, True))
    tree.ask(Kind.USER, 42, SetAlias(42, "big bob", "bob"))
    old = tree.child("42")
    tree.kill(old.pid)

    settings = tree.ask(Kind.USER, 42, GetUserSettings(42))

    assert settings == UserSettings(42, True, (("big bob", "bob"),))
    assert tree.child("42").pid != old.pid
    assert wait_for(lambda: tree.events("exited", "42"), what="the exit in the supervisor log")
    assert tree.events("restarted", "42") or tree.events("activated", "42")[1:]


def test_handler_that_raises_gets_a_clear_answer_and_the_actor_keeps_serving(make_tree) -> None:
    tree = make_tree(user_class=FAULTY)
    tree.ask(Kind.USER, 7, SetAutorespond(7, True))
    pid = tree.child("7").pid

    with pytest.raises(ActorFailed) as failure:
        tree.ask(Kind.USER, 7, SetAlias(7, RAISING_ALIAS, "bob"))

    assert "reference" in str(failure.value)
    assert tree.ask(Kind.USER, 7, GetUserSettings(7)).autorespond is True
    assert tree.child("7").pid == pid  # not restarted: the failure stayed inside one message
    failed = tree.events("failed", "7")
    assert failed and failure.value.reference in failed[0]["detail"]


def test_child_crashing_on_start_is_parked_while_siblings_answer(make_tree) -> None:
    tree = make_tree({"TZUROT_USER_SHARDS": "1"}, user_class=FAULTY)
    with pytest.raises(ActorUnavailable) as parked:
        tree.ask(Kind.USER, CRASH_ON_START_KEY, GetUserSettings(int(CRASH_ON_START_KEY)))
    assert parked.value.retry_after_s > 0

    # Same shard, same moment: the siblings are untouched.
    for uid in (1, 2, 3):
        assert tree.ask(Kind.USER, uid, SetAutorespond(uid, True)).autorespond is True
    with pytest.raises(ActorUnavailable):  # still parked: answered at once, not retried
        tree.ask(Kind.USER, CRASH_ON_START_KEY, GetUserSettings(13), timeout=2)

    errors = [r for r in tree.events("parked", CRASH_ON_START_KEY) if r["level"] == "error"]
    assert len(errors) == 1 and "6 failures" in errors[0]["detail"]
    assert len(tree.events("backoff", CRASH_ON_START_KEY)) == 5
    assert not [r for r in tree.log() if r["event"] in ("exited", "backoff") and r["key"] in ("1", "2", "3")]


def test_killed_shard_takes_its_children_down_and_a_new_shard_reactivates_them(make_tree) -> None:
    tree = make_tree()
    tree.ask(Kind.USER, 42, SetAlias(42, "bobby", "bob"))
    tree.ask(Kind.USER, 43, SetAutorespond(43, True))
    shard = tree.shard_of_child("42")
    children = {tree.child("42").pid}
    if tree.shard_of_child("43").key == shard.key:
        children.add(tree.child("43").pid)

    tree.kill(shard.pid)

    period = tree.settings.liveness_period_s
    wait_for(lambda: not leftover(children), timeout=2 * period + 1, what="orphans to exit")
    assert tree.events("orphan_exit", "42")
    assert tree.ask(Kind.USER, 42, GetUserSettings(42)).aliases == (("bobby", "bob"),)
    assert tree.ask(Kind.USER, 43, GetUserSettings(43)).autorespond is True
    assert tree.child(shard.key, "root").pid != shard.pid
    assert tree.events("exited", shard.key) or tree.events("liveness_miss", shard.key)


def test_idle_actor_is_passivated_and_reactivated_with_its_state(make_tree) -> None:
    tree = make_tree({"TZUROT_IDLE_PASSIVATE_S": "1"})
    tree.ask(Kind.CHANNEL, 900, ActivatePersonality(900, "bob", 42))
    pid = tree.child("900", "channel").pid

    wait_for(lambda: tree.events("passivated", "900"), what="passivation")
    wait_for(lambda: not pid_alive(pid) and tree.child("900", "channel") is None, what="the actor to stop")

    info = tree.ask(Kind.CHANNEL, 900, GetChannelInfo(900))
    assert info.activated == "bob" and info.activated_by == 42
    assert tree.child("900", "channel").pid != pid


def test_live_actor_cap_passivates_least_recently_used_first(make_tree) -> None:
    # 1 user shard + 1 channel shard sharing a cap of 4: 2 live users at most.
    tree = make_tree({"TZUROT_USER_SHARDS": "1", "TZUROT_LIVE_ACTOR_CAP": "4"})
    for uid in (1, 2):
        tree.ask(Kind.USER, uid, SetAutorespond(uid, True))
    tree.ask(Kind.USER, 1, GetUserSettings(1))  # 2 is now the least recently used

    tree.ask(Kind.USER, 3, SetAutorespond(3, True))

    wait_for(lambda: tree.child("2") is None, what="user 2 to be passivated")
    assert tree.child("1") is not None and tree.child("3") is not None
    assert "cap" in tree.events("passivated", "2")[0]["detail"]
    assert tree.ask(Kind.USER, 2, GetUserSettings(2)).autorespond is True


def test_whole_system_restart_keeps_state(make_tree, tmp_path) -> None:
    data = tmp_path / "shared-data"
    first = make_tree(data_dir=data)
    first.ask(Kind.REGISTRY, Kind.REGISTRY, RegisterPersonality("bob", 42))
    first.ask(Kind.USER, 42, SetAlias(42, "big bob", "bob"))
    first.ask(Kind.CHANNEL, 5, ActivatePersonality(5, "bob", 42))
    first.stop()

    second = make_tree(data_dir=data)
    assert second.ask(Kind.REGISTRY, Kind.REGISTRY, LookupPersonality("bob")).owner_id == 42
    assert second.ask(Kind.USER, 42, GetUserSettings(42)).aliases == (("big bob", "bob"),)
    assert second.ask(Kind.CHANNEL, 5, GetChannelInfo(5)).activated == "bob"
