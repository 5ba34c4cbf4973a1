"""Numbered schema migrations, applied in order, each exactly once, at connection open.

Append new steps to MIGRATIONS; never edit or reorder a step that has shipped.
"""

from __future__ import annotations

import sqlite3

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
