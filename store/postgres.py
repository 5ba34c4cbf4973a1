"""The PostgreSQL store (`TZUROT_DATABASE_URL=postgresql://...`): the same rows and rules as SQLite's
(store/base.py), for a bot whose processes share one database, on one host or several.

Every statement borrows this process's one connection to the database (store/pgconn.py: opened when first
needed, again after a fork, released when idle; the shared cells borrow the same one). Compare-and-set is
`UPDATE ... WHERE version = %s`: under READ COMMITTED a second writer waits for the first and then finds the
version changed, so exactly one of them wins. Migrations run once per process per database, under an advisory
lock (store/migrations.py).

PostgreSQL has no `secure_delete`: a row deleted (or quarantined) is overwritten with nothing first, and
the README says what that cannot do (old row versions live on until VACUUM, and in the WAL and backups).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg

from config import redact_url as redact
from store.base import Record, SqlStore, StaleWrite
from store.migrations import migrate_postgres
from store.pgconn import ProcessConnection, connections_for

__all__ = ["PostgresStore", "Record", "StaleWrite", "redact"]

_MIGRATED: set[tuple[int, str]] = set()  # (pid, url): migrations are checked once per process per database
_NUMBER = r"'^-{0,1}[0-9]+(\.[0-9]+){0,1}([eE][-+]{0,1}[0-9]+){0,1}$'"


@lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresStore(SqlStore):
    backend = "postgresql"
    _EXPIRE_SQL = (
        "DELETE FROM routes WHERE kind=? AND"
        f" (CASE WHEN value ~ {_NUMBER} THEN CAST(value AS DOUBLE PRECISION) END) <= ?"
    )

    def __init__(self, url: str, settings: Any = None) -> None:
        self.url = url
        self.connections: ProcessConnection = connections_for(url, settings)

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"

    @staticmethod
    def check_writable(url: str, timeout: float) -> None:
        """The server answers within `timeout` and takes writes (not a read-only standby)."""
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout))) as conn:
                # For this transaction only: through PgBouncer a session setting would stay on the pooled server
                # connection and cut short whatever an actor runs on it next.
                with conn.transaction():
                    conn.execute("SELECT set_config('statement_timeout', %s, true)",
                                 (f"{max(1, int(timeout * 1000))}ms",))
                    read_only = conn.execute("SHOW transaction_read_only").fetchone() != ("off",)
                if read_only:
                    raise ConnectionError(f"PostgreSQL at {redact(url)} is read-only")
        except psycopg.Error as exc:
            raise ConnectionError(f"cannot reach PostgreSQL at {redact(url)}: {type(exc).__name__}") from None

    @staticmethod
    def size_bytes(url: str, timeout: float = 2.0) -> int | None:
        """The database's size on disk (pg_database_size), or None when the server does not answer in time."""
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout))) as conn:
                row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        except psycopg.Error:
            return None
        return int(row[0]) if row else None

    @contextmanager
    def _use(self) -> Iterator[psycopg.Connection[Any]]:
        """This process's connection, migrated once; a failure to connect names the URL without its password."""
        try:
            with self.connections.use() as conn:
                key = (os.getpid(), self.url)
                if key not in _MIGRATED:
                    migrate_postgres(conn)
                    _MIGRATED.add(key)
                yield conn
        except psycopg.OperationalError as exc:
            if self.connections.is_open:
                raise
            # psycopg's message names host and port, never the password; the URL is shown redacted.
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConnectionError(f"cannot connect to PostgreSQL at {redact(self.url)}: {text}") from None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        with self._use() as conn:
            return conn

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> psycopg.Cursor[Any]:
        with self._use() as conn:
            return conn.execute(_placeholders(sql), args)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self._use() as conn, conn.transaction():
            yield conn

    def close(self) -> None:
        self.connections.release()

    def _erase(self, delete_sql: str, args: tuple[Any, ...]) -> int:
        """Overwrite the rows' data before deleting them, the nearest thing PostgreSQL has to secure_delete."""
        where = delete_sql.split(" WHERE ", 1)[1]
        with self._transaction():
            self.execute(f"UPDATE actor_state SET data='' WHERE {where}", args)
            return self.execute(delete_sql, args).rowcount
