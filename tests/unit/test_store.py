"""The actor state store: write-through rows with a version, stale copies fail loudly, bad rows are moved aside."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from store import MemoryStore, Record, SqliteStore, StaleWrite
from store.migrations import MIGRATIONS, migrate
from store.sqlite import encode

Opener = Callable[[], Any]  # returns a handle on one shared store, as a separate copy of an actor would


@pytest.fixture(params=["sqlite", "memory"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Each call is one more 'process' on the same data: a new SqliteStore on the file, or the one MemoryStore."""
    opened: list[Any] = []
    shared = MemoryStore()

    def opener() -> Any:
        store = SqliteStore(tmp_path / "state.sqlite3") if request.param == "sqlite" else shared
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


STATE: dict[str, Any] = {
    "autorespond": True,
    "aliases": {"big bob": "bob", "caf\u00e9": "\U0001f916"},
    "sent": [[1_200_000_000_000_000_000, "bob"]],  # a snowflake needs the full 64 bits
    "ratio": 0.25,
    "nothing": None,
    "blob": b"\x00\xff",
    7: "int keys survive",
}


# ---- both stores ---------------------------------------------------------------------------------


def test_a_missing_row_loads_as_no_state_at_version_0(open_store: Opener) -> None:
    assert open_store().load("user", "42") == Record(None, 0)


def test_save_then_load_round_trips_the_state(open_store: Opener) -> None:
    store = open_store()
    assert store.save("user", "42", STATE, expected_version=0, schema=1) == 1
    record = store.load("user", "42")
    assert record == Record(STATE, 1, 1)
    assert open_store().load("user", "42").state == STATE  # another handle sees it too: written through


def test_each_save_increments_the_version(open_store: Opener) -> None:
    store = open_store()
    version = 0
    for n in range(1, 4):
        version = store.save("user", "42", {"n": n}, expected_version=version, schema=1)
        assert version == n
        assert store.load("user", "42") == Record({"n": n}, n, 1)


def test_rows_are_per_kind_and_key(open_store: Opener) -> None:
    store = open_store()
    store.save("user", "1", {"who": "user 1"}, 0, 1)
    store.save("channel", "1", {"who": "channel 1"}, 0, 1)
    store.save("user", "2", {"who": "user 2"}, 0, 1)
    assert store.load("user", "1").state == {"who": "user 1"}
    assert store.load("channel", "1").state == {"who": "channel 1"}
    assert store.load("user", "2").state == {"who": "user 2"}


def test_of_two_live_copies_the_first_save_wins_and_the_second_is_stale(open_store: Opener) -> None:
    setup = open_store()
    setup.save("user", "42", {"n": 0}, 0, 1)
    first, second = open_store(), open_store()
    assert first.load("user", "42").version == 1
    assert second.load("user", "42").version == 1
    assert first.save("user", "42", {"n": "first"}, expected_version=1, schema=1) == 2
    with pytest.raises(StaleWrite, match="user/42"):
        second.save("user", "42", {"n": "second"}, expected_version=1, schema=1)
    assert open_store().load("user", "42") == Record({"n": "first"}, 2, 1)


def test_two_copies_that_both_found_no_row_cannot_both_create_it(open_store: Opener) -> None:
    first, second = open_store(), open_store()
    assert first.load("user", "42").version == second.load("user", "42").version == 0
    first.save("user", "42", {"n": "first"}, 0, 1)
    with pytest.raises(StaleWrite):
        second.save("user", "42", {"n": "second"}, 0, 1)
    assert open_store().load("user", "42").state == {"n": "first"}


def test_a_save_naming_a_version_ahead_of_the_row_is_stale(open_store: Opener) -> None:
    store = open_store()
    store.save("user", "42", {"n": 1}, 0, 1)
    with pytest.raises(StaleWrite):
        store.save("user", "42", {"n": 9}, expected_version=5, schema=1)
    assert store.load("user", "42") == Record({"n": 1}, 1, 1)


# ---- SQLite only: corrupt rows -------------------------------------------------------------------


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"\xc1garbage", id="not-msgpack"),
        pytest.param(msgpack.packb([1, 2]), id="msgpack-list"),
        pytest.param(msgpack.packb("text"), id="msgpack-str"),
        pytest.param(encode({"aliases": {"a": "b"}})[:-2], id="truncated"),
        pytest.param(b"", id="empty"),
    ],
)
def test_a_corrupt_row_is_quarantined_and_the_actor_starts_clean(sqlite_store: SqliteStore, blob: bytes) -> None:
    sqlite_store.save("user", "ok", {"fine": True}, 0, 1)
    sqlite_store.put_raw("user", "42", blob)

    record = sqlite_store.load("user", "42")
    assert record.state is None and record.version == 0
    assert record.quarantined  # a reason an operator can read in the supervisor log
    assert sqlite_store.quarantined() == [("user", "42", record.quarantined)]
    assert sqlite_store.quarantined("user") == [("user", "42", record.quarantined)]
    assert sqlite_store.quarantined("channel") == []
    assert "42" not in sqlite_store.keys("user")

    # loading again finds no row (it is not quarantined twice), and a fresh start can be saved
    assert sqlite_store.load("user", "42") == Record(None, 0)
    assert len(sqlite_store.quarantined()) == 1
    assert sqlite_store.save("user", "42", {"fresh": True}, expected_version=0, schema=1) == 1
    assert sqlite_store.load("user", "42") == Record({"fresh": True}, 1, 1)
    assert sqlite_store.load("user", "ok").state == {"fine": True}  # neighbours untouched


def test_the_quarantine_keeps_the_bad_bytes_for_inspection(sqlite_store: SqliteStore) -> None:
    sqlite_store.put_raw("channel", "9", b"\xc1garbage", schema=3)
    reason = sqlite_store.load("channel", "9").quarantined
    row = sqlite_store.conn.execute("SELECT kind, key, schema, data, reason FROM quarantine").fetchone()
    assert row == ("channel", "9", 3, b"\xc1garbage", reason)


def test_a_non_map_row_names_what_it_found(sqlite_store: SqliteStore) -> None:
    sqlite_store.put_raw("user", "42", msgpack.packb([1, 2]))
    assert sqlite_store.load("user", "42").quarantined == "ValueError: expected a map, found list"


# ---- SQLite only: migrations, files, processes ---------------------------------------------------


def test_migrations_are_applied_once_however_often_the_file_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = SqliteStore(path)
    first.save("user", "1", {"kept": True}, 0, 1)
    second = SqliteStore(path)
    assert second.load("user", "1").state == {"kept": True}  # reopening did not recreate the tables
    first.close()
    second.close()
    third = SqliteStore(path)
    rows = third.conn.execute("SELECT id, COUNT(*) FROM schema_migrations GROUP BY id ORDER BY id").fetchall()
    assert rows == [(number, 1) for number, _ in MIGRATIONS]
    third.close()


def test_migrate_returns_the_newest_number_and_is_a_no_op_the_second_time(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    newest = max(number for number, _ in MIGRATIONS)
    assert migrate(conn) == newest
    assert migrate(conn) == newest
    assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"actor_state", "quarantine", "schema_migrations"} <= tables
    conn.close()


def test_the_store_creates_its_directory_and_uses_wal(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "deeper" / "data" / "state.sqlite3")
    store.save("user", "1", {}, 0, 1)
    assert (tmp_path / "deeper" / "data" / "state.sqlite3").is_file()
    assert store.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.close()


def test_a_forked_child_opens_its_own_connection_and_its_write_is_seen(sqlite_store: SqliteStore) -> None:
    sqlite_store.save("user", "parent", {"by": "parent"}, 0, 1)  # the parent's connection is open before fork
    parent_conn = sqlite_store.conn
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            assert sqlite_store.conn is not parent_conn
            sqlite_store.save("user", "child", {"by": "child", "pid": os.getpid()}, 0, 1)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sqlite_store.conn is parent_conn  # the parent keeps its own connection
    assert sqlite_store.load("user", "child") == Record({"by": "child", "pid": pid}, 1, 1)
    assert sqlite_store.save("user", "parent", {"by": "parent", "again": True}, 1, 1) == 2


def test_processes_racing_on_one_row_lose_no_update(sqlite_store: SqliteStore) -> None:
    """Read, change, save with the version read; on StaleWrite read again. No increment may vanish."""
    sqlite_store.save("counter", "n", {"n": 0}, 0, 1)

    def increment(times: int) -> None:
        done = 0
        while done < times:
            record = sqlite_store.load("counter", "n")
            try:
                sqlite_store.save("counter", "n", {"n": record.state["n"] + 1}, record.version, 1)
                done += 1
            except StaleWrite:
                continue

    children = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                increment(200)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    increment(200)
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children] == [0, 0, 0]
    assert sqlite_store.load("counter", "n") == Record({"n": 800}, 801, 1)
    assert sqlite_store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_keys_lists_one_kind_sorted(sqlite_store: SqliteStore) -> None:
    assert sqlite_store.keys("user") == []
    for key in ["30", "1", "200"]:
        sqlite_store.save("user", key, {}, 0, 1)
    sqlite_store.save("channel", "5", {}, 0, 1)
    keys = sqlite_store.keys("user")
    assert sorted(keys) == keys and set(keys) == {"1", "30", "200"}
    assert sqlite_store.keys("channel") == ["5"]


def test_delete_removes_the_row(sqlite_store: SqliteStore) -> None:
    sqlite_store.save("user", "1", {"x": 1}, 0, 1)
    sqlite_store.delete("user", "1")
    assert sqlite_store.load("user", "1") == Record(None, 0)
    assert sqlite_store.keys("user") == []
    assert sqlite_store.save("user", "1", {"x": 2}, 0, 1) == 1


# ---- routing facts: keys keep their type; one bad row never stops a start ------------------------


@pytest.mark.parametrize(
    "key", ["²²", "0123", "١٢٣", "42x", "big bob", 123, 1575881908363984897, "123:456"],
)
def test_a_route_key_comes_back_with_the_type_it_was_saved_with(open_store: Opener, key: Any) -> None:
    open_store().put_route("alias" if isinstance(key, str) else "webhook", key, "lilith")
    kind, back, value = open_store().routes()[0]
    assert back == key and type(back) is type(key) and value == "lilith"


def test_routes_saved_before_keys_had_a_type_are_read_by_their_kind(tmp_path: Path) -> None:
    """A data directory from before migration 4: Discord-id kinds come back as ints, aliases as text."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, applied REAL)")
    for number, sql in MIGRATIONS[:3]:
        for statement in filter(str.strip, sql.split(";")):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (number,))
    rows = [("webhook", "77", "true"), ("alias", "0123", '"bob"'), ("alias", "²²", '"sq"'),
            ("blacklist", "5", "true"), ("blacklist", "9:5", "true"), ("conversation", "8", "12.5")]
    conn.executemany("INSERT INTO routes(kind, key, value) VALUES (?, ?, ?)", rows)
    conn.close()
    store = SqliteStore(path)
    assert sorted(store.routes(), key=repr) == sorted(
        [("webhook", 77, True), ("alias", "0123", "bob"), ("alias", "²²", "sq"), ("blacklist", 5, True),
         ("blacklist", "9:5", True), ("conversation", 8, 12.5)], key=repr)
    store.close()


def test_an_unreadable_route_row_is_quarantined_and_the_rest_are_read(sqlite_store: SqliteStore) -> None:
    sqlite_store.put_route("alias", "good", "lilith")
    sqlite_store.conn.execute("INSERT INTO routes(kind, key, value, key_type) VALUES ('alias', 'bad', '{', 'str')")
    sqlite_store.conn.execute("INSERT INTO routes(kind, key, value, key_type) VALUES ('webhook', '²', 'true', 'int')")
    problems: list[str] = []
    assert sqlite_store.routes(problems.append) == [("alias", "good", "lilith")]
    assert len(problems) == 2 and all("quarantined" in p for p in problems)
    assert {(k, key) for k, key, _ in sqlite_store.quarantined()} == {("route:alias", "bad"), ("route:webhook", "²")}
    assert sqlite_store.routes() == [("alias", "good", "lilith")]  # moved aside: not reported again


# ---- the durable work table: handed on again when due, never because an answer is slow ---------------


def open_message(store: SqliteStore, mid: int, at: float, user: int = 7) -> None:
    store.work_open(mid, 1, user, {"message_id": mid}, due_in_s=20.0, now=at)


def test_work_nobody_acknowledged_falls_due_and_counts_a_hand_off(sqlite_store: SqliteStore) -> None:
    open_message(sqlite_store, 1, at=1000.0)
    assert sqlite_store.work_due(20.0, now=1010.0) == []
    [row] = sqlite_store.work_due(20.0, now=1021.0)
    assert (row["message_id"], row["attempts"]) == (1, 0)
    assert sqlite_store.work_due(20.0, now=1030.0) == []  # not again before another 20 s
    [row] = sqlite_store.work_due(20.0, now=1042.0)
    assert row["attempts"] == 1


def test_work_an_actor_holds_is_not_handed_on_while_its_answer_is_slow(sqlite_store: SqliteStore) -> None:
    open_message(sqlite_store, 1, at=1000.0)
    sqlite_store.work_ack(1, patience_s=300.0, now=1001.0)  # queued by the user's actor
    for t in (1030.0, 1100.0, 1290.0):  # slot wait plus a slow model: minutes, not a loss
        assert sqlite_store.work_due(20.0, now=t) == []
    [row] = sqlite_store.work_due(20.0, now=1302.0)  # after the patience: asked again, not given up
    assert row["attempts"] == 0 and row["acked"] == 1001.0


def test_an_acknowledgement_resets_the_count_of_lost_hand_offs(sqlite_store: SqliteStore) -> None:
    open_message(sqlite_store, 1, at=1000.0)
    for t in (1021.0, 1042.0, 1063.0):
        sqlite_store.work_due(20.0, now=t)
    sqlite_store.work_ack(1, patience_s=300.0, now=1064.0)
    [row] = sqlite_store.work_due(20.0, now=1365.0)
    assert row["attempts"] == 0


def test_closed_work_is_never_due_and_a_user_finds_their_open_messages_oldest_first(sqlite_store) -> None:
    for mid in (3, 1, 2):
        open_message(sqlite_store, mid, at=time.time())
    open_message(sqlite_store, 9, at=time.time(), user=8)
    sqlite_store.work_done(2, 555)
    assert [r["message_id"] for r in sqlite_store.work_open_for_user(7)] == [1, 3]
    assert [r["message_id"] for r in sqlite_store.work_due(20.0, now=time.time() + 60)] == [1, 3, 9]
