"""A corrupt stored row on the real tree: that actor starts clean, the row is quarantined, an ERROR is logged,
and nothing crash-loops (no backoff, no restart, no parking), while its neighbours keep their state."""

from __future__ import annotations

from pathlib import Path

import config
from actors.kinds import Kind
from actors.messages import (
    ChannelInfo,
    GetChannelInfo,
    GetUserSettings,
    LookupPersonality,
    NotFound,
    RegisterPersonality,
    SetAutorespond,
    UserSettings,
)
from store import SqliteStore
from store.sqlite import encode
from supervision.policy import LIVE
from testkit.process import wait_for

UNDECODABLE = b"\xc1\xc1\x00 this is not msgpack"
WRONG_SHAPE = encode({"aliases": 5})  # decodes to a map, but no UserState can be made from it
LOOPING = ("backoff", "restarted", "parked", "exited")


def quarantine_errors(tree, key: str) -> list[dict]:
    return [r for r in tree.events("quarantined", key) if r["level"] == "error"]


def test_bad_user_rows_start_clean_quarantined_with_an_error_and_no_crash_loop(make_tree) -> None:
    tree = make_tree()
    store = SqliteStore(tree.settings.store_path)
    tree.ask(Kind.USER, 100, SetAutorespond(100, True))  # a healthy neighbour with state
    store.put_raw("user", "101", UNDECODABLE)
    store.put_raw("user", "102", WRONG_SHAPE)

    for uid in (101, 102):
        assert tree.ask(Kind.USER, uid, GetUserSettings(uid)) == UserSettings(uid, False, ())  # started clean
    first_pids = {uid: tree.child(str(uid)).pid for uid in (101, 102)}

    # The fresh state is saved over the gap (no stale write) and the actor is the same process.
    for uid in (101, 102):
        assert tree.ask(Kind.USER, uid, SetAutorespond(uid, True)).autorespond is True
        row = tree.child(str(uid))
        assert row.status == LIVE and row.pid == first_pids[uid] and row.restarts == 0

    assert sorted(k for _, k, _ in store.quarantined("user")) == ["101", "102"]
    for key in ("101", "102"):
        errors = wait_for(lambda k=key: quarantine_errors(tree, k), what=f"the quarantine ERROR for {key}")
        assert len(errors) == 1
        assert not [r for r in tree.log() if r["key"] == key and r["event"] in LOOPING]
    assert "TypeError" in quarantine_errors(tree, "102")[0]["detail"]  # why, for the operator
    assert tree.ask(Kind.USER, 100, GetUserSettings(100)).autorespond is True  # the neighbour is untouched
    store.close()


def test_a_bad_channel_row_starts_that_channel_clean(make_tree) -> None:
    tree = make_tree()
    store = SqliteStore(tree.settings.store_path)
    store.put_raw("channel", "555", encode({"place": 5, "sent": "nonsense"}))

    assert tree.ask(Kind.CHANNEL, 555, GetChannelInfo(555)) == ChannelInfo(555, None, None, 0)

    assert [k for _, k, _ in store.quarantined("channel")] == ["555"]
    assert wait_for(lambda: quarantine_errors(tree, "555"), what="the quarantine ERROR")
    assert not [r for r in tree.log() if r["key"] == "555" and r["event"] in LOOPING]
    store.close()


def test_a_bad_registry_row_at_start_leaves_a_working_empty_catalogue(make_tree, tmp_path: Path) -> None:
    """The registry is permanent and starts with the tree: a bad row must not keep the whole tree from starting."""
    data = tmp_path / "data"
    store = SqliteStore(config.load({"TZUROT_DATA_DIR": str(data)}).store_path)
    store.put_raw("registry", "registry", encode({"personalities": {"lilith": 5}, "aliases": [1, 2]}))

    tree = make_tree(data_dir=data)

    assert isinstance(tree.ask(Kind.REGISTRY, Kind.REGISTRY, LookupPersonality("lilith")), NotFound)
    assert tree.ask(Kind.REGISTRY, Kind.REGISTRY, RegisterPersonality("lilith", 7, "Lilith")).name == "lilith"
    assert [k for _, k, _ in store.quarantined("registry")] == ["registry"]
    assert wait_for(lambda: quarantine_errors(tree, "registry"), what="the quarantine ERROR")
    assert not [r for r in tree.log() if r["key"] == "registry" and r["event"] in LOOPING]
    store.close()
