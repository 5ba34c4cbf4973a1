"""The single-machine store: SQLite in the data directory (the default; see store/base.py for the rules).

WAL lets the actor processes and the edge read while one writes; writers take the lock up front (BEGIN
IMMEDIATE) rather than failing mid-way; `secure_delete` overwrites what is deleted or replaced (a user's removed
key, a quarantined row, old work) instead of leaving it in free pages.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from store.base import Record, SqlStore, StaleWrite, decode, encode
from store.migrations import migrate

__all__ = ["Record", "SqliteStore", "StaleWrite", "decode", "encode"]


class SqliteStore(SqlStore):
    backend = "sqlite"

    def __init__(self, path: Path | str, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._busy_ms = int(busy_timeout_s * 1000)
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    @staticmethod
    def check_writable(path: Path, timeout: float) -> None:
        """The write lock can be had within `timeout` (one busy wait; the file is neither created nor migrated)."""
        uri = Path(path).resolve().as_uri() + "?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """This process's connection, opened (and migrated) on first use, and again after a fork."""
        if self._conn is None or self._pid != os.getpid():
            self._conn, self._pid = self._connect(), os.getpid()
        return self._conn

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, args)

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._busy_ms / 1000, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        migrate(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        if conn.in_transaction:  # already inside one (a quarantine while a transaction is open): join it
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
