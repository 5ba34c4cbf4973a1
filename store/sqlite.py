"""SQLite store for actor state: one row per (kind, key), msgpack-encoded, written through on every change.

Each row carries the schema version of its payload and a row version. A save names the row version it read;
if another writer got there first the save fails with StaleWrite instead of silently overwriting, which is
what protects us from two live copies of one actor (a restart racing an orphan that has not exited yet).

A connection belongs to one process: Thespian forks actors, and a SQLite handle must never cross a fork,
so the connection is opened lazily and reopened when the pid changes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from store.migrations import migrate


class StaleWrite(RuntimeError):
    """Someone else wrote this row since we read it: our copy is not the live one."""


@dataclass(frozen=True)
class Record:
    """What a load found: the decoded state (None when absent or quarantined) and its row version."""

    state: dict[str, Any] | None
    version: int
    schema: int = 0
    quarantined: str | None = None  # why the stored row was unreadable and moved aside


def encode(state: dict[str, Any]) -> bytes:
    return msgpack.packb(state, use_bin_type=True)


def decode(blob: bytes) -> dict[str, Any]:
    value = msgpack.unpackb(blob, raw=False, strict_map_key=False)
    if not isinstance(value, dict):
        raise ValueError(f"expected a map, found {type(value).__name__}")
    return value


class SqliteStore:
    """The single-machine store; the same small interface will front PostgreSQL across hosts."""

    def __init__(self, path: Path | str, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._busy_ms = int(busy_timeout_s * 1000)
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_ms / 1000, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            migrate(conn)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def load(self, kind: str, key: str) -> Record:
        row = self.conn.execute(
            "SELECT schema, version, data FROM actor_state WHERE kind=? AND key=?", (kind, key)
        ).fetchone()
        if row is None:
            return Record(None, 0)
        schema, version, data = row
        try:
            return Record(decode(data), version, schema)
        except Exception as exc:  # any decoding failure means the row cannot be trusted
            reason = f"{type(exc).__name__}: {exc}"[:300]
            self._quarantine(kind, key, version, schema, data, reason)
            return Record(None, 0, quarantined=reason)

    def save(self, kind: str, key: str, state: dict[str, Any], expected_version: int, schema: int) -> int:
        """Write `state` if the row is still at `expected_version`; return the new row version."""
        blob = encode(state)
        now = time.time()
        with self._transaction() as conn:
            if expected_version == 0:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO actor_state(kind, key, schema, version, data, updated)"
                    " VALUES (?, ?, ?, 1, ?, ?)",
                    (kind, key, schema, blob, now),
                )
            else:
                cur = conn.execute(
                    "UPDATE actor_state SET schema=?, version=version+1, data=?, updated=?"
                    " WHERE kind=? AND key=? AND version=?",
                    (schema, blob, now, kind, key, expected_version),
                )
            if cur.rowcount != 1:
                raise StaleWrite(f"{kind}/{key}: row changed since version {expected_version}")
        return expected_version + 1

    def delete(self, kind: str, key: str) -> None:
        self.conn.execute("DELETE FROM actor_state WHERE kind=? AND key=?", (kind, key))

    def keys(self, kind: str) -> list[str]:
        rows = self.conn.execute("SELECT key FROM actor_state WHERE kind=? ORDER BY key", (kind,))
        return [k for (k,) in rows]

    def put_route(self, kind: str, key: int | str, value: Any) -> None:
        """Persist one routing fact for the edge (None removes it): the edge reloads them all at start."""
        if value is None or value is False:
            self.conn.execute("DELETE FROM routes WHERE kind=? AND key=?", (kind, str(key)))
        else:
            self.conn.execute(
                "INSERT OR REPLACE INTO routes(kind, key, value) VALUES (?, ?, ?)", (kind, str(key), json.dumps(value))
            )

    def routes(self) -> list[tuple[str, int, Any]]:
        rows = self.conn.execute("SELECT kind, key, value FROM routes")
        return [(k, int(key) if key.isdigit() else key, json.loads(v)) for k, key, v in rows]

    def quarantined(self, kind: str | None = None) -> list[tuple[str, str, str]]:
        sql = "SELECT kind, key, reason FROM quarantine"
        args: tuple[str, ...] = ()
        if kind is not None:
            sql, args = sql + " WHERE kind=?", (kind,)
        return list(self.conn.execute(sql + " ORDER BY id", args))

    def put_raw(self, kind: str, key: str, data: bytes, schema: int = 1) -> None:
        """Store bytes as they are: how tests and tools plant a row the decoder must survive."""
        self.conn.execute(
            "INSERT OR REPLACE INTO actor_state(kind, key, schema, version, data, updated)"
            " VALUES (?, ?, ?, COALESCE((SELECT version FROM actor_state WHERE kind=? AND key=?), 0) + 1, ?, ?)",
            (kind, key, schema, kind, key, data, time.time()),
        )

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def _quarantine(self, kind: str, key: str, version: int, schema: int, data: bytes, reason: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO quarantine(kind, key, version, schema, data, reason, at) VALUES (?,?,?,?,?,?,?)",
                (kind, key, version, schema, data, reason, time.time()),
            )
            conn.execute("DELETE FROM actor_state WHERE kind=? AND key=? AND version=?", (kind, key, version))

    def _transaction(self) -> _Tx:
        return _Tx(self.conn)


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, so a writer takes the lock up front instead of failing mid-way."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
