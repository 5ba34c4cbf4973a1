"""What only the PostgreSQL store has to prove: its migrations under concurrent starts, the overwrite it does in
place of secure_delete, and that its URL's password is never shown. The rest is the contract suite
(tests/unit/test_store.py), which runs on both backends."""

from __future__ import annotations

import os

import psycopg
import pytest

import config
from store import SqliteStore, check_writable, open_store, open_target
from store.migrations import PG_MIGRATIONS
from store.postgres import PostgresStore


def test_processes_starting_at_once_apply_each_migration_exactly_once(postgres_url: str) -> None:
    children = []
    for n in range(4):
        pid = os.fork()
        if pid == 0:  # each child is a process opening the new database for the first time
            code = 1
            try:
                PostgresStore(postgres_url).save("user", str(n), {"n": n}, 0, 1)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children] == [0, 0, 0, 0]
    store = PostgresStore(postgres_url)
    rows = store.execute("SELECT id, COUNT(*) FROM schema_migrations GROUP BY id ORDER BY id").fetchall()
    assert rows == [(number, 1) for number, _ in PG_MIGRATIONS]
    assert store.keys("user") == ["0", "1", "2", "3"]
    store.close()


def test_a_deleted_row_is_overwritten_before_it_is_deleted(postgres_url: str) -> None:
    """PostgreSQL has no secure_delete: the store blanks the value first (a trigger records what each
    statement left in the row)."""
    store = PostgresStore(postgres_url)
    store.save("user", "42", {"sealed_key": "gAAAA-secret"}, 0, 1)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE seen (op TEXT, data BYTEA)")
        conn.execute("""CREATE FUNCTION note() RETURNS trigger AS $$ BEGIN
            INSERT INTO seen VALUES (TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.data ELSE NEW.data END);
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; END $$ LANGUAGE plpgsql""")
        conn.execute("CREATE TRIGGER note BEFORE UPDATE OR DELETE ON actor_state FOR EACH ROW EXECUTE FUNCTION note()")
        store.delete("user", "42", expected_version=1)
        assert conn.execute("SELECT op, data FROM seen").fetchall() == [("UPDATE", b""), ("DELETE", b"")]
    store.close()


def test_the_configured_backend_is_chosen_by_the_database_url(tmp_path, postgres_url: str) -> None:
    sqlite = open_store(config.load({"TZUROT_DATA_DIR": str(tmp_path)}))
    assert isinstance(sqlite, SqliteStore) and sqlite.path == tmp_path / "tzurot.sqlite3"
    pg = open_store(config.load({"TZUROT_DATA_DIR": str(tmp_path), "TZUROT_DATABASE_URL": postgres_url}))
    assert isinstance(pg, PostgresStore)
    pg.save("user", "1", {}, 0, 1)
    assert not (tmp_path / "tzurot.sqlite3").exists()  # nothing went to the data directory's SQLite file
    pg.close()


def test_a_password_is_never_shown_when_the_server_cannot_be_reached() -> None:
    store = open_target("postgresql://bot:hunter2@127.0.0.1:1/tzurot")
    assert "hunter2" not in repr(store)
    with pytest.raises(ConnectionError) as caught:
        store.load("user", "1")
    assert "hunter2" not in str(caught.value) and "bot:***@127.0.0.1:1/tzurot" in str(caught.value)


def test_a_forked_child_never_closes_its_parents_session(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    store.save("user", "1", {"v": 1}, 0, 1)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            store.save("user", "2", {"v": 2}, 0, 1)  # its own connection
            store.close()
            del store
            code = 0
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert store.save("user", "1", {"v": 3}, 1, 1) == 2  # the parent's connection still works
    assert store.load("user", "2").state == {"v": 2}
    store.close()


def test_healthz_finds_the_database_writable_or_says_it_cannot_reach_it(tmp_path, postgres_url: str) -> None:
    check_writable(config.load({"TZUROT_DATA_DIR": str(tmp_path), "TZUROT_DATABASE_URL": postgres_url}), 2.0)
    down = config.load({"TZUROT_DATA_DIR": str(tmp_path), "TZUROT_DATABASE_URL": "postgresql://b:hunter2@127.0.0.1:1/x"})
    with pytest.raises(ConnectionError) as caught:
        check_writable(down, 2.0)
    assert "b:***@127.0.0.1:1/x" in str(caught.value) and "hunter2" not in str(caught.value)


def test_healthz_through_pgbouncer_leaves_no_timeout_on_the_pooled_connection(tmp_path, postgres_url: str) -> None:
    """A health check every 30 s must not shorten what an actor runs next on the same server connection."""
    from testkit import pgbouncer

    if reason := pgbouncer.missing_reason():
        pytest.skip(reason)
    with pgbouncer.pgbouncer(postgres_url, pool_size=1) as bouncer:
        url = bouncer.url_for(postgres_url)
        check_writable(config.load({"TZUROT_DATA_DIR": str(tmp_path), "TZUROT_DATABASE_URL": url}), 0.3)
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as actor:  # the pool's one connection
            assert actor.execute("SHOW statement_timeout").fetchone() == ("0",)


def test_status_shows_the_database_size_on_postgresql_not_the_data_directory(tmp_path, postgres_url: str) -> None:
    from store import size_bytes

    settings = config.load({"TZUROT_DATA_DIR": str(tmp_path), "TZUROT_DATABASE_URL": postgres_url})
    open_store(settings).save("user", "1", {"v": 1}, 0, 1)
    assert not list(tmp_path.glob("tzurot.sqlite3*"))  # nothing on the local disk to measure
    assert size_bytes(settings) > 1_000_000  # a PostgreSQL database is several MB even when nearly empty
    down = config.load({"TZUROT_DATA_DIR": str(tmp_path), "TZUROT_DATABASE_URL": "postgresql://b@127.0.0.1:1/x"})
    assert size_bytes(down) is None
