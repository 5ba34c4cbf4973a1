"""A shard that is down keeps its keys: their messages wait for it, they never go to another shard."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from actors.messages import GetUserSettings, SetAlias, SetAutorespond
from supervision.sharding import shard_of
from tests.system.conftest import wait_for

SHARDS = 3
DOWN = 1
KEYS = list(range(1, 21))


def owner(key: int) -> str:
    return f"user/{shard_of(str(key), SHARDS)}"


def test_while_a_user_shard_is_down_its_keys_wait_for_it_and_no_other_shard_takes_them(make_tree) -> None:
    # A long backoff keeps the killed shard down for about 3 s, long enough to send to every shard meanwhile.
    tree = make_tree({"TZUROT_USER_SHARDS": str(SHARDS), "TZUROT_BACKOFF_FIRST_S": "3", "TZUROT_BACKOFF_MAX_S": "4"})
    down = f"user/{DOWN}"
    waiting = [k for k in KEYS if owner(k) == down]
    others = [k for k in KEYS if owner(k) != down]
    assert waiting and {owner(k) for k in others} == {"user/0", "user/2"}
    for key in KEYS:  # every actor live on its own shard, and the bridge knows every shard's address
        tree.ask("user", key, SetAutorespond(key, True))

    shard = tree.child(down, "root")
    tree.kill(shard.pid)
    wait_for(lambda: tree.child(down, "root").status != "live", what=f"root to notice that {down} is gone")

    with ThreadPoolExecutor(len(waiting)) as pool:
        for key in waiting:  # a tell too: it must not be lost, and must come before the ask below
            tree.bridge.tell("user", key, SetAlias(key, "pal", "bob"))
        answers = {key: pool.submit(tree.ask, "user", key, GetUserSettings(key), 15) for key in waiting}
        for key in others:  # the live shards answer at once
            assert tree.ask("user", key, GetUserSettings(key), 5).autorespond is True
        assert tree.child(down, "root").status != "live", "the other shards answered while it was down"
        for key in waiting:  # the down shard's keys are answered once it is back, by it
            settings = answers[key].result(timeout=20)
            assert settings.autorespond is True and settings.aliases == (("pal", "bob"),)

    assert tree.child(down, "root").pid != shard.pid
    for key in KEYS:  # each actor lives on its own shard, and nowhere else
        holders = [s.key for s in tree.bridge.status()[1:] if any(r.key == str(key) for r in s.children)]
        assert holders == [owner(key)], (key, holders)
    records = tree.log()
    wrong = [r for r in records if r["event"] == "activated" and r["kind"] == "user"
             and r.get("supervisor") != owner(int(r["key"]))]
    assert wrong == []
    assert [r for r in records if r["event"] == "stale_copy"] == []
