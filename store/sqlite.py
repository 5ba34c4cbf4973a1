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
from collections.abc import Callable
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


def _typed(key: str, key_type: str) -> int | str:
    if key_type == "str":
        return key
    if key_type == "int" and key.isascii() and key.lstrip("-").isdigit():
        return int(key)
    raise ValueError(f"key {key!r} is not of its stored type {key_type!r}")


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
            conn.execute("PRAGMA secure_delete=ON")  # what is deleted (a quarantined row, old work) is overwritten
            conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            migrate(conn)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def load(self, kind: str, key: str) -> Record:
        row = self.conn.execute(
            "SELECT schema, version, data FROM actor_state WHERE kind=? AND key=?", (kind, key)
        ).fetchone()
        return Record(None, 0) if row is None else self._record(kind, key, *row)

    def load_all(self, kind: str) -> dict[str, Record]:
        """Every row of `kind` (an actor that keeps one row per item, like the catalogue's personalities)."""
        rows = self.conn.execute("SELECT key, schema, version, data FROM actor_state WHERE kind=?", (kind,))
        return {key: self._record(kind, key, schema, version, data) for key, schema, version, data in rows.fetchall()}

    def _record(self, kind: str, key: str, schema: int, version: int, data: bytes) -> Record:
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

    def delete(self, kind: str, key: str, expected_version: int | None = None) -> None:
        """Remove a row; with `expected_version`, only if it is still that version (else StaleWrite, as `save`)."""
        if expected_version is None:
            self.conn.execute("DELETE FROM actor_state WHERE kind=? AND key=?", (kind, key))
            return
        cur = self.conn.execute(
            "DELETE FROM actor_state WHERE kind=? AND key=? AND version=?", (kind, key, expected_version)
        )
        if cur.rowcount != 1:
            raise StaleWrite(f"{kind}/{key}: row changed since version {expected_version}")

    def keys(self, kind: str) -> list[str]:
        rows = self.conn.execute("SELECT key FROM actor_state WHERE kind=? ORDER BY key", (kind,))
        return [k for (k,) in rows]

    def put_route(self, kind: str, key: int | str, value: Any) -> None:
        """Persist one routing fact for the edge (None removes it): the edge reloads them all at start.

        The key's type is stored with it: text that looks like a number ("0123", "²²") stays text."""
        if value is None or value is False:
            self.conn.execute("DELETE FROM routes WHERE kind=? AND key=?", (kind, str(key)))
        else:
            key_type = "int" if isinstance(key, int) else "str"
            self.conn.execute(
                "INSERT OR REPLACE INTO routes(kind, key, value, key_type) VALUES (?, ?, ?, ?)",
                (kind, str(key), json.dumps(value), key_type),
            )

    def routes(self, on_bad: Callable[[str], None] | None = None) -> list[tuple[str, int | str, Any]]:
        """Every routing fact. A row that cannot be read is moved to the quarantine and reported to `on_bad`:
        one bad row must never stop the bot from starting."""
        out: list[tuple[str, int | str, Any]] = []
        for kind, key, value, key_type in self.conn.execute("SELECT kind, key, value, key_type FROM routes"):
            try:
                out.append((kind, _typed(key, key_type), json.loads(value)))
            except (ValueError, TypeError) as exc:
                reason = f"{type(exc).__name__}: {exc}"[:300]
                self.quarantine_route(kind, key, reason)
                if on_bad is not None:
                    on_bad(f"routing fact {kind} {key!r} quarantined: {reason}")
        return out

    def expire_routes(self, kind: str, now: float) -> int:
        """Delete the facts of `kind` whose value is a time that has passed (conversations that ended)."""
        return self.conn.execute(
            "DELETE FROM routes WHERE kind=? AND CAST(value AS REAL) <= ?", (kind, now)
        ).rowcount

    def quarantine_route(self, kind: str, key: str, reason: str) -> None:
        """Move one routing fact aside (kept in `quarantine` as `route:<kind>` for inspection)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT value FROM routes WHERE kind=? AND key=?", (kind, str(key))).fetchone()
            if row is not None:
                conn.execute(
                    "INSERT INTO quarantine(kind, key, version, schema, data, reason, at) VALUES (?,?,0,0,?,?,?)",
                    (f"route:{kind}", str(key), str(row[0]).encode(), reason[:300], time.time()),
                )
                conn.execute("DELETE FROM routes WHERE kind=? AND key=?", (kind, str(key)))

    # ---- durable work: every message the edge hands on, until its answer is sent ------------------
    def work_open(
        self, message_id: int, channel_id: int, user_id: int, incoming: dict[str, Any], due_in_s: float = 20.0,
        now: float | None = None,
    ) -> bool:
        """Record a message before it is handed on; False when it was recorded before (a redelivery)."""
        now = time.time() if now is None else now
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO work(message_id, channel_id, user_id, incoming, state, created, updated, due)"
            " VALUES (?, ?, ?, ?, 'open', ?, ?, ?)",
            (message_id, channel_id, user_id, encode(incoming), now, now, now + due_in_s),
        )
        return cur.rowcount == 1

    def work_done(self, message_id: int, reply_id: int | None) -> None:
        self.conn.execute(
            "UPDATE work SET state='done', reply_id=?, updated=? WHERE message_id=? AND state!='done'",
            (reply_id, time.time(), message_id),
        )

    def work_ack(self, message_id: int, patience_s: float, now: float | None = None) -> None:
        """An actor has the message in hand: not due again for `patience_s`, and no hand-off counts as lost."""
        now = time.time() if now is None else now
        self.conn.execute(
            "UPDATE work SET acked=?, attempts=0, due=?, updated=? WHERE message_id=? AND state='open'",
            (now, now + patience_s, now, message_id),
        )

    def work_due(self, resend_after_s: float, limit: int = 200, now: float | None = None) -> list[dict[str, Any]]:
        """Open work that fell due: it is counted as one more hand-off and not due again for `resend_after_s`."""
        now = time.time() if now is None else now
        rows = self.conn.execute(
            "SELECT message_id, incoming, attempts, created, acked FROM work WHERE state='open' AND due < ?"
            " ORDER BY message_id LIMIT ?",
            (now, limit),
        ).fetchall()
        if rows:
            marks = ",".join("?" * len(rows))
            self.conn.execute(
                f"UPDATE work SET attempts=attempts+1, due=?, updated=? WHERE message_id IN ({marks})",
                (now + resend_after_s, now, *[r[0] for r in rows]),
            )
        return [{"message_id": m, "incoming": decode(b), "attempts": a, "created": c, "acked": k}
                for m, b, a, c, k in rows]

    def work_open_for_user(self, user_id: int, newer_than_s: float = 3600.0, limit: int = 50) -> list[dict[str, Any]]:
        """This user's open messages (oldest first), as they were recorded: what a restarted actor may lack."""
        rows = self.conn.execute(
            "SELECT incoming FROM work WHERE user_id=? AND state='open' AND created > ? ORDER BY message_id LIMIT ?",
            (user_id, time.time() - newer_than_s, limit),
        )
        return [decode(b) for (b,) in rows]

    def work_defer(self, message_id: int, until: float) -> None:
        """Its actor refused it for now (parked): not due before `until`, and the refusal is not a lost hand-off."""
        self.conn.execute(
            "UPDATE work SET due=?, attempts=0, updated=? WHERE message_id=? AND state='open'",
            (until, time.time(), message_id),
        )

    def work_give_up(self, message_id: int) -> None:
        self.conn.execute("UPDATE work SET state='failed', updated=? WHERE message_id=?", (time.time(), message_id))

    def work_known(self, message_id: int) -> bool:
        return self.conn.execute("SELECT 1 FROM work WHERE message_id=?", (message_id,)).fetchone() is not None

    def work_last_seen(self, channel_id: int, before: float | None = None) -> int | None:
        """The newest message of this channel recorded before `before` (default: ever)."""
        row = self.conn.execute(
            "SELECT MAX(message_id) FROM work WHERE channel_id=? AND created < ?",
            (channel_id, before if before is not None else float("inf")),
        ).fetchone()
        return row[0] if row else None

    def work_prune(self, older_than_s: float = 86_400) -> int:
        return self.conn.execute("DELETE FROM work WHERE created < ?", (time.time() - older_than_s,)).rowcount

    def quarantined(self, kind: str | None = None) -> list[tuple[str, str, str]]:
        sql = "SELECT kind, key, reason FROM quarantine"
        args: tuple[str, ...] = ()
        if kind is not None:
            sql, args = sql + " WHERE kind=?", (kind,)
        return list(self.conn.execute(sql + " ORDER BY id", args))

    def quarantine(self, kind: str, key: str, version: int, reason: str) -> None:
        """Move a row that decoded but that its actor could not restore aside, as `load` does an undecodable one."""
        row = self.conn.execute(
            "SELECT schema, data FROM actor_state WHERE kind=? AND key=? AND version=?", (kind, key, version)
        ).fetchone()
        if row is not None:
            self._quarantine(kind, key, version, row[0], row[1], reason[:300])

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
