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

from store import MemoryStore, Record, SqliteStore, SqlStore, StaleWrite, open_target
from store.migrations import MIGRATIONS, migrate
from store.sqlite import encode
from tests.conftest import STORES, store_target_for

Opener = Callable[[], Any]  # returns a handle on one shared store, as a separate copy of an actor would


@pytest.fixture(params=[*STORES, "memory"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Each call is one more 'process' on the same data: a new handle on the SQLite file or the PostgreSQL
    database, or the one MemoryStore."""
    opened: list[Any] = []
    shared = MemoryStore()
    target = None if request.param == "memory" else store_target_for(request, request.param, tmp_path)

    def opener() -> Any:
        store = shared if target is None else open_target(target)
        opened.append(store)
        return store

    yield opener
    for store in opened:
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


# ---- every store ---------------------------------------------------------------------------------


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


# ---- corrupt rows (SQLite and PostgreSQL) ---------------------------------------------------------


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
def test_a_corrupt_row_is_quarantined_and_the_actor_starts_clean(sql_store: SqlStore, blob: bytes) -> None:
    sql_store.save("user", "ok", {"fine": True}, 0, 1)
    sql_store.put_raw("user", "42", blob)

    record = sql_store.load("user", "42")
    assert record.state is None and record.version == 0
    assert record.quarantined  # a reason an operator can read in the supervisor log
    assert sql_store.quarantined() == [("user", "42", record.quarantined)]
    assert sql_store.quarantined("user") == [("user", "42", record.quarantined)]
    assert sql_store.quarantined("channel") == []
    assert "42" not in sql_store.keys("user")

    # loading again finds no row (it is not quarantined twice), and a fresh start can be saved
    assert sql_store.load("user", "42") == Record(None, 0)
    assert len(sql_store.quarantined()) == 1
    assert sql_store.save("user", "42", {"fresh": True}, expected_version=0, schema=1) == 1
    assert sql_store.load("user", "42") == Record({"fresh": True}, 1, 1)
    assert sql_store.load("user", "ok").state == {"fine": True}  # neighbours untouched


def test_the_quarantine_keeps_the_bad_bytes_for_inspection(sql_store: SqlStore) -> None:
    sql_store.put_raw("channel", "9", b"\xc1garbage", schema=3)
    reason = sql_store.load("channel", "9").quarantined
    row = sql_store.execute("SELECT kind, key, schema, data, reason FROM quarantine").fetchone()
    assert row == ("channel", "9", 3, b"\xc1garbage", reason)


def test_a_non_map_row_names_what_it_found(sql_store: SqlStore) -> None:
    sql_store.put_raw("user", "42", msgpack.packb([1, 2]))
    assert sql_store.load("user", "42").quarantined == "ValueError: expected a map, found list"


# ---- SQLite only: migrations, files -------------------------------------------------------------


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


# ---- processes sharing one store (SQLite and PostgreSQL) -------------------------------------------


def test_a_forked_child_opens_its_own_connection_and_its_write_is_seen(sql_store: SqlStore) -> None:
    sql_store.save("user", "parent", {"by": "parent"}, 0, 1)  # the parent's connection is open before fork
    parent_conn = sql_store.conn
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            assert sql_store.conn is not parent_conn
            sql_store.save("user", "child", {"by": "child", "pid": os.getpid()}, 0, 1)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sql_store.conn is parent_conn  # the parent keeps its own connection
    assert sql_store.load("user", "child") == Record({"by": "child", "pid": pid}, 1, 1)
    assert sql_store.save("user", "parent", {"by": "parent", "again": True}, 1, 1) == 2


def test_of_two_processes_saving_the_same_version_at_once_exactly_one_gets_stale_write(sql_store: SqlStore) -> None:
    """Two live copies of one actor in two processes: both read version 1, both save at the same moment (a
    pipe releases them together). One wins; the other's save fails loudly instead of overwriting."""
    sql_store.save("user", "42", {"n": 0}, 0, 1)
    go_read, go_write = os.pipe()
    ready_read, ready_write = os.pipe()
    children = []
    for n in (1, 2):
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                version = sql_store.load("user", "42").version
                os.write(ready_write, b"r")
                os.read(go_read, 1)  # wait for the starting gun
                try:
                    sql_store.save("user", "42", {"n": n}, version, 1)
                    code = 0
                except StaleWrite:
                    code = 1
            finally:
                os._exit(code)
        children.append(pid)
    assert os.read(ready_read, 1) + os.read(ready_read, 1) == b"rr"  # both have read version 1
    os.write(go_write, b"xx")
    codes = sorted(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children)
    for fd in (go_read, go_write, ready_read, ready_write):
        os.close(fd)
    assert codes == [0, 1]
    record = sql_store.load("user", "42")
    assert record.version == 2 and record.state["n"] in (1, 2)


def test_processes_racing_on_one_row_lose_no_update(sql_store: SqlStore) -> None:
    """Read, change, save with the version read; on StaleWrite read again. No increment may vanish."""
    sql_store.save("counter", "n", {"n": 0}, 0, 1)

    def increment(times: int) -> None:
        done = 0
        while done < times:
            record = sql_store.load("counter", "n")
            try:
                sql_store.save("counter", "n", {"n": record.state["n"] + 1}, record.version, 1)
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
    assert sql_store.load("counter", "n") == Record({"n": 800}, 801, 1)
    if sql_store.backend == "sqlite":
        assert sql_store.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_keys_lists_one_kind_sorted(sql_store: SqlStore) -> None:
    assert sql_store.keys("user") == []
    for key in ["30", "1", "200"]:
        sql_store.save("user", key, {}, 0, 1)
    sql_store.save("channel", "5", {}, 0, 1)
    keys = sql_store.keys("user")
    assert sorted(keys) == keys and set(keys) == {"1", "30", "200"}
    assert sql_store.keys("channel") == ["5"]


def test_delete_removes_the_row(sql_store: SqlStore) -> None:
    sql_store.save("user", "1", {"x": 1}, 0, 1)
    sql_store.delete("user", "1")
    assert sql_store.load("user", "1") == Record(None, 0)
    assert sql_store.keys("user") == []
    assert sql_store.save("user", "1", {"x": 2}, 0, 1) == 1


def test_a_delete_naming_an_old_version_is_stale_and_removes_nothing(sql_store: SqlStore) -> None:
    sql_store.save("user", "1", {"x": 1}, 0, 1)
    sql_store.save("user", "1", {"x": 2}, 1, 1)
    with pytest.raises(StaleWrite, match="user/1"):
        sql_store.delete("user", "1", expected_version=1)
    sql_store.delete("user", "1", expected_version=2)
    assert sql_store.load("user", "1") == Record(None, 0)


def test_a_row_its_actor_could_not_restore_is_moved_aside_only_at_the_version_read(sql_store: SqlStore) -> None:
    sql_store.save("personality", "bob", {"name": 1}, 0, 1)
    sql_store.quarantine("personality", "bob", 7, "not this version")  # someone saved since: left alone
    assert sql_store.load("personality", "bob").version == 1
    sql_store.quarantine("personality", "bob", 1, "ValueError: name is not text")
    assert sql_store.load("personality", "bob") == Record(None, 0)
    assert sql_store.quarantined() == [("personality", "bob", "ValueError: name is not text")]


def test_keys_sort_by_their_bytes_on_every_backend(sql_store: SqlStore) -> None:
    for key in ["b", "B", "a", "_", "é", "10", "9"]:
        sql_store.save("user", key, {}, 0, 1)
    assert sql_store.keys("user") == sorted(["b", "B", "a", "_", "é", "10", "9"])


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


def test_conversations_that_ended_are_expired_and_the_rest_kept(sql_store: SqlStore) -> None:
    sql_store.put_route("conversation", 1, 1000.5)
    sql_store.put_route("conversation", 2, 2000.25)
    sql_store.put_route("conversation", 3, 1e3)
    sql_store.put_route("alias", "bob", "lilith")  # another kind: never expired by time
    assert sql_store.expire_routes("conversation", 1500.0) == 2
    assert sorted(sql_store.routes()) == [("alias", "bob", "lilith"), ("conversation", 2, 2000.25)]


def test_a_route_set_again_is_replaced_and_false_removes_it(sql_store: SqlStore) -> None:
    sql_store.put_route("activated", 5, "bob")
    sql_store.put_route("activated", 5, "alice")
    assert sql_store.routes() == [("activated", 5, "alice")]
    sql_store.put_route("activated", 5, False)
    assert sql_store.routes() == []


def test_an_unreadable_route_row_is_quarantined_and_the_rest_are_read(sql_store: SqlStore) -> None:
    sql_store.put_route("alias", "good", "lilith")
    sql_store.execute("INSERT INTO routes(kind, key, value, key_type) VALUES ('alias', 'bad', '{', 'str')")
    sql_store.execute("INSERT INTO routes(kind, key, value, key_type) VALUES ('webhook', '²', 'true', 'int')")
    problems: list[str] = []
    assert sql_store.routes(problems.append) == [("alias", "good", "lilith")]
    assert len(problems) == 2 and all("quarantined" in p for p in problems)
    assert {(k, key) for k, key, _ in sql_store.quarantined()} == {("route:alias", "bad"), ("route:webhook", "²")}
    assert sql_store.routes() == [("alias", "good", "lilith")]  # moved aside: not reported again


# ---- the durable work table: handed on again when due, never because an answer is slow ---------------


def open_message(store: SqliteStore, mid: int, at: float, user: int = 7) -> None:
    store.work_open(mid, 1, user, {"message_id": mid}, due_in_s=20.0, now=at)


def test_work_nobody_acknowledged_falls_due_and_counts_a_hand_off(sql_store: SqlStore) -> None:
    open_message(sql_store, 1, at=1000.0)
    assert sql_store.work_due(20.0, now=1010.0) == []
    [row] = sql_store.work_due(20.0, now=1021.0)
    assert (row["message_id"], row["attempts"]) == (1, 0)
    assert sql_store.work_due(20.0, now=1030.0) == []  # not again before another 20 s
    [row] = sql_store.work_due(20.0, now=1042.0)
    assert row["attempts"] == 1


def test_work_an_actor_holds_is_not_handed_on_while_its_answer_is_slow(sql_store: SqlStore) -> None:
    open_message(sql_store, 1, at=1000.0)
    sql_store.work_ack(1, patience_s=300.0, now=1001.0)  # queued by the user's actor
    for t in (1030.0, 1100.0, 1290.0):  # slot wait plus a slow model: minutes, not a loss
        assert sql_store.work_due(20.0, now=t) == []
    [row] = sql_store.work_due(20.0, now=1302.0)  # after the patience: asked again, not given up
    assert row["attempts"] == 0 and row["acked"] == 1001.0


def test_an_acknowledgement_resets_the_count_of_lost_hand_offs(sql_store: SqlStore) -> None:
    open_message(sql_store, 1, at=1000.0)
    for t in (1021.0, 1042.0, 1063.0):
        sql_store.work_due(20.0, now=t)
    sql_store.work_ack(1, patience_s=300.0, now=1064.0)
    [row] = sql_store.work_due(20.0, now=1365.0)
    assert row["attempts"] == 0


def test_a_message_is_recorded_once_and_the_channel_knows_its_newest(sql_store: SqlStore) -> None:
    assert sql_store.work_open(1_200_000_000_000_000_001, 5, 7, {"a": 1}, now=1000.0)
    assert not sql_store.work_open(1_200_000_000_000_000_001, 5, 7, {"a": 2}, now=1001.0)  # a redelivery
    sql_store.work_open(1_200_000_000_000_000_002, 5, 7, {"a": 3}, now=1002.0)
    assert sql_store.work_known(1_200_000_000_000_000_001) and not sql_store.work_known(3)
    assert sql_store.work_last_seen(5) == 1_200_000_000_000_000_002
    assert sql_store.work_last_seen(5, before=1001.5) == 1_200_000_000_000_000_001
    assert sql_store.work_last_seen(6) is None
    sql_store.work_give_up(1_200_000_000_000_000_002)
    assert [r["incoming"] for r in sql_store.work_due(20.0, now=2000.0)] == [{"a": 1}]
    assert sql_store.work_prune(older_than_s=0) == 2


def test_closed_work_is_never_due_and_a_user_finds_their_open_messages_oldest_first(sql_store) -> None:
    for mid in (3, 1, 2):
        open_message(sql_store, mid, at=time.time())
    open_message(sql_store, 9, at=time.time(), user=8)
    sql_store.work_done(2, 555)
    assert [r["message_id"] for r in sql_store.work_open_for_user(7)] == [1, 3]
    assert [r["message_id"] for r in sql_store.work_due(20.0, now=time.time() + 60)] == [1, 3, 9]
