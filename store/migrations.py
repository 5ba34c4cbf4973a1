"""Numbered schema migrations per backend, applied in order, each exactly once, at connection open.

Append new steps to MIGRATIONS (SQLite) and PG_MIGRATIONS (PostgreSQL); never edit or reorder a step that has
shipped. The two lists are numbered separately: PostgreSQL arrived after SQLite's fifth step.
"""

from __future__ import annotations

import sqlite3
from typing import Any

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE actor_state (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            schema INTEGER NOT NULL,
            version INTEGER NOT NULL,
            data BLOB NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (kind, key)
        );
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            version INTEGER NOT NULL,
            schema INTEGER NOT NULL,
            data BLOB NOT NULL,
            reason TEXT NOT NULL,
            at REAL NOT NULL
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE routes (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        );
        """,
    ),
    (
        3,
        """
        CREATE TABLE work (
            message_id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            incoming BLOB NOT NULL,
            state TEXT NOT NULL,
            reply_id INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE INDEX work_open ON work (state, created);
        CREATE INDEX work_channel ON work (channel_id, message_id);
        """,
    ),
    (
        4,
        # Route keys keep their type: a name like "0123" or "²²" is text, a Discord id is a number. Rows saved
        # before this step had none; the kinds keyed by Discord ids get "int" when the key is plain ASCII digits
        # without a leading zero (as the bot wrote them), and everything else stays text.
        """
        ALTER TABLE routes ADD COLUMN key_type TEXT NOT NULL DEFAULT 'str';
        UPDATE routes SET key_type = 'int'
            WHERE kind IN ('webhook', 'activated', 'conversation', 'blacklist')
            AND key != '' AND key NOT GLOB '*[^0-9]*' AND (key = '0' OR key NOT GLOB '0*');
        """,
    ),
    (
        5,
        # Open work is handed on again when it falls `due`, not by its age: an actor that has a message in hand
        # acknowledges it (`acked`), which pushes `due` out, so a slow answer is never taken for a lost one.
        """
        ALTER TABLE work ADD COLUMN due REAL NOT NULL DEFAULT 0;
        ALTER TABLE work ADD COLUMN acked REAL;
        UPDATE work SET due = created + 20;
        CREATE INDEX work_due ON work (state, due);
        CREATE INDEX work_user ON work (user_id, state);
        """,
    ),
    (
        6,
        # Long-term memory (store/memories.py): one row per remembered exchange, and its full-text index (FTS5,
        # ranked by BM25), kept in step by the store itself (a trigger's body would not survive the split on ';').
        """
        CREATE TABLE memories (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL,
            personality TEXT NOT NULL,
            channel_id INTEGER NOT NULL,
            private INTEGER NOT NULL DEFAULT 0,
            text TEXT NOT NULL,
            created REAL NOT NULL
        );
        CREATE INDEX memories_owner ON memories (user_id, personality, id);
        CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', content_rowid='id');
        """,
    ),
    (
        7,
        # A memory's embedding (float32, normalised) when the AI backend offers /embeddings (ai/embeddings.py).
        "ALTER TABLE memories ADD COLUMN vector BLOB",
    ),
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to the newest migration; return its number."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, applied REAL)")
    done = {n for (n,) in conn.execute("SELECT id FROM schema_migrations")}
    for number, sql in MIGRATIONS:
        if number in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the write lock: another process may have just applied it.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE id=?", (number,)).fetchone():
                conn.execute("ROLLBACK")
                continue
            for statement in filter(str.strip, sql.split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations(id, applied) VALUES (?, strftime('%s','now'))", (number,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return max(n for n, _ in MIGRATIONS)


# ---- PostgreSQL: its own numbered steps (a new database starts at today's schema) -----------------
PG_MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE actor_state (
            kind TEXT COLLATE "C" NOT NULL,
            key TEXT COLLATE "C" NOT NULL,
            schema INTEGER NOT NULL,
            version BIGINT NOT NULL,
            data BYTEA NOT NULL,
            updated DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (kind, key)
        );
        CREATE TABLE quarantine (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind TEXT COLLATE "C" NOT NULL,
            key TEXT COLLATE "C" NOT NULL,
            version BIGINT NOT NULL,
            schema INTEGER NOT NULL,
            data BYTEA NOT NULL,
            reason TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE routes (
            kind TEXT COLLATE "C" NOT NULL,
            key TEXT COLLATE "C" NOT NULL,
            value TEXT NOT NULL,
            key_type TEXT NOT NULL DEFAULT 'str',
            PRIMARY KEY (kind, key)
        );
        CREATE TABLE work (
            message_id BIGINT PRIMARY KEY,
            channel_id BIGINT NOT NULL,
            user_id BIGINT NOT NULL,
            incoming BYTEA NOT NULL,
            state TEXT NOT NULL,
            reply_id BIGINT,
            attempts INTEGER NOT NULL DEFAULT 0,
            created DOUBLE PRECISION NOT NULL,
            updated DOUBLE PRECISION NOT NULL,
            due DOUBLE PRECISION NOT NULL DEFAULT 0,
            acked DOUBLE PRECISION
        );
        CREATE INDEX work_open ON work (state, created);
        CREATE INDEX work_channel ON work (channel_id, message_id);
        CREATE INDEX work_due ON work (state, due);
        CREATE INDEX work_user ON work (user_id, state);
        """,
    ),
    (
        2,
        # The shared cells (store/cells.py: Discord's budget, the invalid-request window, the AI breakers and
        # slots), and a notification on every change of a routing fact, so every edge process learns it
        # (store/route_feed.py). A payload near PostgreSQL's 8000-byte limit is sent as the key alone.
        """
        CREATE TABLE IF NOT EXISTS cells (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
        CREATE OR REPLACE FUNCTION tzurot_routes_notify() RETURNS trigger AS $$
        DECLARE
            fact routes%ROWTYPE;
            gone BOOLEAN := TG_OP = 'DELETE';
            payload TEXT;
        BEGIN
            IF gone THEN fact := OLD; ELSE fact := NEW; END IF;
            payload := json_build_object('kind', fact.kind, 'key', fact.key, 'key_type', fact.key_type,
                                         'value', CASE WHEN gone THEN NULL ELSE fact.value END)::text;
            IF octet_length(payload) > 7900 THEN
                payload := json_build_object('kind', fact.kind, 'key', fact.key, 'key_type', fact.key_type,
                                             'read', true)::text;
            END IF;
            PERFORM pg_notify('tzurot_routes', payload);
            RETURN NULL;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER routes_notify AFTER INSERT OR UPDATE OR DELETE ON routes
            FOR EACH ROW EXECUTE FUNCTION tzurot_routes_notify();
        """,
    ),
    (
        3,
        # Long-term memory (store/memories.py): one row per remembered exchange, searched with full-text search.
        """
        CREATE TABLE memories (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id BIGINT NOT NULL,
            personality TEXT COLLATE "C" NOT NULL,
            channel_id BIGINT NOT NULL,
            private BOOLEAN NOT NULL DEFAULT FALSE,
            text TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
        );
        CREATE INDEX memories_owner ON memories (user_id, personality, id);
        CREATE INDEX memories_tsv ON memories USING GIN (tsv);
        """,
    ),
    (
        4,
        # A memory's embedding (float32, normalised) when the AI backend offers /embeddings (ai/embeddings.py).
        "ALTER TABLE memories ADD COLUMN vector BYTEA",
    ),
]

# pg_advisory_xact_lock key ("tzurot" in ASCII): processes starting at once migrate one at a time.
PG_LOCK = 0x747A75726F74


def migrate_postgres(conn: Any) -> int:
    """Bring a PostgreSQL database (an autocommit psycopg connection) up to its newest migration, all steps in
    one transaction under an advisory lock: a second process starting at the same time waits, then finds them
    applied. Returns the newest number. A database already up to date is seen in one plain SELECT, without
    the lock or a transaction: every actor process starting (hundreds at once) asks."""
    from psycopg.errors import UndefinedTable  # here: the SQLite path never loads psycopg

    newest = max(n for n, _ in PG_MIGRATIONS)
    try:
        if conn.execute("SELECT COALESCE(MAX(id), 0) FROM schema_migrations").fetchone()[0] >= newest:
            return newest
    except UndefinedTable:  # a new database: the locked path below creates the table
        pass
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, applied DOUBLE PRECISION)")
        done = {n for (n,) in conn.execute("SELECT id FROM schema_migrations")}
        for number, sql in PG_MIGRATIONS:
            if number not in done:
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations(id, applied) VALUES (%s, extract(epoch from now()))",
                             (number,))
    return newest
