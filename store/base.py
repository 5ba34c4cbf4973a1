"""What both stores share: the rows, the rules and the SQL, over a DB-API connection.

One row per (kind, key), msgpack-encoded, written through on every change. Each row carries the schema version
of its payload and a row version. A save names the row version it read; if another writer got there first the
save fails with StaleWrite instead of silently overwriting (`UPDATE ... WHERE version = ?`): that is what protects
us from two live copies of one actor (a restart racing an orphan that has not exited yet).

A connection belongs to one process: Thespian forks actors, and a database handle must never cross a fork, so
it is opened lazily and reopened when the pid changes. The backends (store/sqlite.py, store/postgres.py) say
only how to run one statement, how a transaction starts, and how their placeholders look; the SQL here is
written with `?` and in the dialect both understand (`ON CONFLICT ... DO NOTHING/UPDATE`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import msgpack


class StaleWrite(RuntimeError):
    """Someone else wrote this row since we read it: our copy is not the live one."""


@dataclass(frozen=True)
class Record:
    """What a load found: the decoded state (None when absent or quarantined) and its row version."""

    state: dict[str, Any] | None
    version: int
    schema: int = 0
    quarantined: str | None = None  # why the stored row was unreadable and moved aside


def typed(key: str, key_type: str) -> int | str:
    """A route key as it was saved: text that looks like a number ("0123", "²²") stays text."""
    if key_type == "str":
        return key
    if key_type == "int" and key.isascii() and key.lstrip("-").isdigit():
        return int(key)
    raise ValueError(f"key {key!r} is not of its stored type {key_type!r}")


def encode(state: dict[str, Any]) -> bytes:
    return msgpack.packb(state, use_bin_type=True)


def decode(blob: bytes) -> dict[str, Any]:
    value = msgpack.unpackb(bytes(blob), raw=False, strict_map_key=False)
    if not isinstance(value, dict):
        raise ValueError(f"expected a map, found {type(value).__name__}")
    return value


class SqlStore:
    """The store's interface and its SQL; a backend supplies `execute`, `_transaction` and `close`."""

    backend = "sql"
    # Route values that are times (conversations): which ones have passed. The cast is the backend's.
    _EXPIRE_SQL = "DELETE FROM routes WHERE kind=? AND CAST(value AS REAL) <= ?"

    # ---- the backend's part --------------------------------------------------------------------
    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        """Run one statement written with `?` placeholders; a DB-API cursor (rows fetched, rowcount set)."""
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[Any]:
        """Statements inside run as one transaction (joining one already open in this store)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ---- actor state -----------------------------------------------------------------------------
    def load(self, kind: str, key: str) -> Record:
        sql = "SELECT schema, version, data FROM actor_state WHERE kind=? AND key=?"
        row = self.execute(sql, (kind, key)).fetchone()
        return Record(None, 0) if row is None else self._record(kind, key, *row)

    def load_all(self, kind: str) -> dict[str, Record]:
        """Every row of `kind` (an actor that keeps one row per item, like the catalogue's personalities)."""
        rows = self.execute("SELECT key, schema, version, data FROM actor_state WHERE kind=?", (kind,)).fetchall()
        return {key: self._record(kind, key, schema, version, data) for key, schema, version, data in rows}

    def _record(self, kind: str, key: str, schema: int, version: int, data: bytes) -> Record:
        try:
            return Record(decode(data), version, schema)
        except Exception as exc:  # any decoding failure means the row cannot be trusted
            reason = f"{type(exc).__name__}: {exc}"[:300]
            self._quarantine(kind, key, version, schema, bytes(data), reason)
            return Record(None, 0, quarantined=reason)

    def save(self, kind: str, key: str, state: dict[str, Any], expected_version: int, schema: int) -> int:
        """Write `state` if the row is still at `expected_version`; return the new row version."""
        blob = encode(state)
        now = time.time()
        with self._transaction():
            if expected_version == 0:
                cur = self.execute(
                    "INSERT INTO actor_state(kind, key, schema, version, data, updated) VALUES (?, ?, ?, 1, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (kind, key, schema, blob, now),
                )
            else:
                cur = self.execute(
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
            self._erase("DELETE FROM actor_state WHERE kind=? AND key=?", (kind, key))
            return
        sql = "DELETE FROM actor_state WHERE kind=? AND key=? AND version=?"
        if self._erase(sql, (kind, key, expected_version)) != 1:
            raise StaleWrite(f"{kind}/{key}: row changed since version {expected_version}")

    def _erase(self, delete_sql: str, args: tuple[Any, ...]) -> int:
        """Delete rows of actor_state; a backend without secure_delete overwrites them first."""
        return self.execute(delete_sql, args).rowcount

    def keys(self, kind: str) -> list[str]:
        return [k for (k,) in self.execute("SELECT key FROM actor_state WHERE kind=? ORDER BY key", (kind,))]

    def put_raw(self, kind: str, key: str, data: bytes, schema: int = 1, version: int | None = None) -> None:
        """Store bytes as they are (the next row version, or `version`): how tests and tools plant a row the
        decoder must survive, and how `bot.py migrate` copies a row with the version it had."""
        self.execute(
            "INSERT INTO actor_state(kind, key, schema, version, data, updated) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET schema=excluded.schema, data=excluded.data,"
            " updated=excluded.updated, version=" + ("excluded.version" if version else "actor_state.version + 1"),
            (kind, key, schema, version or 1, data, time.time()),
        )

    def rows(self, kind: str | None = None) -> Iterator[tuple[str, str, int, int, bytes]]:
        """Every actor_state row as stored (kind, key, schema, version, data): what `bot.py migrate` copies."""
        sql, args = "SELECT kind, key, schema, version, data FROM actor_state", ()
        if kind is not None:
            sql, args = sql + " WHERE kind=?", (kind,)
        for k, key, schema, version, data in self.execute(sql + " ORDER BY kind, key", args).fetchall():
            yield k, key, schema, version, bytes(data)

    # ---- routing facts ---------------------------------------------------------------------------
    def put_route(self, kind: str, key: int | str, value: Any) -> None:
        """Persist one routing fact for the edge (None removes it): the edge reloads them all at start.

        The key's type is stored with it: text that looks like a number ("0123", "²²") stays text."""
        if value is None or value is False:
            self.execute("DELETE FROM routes WHERE kind=? AND key=?", (kind, str(key)))
        else:
            self.execute(
                "INSERT INTO routes(kind, key, value, key_type) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET value=excluded.value, key_type=excluded.key_type",
                (kind, str(key), json.dumps(value), "int" if isinstance(key, int) else "str"),
            )

    def routes(self, on_bad: Callable[[str], None] | None = None) -> list[tuple[str, int | str, Any]]:
        """Every routing fact. A row that cannot be read is moved to the quarantine and reported to `on_bad`:
        one bad row must never stop the bot from starting."""
        out: list[tuple[str, int | str, Any]] = []
        for kind, key, value, key_type in self.execute("SELECT kind, key, value, key_type FROM routes").fetchall():
            try:
                out.append((kind, typed(key, key_type), json.loads(value)))
            except (ValueError, TypeError) as exc:
                reason = f"{type(exc).__name__}: {exc}"[:300]
                self.quarantine_route(kind, key, reason)
                if on_bad is not None:
                    on_bad(f"routing fact {kind} {key!r} quarantined: {reason}")
        return out

    def route_rows(self) -> list[tuple[str, str, str, str]]:
        """Every routing fact as stored (kind, key, value, key_type): what `bot.py migrate` copies."""
        return [tuple(r) for r in self.execute("SELECT kind, key, value, key_type FROM routes ORDER BY kind, key")]

    def put_route_row(self, kind: str, key: str, value: str, key_type: str) -> None:
        self.execute(
            "INSERT INTO routes(kind, key, value, key_type) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET value=excluded.value, key_type=excluded.key_type",
            (kind, key, value, key_type),
        )

    def expire_routes(self, kind: str, now: float) -> int:
        """Delete the facts of `kind` whose value is a time that has passed (conversations that ended)."""
        return self.execute(self._EXPIRE_SQL, (kind, now)).rowcount

    def quarantine_route(self, kind: str, key: str, reason: str) -> None:
        """Move one routing fact aside (kept in `quarantine` as `route:<kind>` for inspection)."""
        with self._transaction():
            row = self.execute("SELECT value FROM routes WHERE kind=? AND key=?", (kind, str(key))).fetchone()
            if row is not None:
                self.execute(
                    "INSERT INTO quarantine(kind, key, version, schema, data, reason, at) VALUES (?,?,0,0,?,?,?)",
                    (f"route:{kind}", str(key), str(row[0]).encode(), reason[:300], time.time()),
                )
                self.execute("DELETE FROM routes WHERE kind=? AND key=?", (kind, str(key)))

    # ---- durable work: every message the edge hands on, until its answer is sent ------------------
    WORK_COLUMNS = ("message_id", "channel_id", "user_id", "incoming", "state", "reply_id", "attempts", "created",
                    "updated", "due", "acked")

    def work_open(
        self, message_id: int, channel_id: int, user_id: int, incoming: dict[str, Any], due_in_s: float = 20.0,
        now: float | None = None,
    ) -> bool:
        """Record a message before it is handed on; False when it was recorded before (a redelivery)."""
        now = time.time() if now is None else now
        cur = self.execute(
            "INSERT INTO work(message_id, channel_id, user_id, incoming, state, created, updated, due)"
            " VALUES (?, ?, ?, ?, 'open', ?, ?, ?) ON CONFLICT DO NOTHING",
            (message_id, channel_id, user_id, encode(incoming), now, now, now + due_in_s),
        )
        return cur.rowcount == 1

    def work_done(self, message_id: int, reply_id: int | None) -> None:
        self.execute(
            "UPDATE work SET state='done', reply_id=?, updated=? WHERE message_id=? AND state!='done'",
            (reply_id, time.time(), message_id),
        )

    def work_ack(self, message_id: int, patience_s: float, now: float | None = None) -> None:
        """An actor has the message in hand: not due again for `patience_s`, and no hand-off counts as lost."""
        now = time.time() if now is None else now
        self.execute(
            "UPDATE work SET acked=?, attempts=0, due=?, updated=? WHERE message_id=? AND state='open'",
            (now, now + patience_s, now, message_id),
        )

    def work_due(self, resend_after_s: float, limit: int = 200, now: float | None = None) -> list[dict[str, Any]]:
        """Open work that fell due: it is counted as one more hand-off and not due again for `resend_after_s`."""
        now = time.time() if now is None else now
        with self._transaction():
            rows = self.execute(
                "SELECT message_id, incoming, attempts, created, acked FROM work WHERE state='open' AND due < ?"
                " ORDER BY message_id LIMIT ?",
                (now, limit),
            ).fetchall()
            if rows:
                marks = ",".join("?" * len(rows))
                self.execute(
                    f"UPDATE work SET attempts=attempts+1, due=?, updated=? WHERE message_id IN ({marks})",
                    (now + resend_after_s, now, *[r[0] for r in rows]),
                )
        return [{"message_id": m, "incoming": decode(b), "attempts": a, "created": c, "acked": k}
                for m, b, a, c, k in rows]

    def work_all_due(self, now: float | None = None) -> int:
        """A start: every actor of the last run is gone, and with it whatever it held, so every open message is
        due now (an acknowledgement's patience was a promise of a process that no longer exists)."""
        now = time.time() if now is None else now
        return self.execute("UPDATE work SET due=?, updated=? WHERE state='open' AND due > ?", (now, now, now)).rowcount

    def work_open_for_user(self, user_id: int, newer_than_s: float = 3600.0, limit: int = 50) -> list[dict[str, Any]]:
        """This user's open messages (oldest first), as they were recorded: what a restarted actor may lack."""
        rows = self.execute(
            "SELECT incoming FROM work WHERE user_id=? AND state='open' AND created > ? ORDER BY message_id LIMIT ?",
            (user_id, time.time() - newer_than_s, limit),
        ).fetchall()
        return [decode(b) for (b,) in rows]

    def work_defer(self, message_id: int, until: float) -> None:
        """Its actor refused it for now (parked): not due before `until`, and the refusal is not a lost hand-off."""
        self.execute(
            "UPDATE work SET due=?, attempts=0, updated=? WHERE message_id=? AND state='open'",
            (until, time.time(), message_id),
        )

    def work_give_up(self, message_id: int) -> None:
        self.execute("UPDATE work SET state='failed', updated=? WHERE message_id=?", (time.time(), message_id))

    def work_known(self, message_id: int) -> bool:
        return self.execute("SELECT 1 FROM work WHERE message_id=?", (message_id,)).fetchone() is not None

    def work_last_seen(self, channel_id: int, before: float | None = None) -> int | None:
        """The newest message of this channel recorded before `before` (default: ever)."""
        row = self.execute(
            "SELECT MAX(message_id) FROM work WHERE channel_id=? AND created < ?",
            (channel_id, before if before is not None else float("inf")),
        ).fetchone()
        return row[0] if row else None

    def work_prune(self, older_than_s: float = 86_400) -> int:
        return self.execute("DELETE FROM work WHERE created < ?", (time.time() - older_than_s,)).rowcount

    def work_rows(self) -> list[tuple[Any, ...]]:
        """Every work row as stored, in WORK_COLUMNS order: what `bot.py migrate` copies."""
        cols = ", ".join(self.WORK_COLUMNS)
        return [tuple(r) for r in self.execute(f"SELECT {cols} FROM work ORDER BY message_id").fetchall()]

    def put_work_row(self, row: tuple[Any, ...]) -> bool:
        """Copy one work row as it is; False when that message is recorded already."""
        cols = ", ".join(self.WORK_COLUMNS)
        marks = ", ".join("?" * len(self.WORK_COLUMNS))
        return self.execute(f"INSERT INTO work({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING", row).rowcount == 1

    # ---- quarantine --------------------------------------------------------------------------------
    def quarantined(self, kind: str | None = None) -> list[tuple[str, str, str]]:
        sql = "SELECT kind, key, reason FROM quarantine"
        args: tuple[str, ...] = ()
        if kind is not None:
            sql, args = sql + " WHERE kind=?", (kind,)
        return [tuple(r) for r in self.execute(sql + " ORDER BY id", args).fetchall()]

    def quarantine(self, kind: str, key: str, version: int, reason: str) -> None:
        """Move a row that decoded but that its actor could not restore aside, as `load` does an undecodable one."""
        row = self.execute(
            "SELECT schema, data FROM actor_state WHERE kind=? AND key=? AND version=?", (kind, key, version)
        ).fetchone()
        if row is not None:
            self._quarantine(kind, key, version, row[0], bytes(row[1]), reason[:300])

    def quarantine_rows(self) -> list[tuple[Any, ...]]:
        """Every quarantined row (kind, key, version, schema, data, reason, at): what `bot.py migrate` copies."""
        return [(k, key, v, s, bytes(d), r, a) for k, key, v, s, d, r, a in self.execute(
            "SELECT kind, key, version, schema, data, reason, at FROM quarantine ORDER BY id").fetchall()]

    def put_quarantine_row(self, row: tuple[Any, ...]) -> bool:
        """Copy one quarantined row unless the same one (kind, key, version, time) is there already."""
        kind, key, version, _, _, _, at = row
        with self._transaction():
            if self.execute("SELECT 1 FROM quarantine WHERE kind=? AND key=? AND version=? AND at=?",
                            (kind, key, version, at)).fetchone():
                return False
            self.execute("INSERT INTO quarantine(kind, key, version, schema, data, reason, at) VALUES (?,?,?,?,?,?,?)",
                         row)
        return True

    def _quarantine(self, kind: str, key: str, version: int, schema: int, data: bytes, reason: str) -> None:
        with self._transaction():
            self.execute(
                "INSERT INTO quarantine(kind, key, version, schema, data, reason, at) VALUES (?,?,?,?,?,?,?)",
                (kind, key, version, schema, data, reason, time.time()),
            )
            self._erase("DELETE FROM actor_state WHERE kind=? AND key=? AND version=?", (kind, key, version))
