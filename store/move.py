"""Moving house: `python bot.py migrate --to postgresql://...` copies a SQLite data directory's store into
PostgreSQL, checks that every row arrived, and says what it did.

Everything the store holds is copied as it is stored: the actors' rows (users with their sealed keys, channels,
the catalogue's personalities, ...) with their row versions, the routing facts with their key types, the work
table and the quarantine. Nothing is decoded or re-encoded, so a sealed key stays sealed (the bot on PostgreSQL
needs the same secret key to open it).

Running it twice is harmless: a row already in PostgreSQL at the same version (or with the same content) is
left alone. A row that is there with another version (the bot has run on PostgreSQL since) is kept as it is
and reported, never overwritten with the older copy. Stop the bot first: rows it writes during the copy may
be missed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import redact_url
from store.base import SqlStore, decode
from store.memories import Memories


@dataclass
class Tally:
    """What happened to one table's rows."""

    source: int = 0
    copied: int = 0
    present: int = 0  # already there, the same
    kept: list[str] = field(default_factory=list)  # there with another version: PostgreSQL's kept
    missing: list[str] = field(default_factory=list)  # not found in PostgreSQL after the copy (a failure)


@dataclass
class Report:
    source: str
    target: str
    tables: dict[str, Tally]
    sealed_keys: int = 0

    @property
    def ok(self) -> bool:
        return not any(t.missing for t in self.tables.values())

    def lines(self) -> list[str]:
        out = [f"Moving {self.source} into {self.target}",
               f"  {'table':<12} {'in SQLite':>9} {'copied':>7} {'already there':>13} {'kept (newer)':>12} "
               f"{'missing':>7}"]
        for name, t in self.tables.items():
            out.append(f"  {name:<12} {t.source:>9} {t.copied:>7} {t.present:>13} {len(t.kept):>12} "
                       f"{len(t.missing):>7}")
        for name, t in self.tables.items():
            for what in t.kept[:10]:
                out.append(f"  kept {name} {what}: PostgreSQL has another version (the bot ran there since)")
            for what in t.missing[:10]:
                out.append(f"  MISSING {name} {what}")
        if self.sealed_keys:
            out.append(f"  {self.sealed_keys} user(s)' sealed AI keys were copied as they are: start the bot with the "
                       "same secret key (TZUROT_SECRET_KEY, or the key file secret.key) or they cannot be opened")
        if self.ok:
            out.append(f"Done: every row is in PostgreSQL. Start the bot with TZUROT_DATABASE_URL={self.target}")
        else:
            out.append("Not done: some rows are missing in PostgreSQL (see above); nothing in SQLite was changed")
        return out


def move(source: SqlStore, target: SqlStore, source_name: str, target_url: str) -> Report:
    """Copy every row of `source` into `target` (see the module's docstring); the report counts and checks."""
    report = Report(source_name, redact_url(target_url), {})
    actors = report.tables["actor_state"] = Tally()
    there = {(k, key): (version, data) for k, key, _, version, data in target.rows()}
    kept: set[tuple[str, str]] = set()
    for kind, key, schema, version, data in source.rows():
        actors.source += 1
        report.sealed_keys += kind == "user" and _has_sealed_key(data)
        found = there.get((kind, key))
        if found is None:
            target.put_raw(kind, key, data, schema, version=version)
            actors.copied += 1
        elif found == (version, data):
            actors.present += 1
        else:
            kept.add((kind, key))
            actors.kept.append(f"{kind}/{key} (SQLite v{version}, PostgreSQL v{found[0]})")
    now = {(k, key): (version, data) for k, key, _, version, data in target.rows()}
    actors.missing = [f"{k}/{key}" for k, key, _, version, data in source.rows()
                      if (k, key) not in kept and now.get((k, key)) != (version, data)]

    routes = report.tables["routes"] = Tally()
    have = {(k, key): row for k, key, *row in target.route_rows()}
    for kind, key, value, key_type in source.route_rows():
        routes.source += 1
        if (kind, key) not in have:
            target.put_route_row(kind, key, value, key_type)
            routes.copied += 1
        elif have[(kind, key)] == [value, key_type]:
            routes.present += 1
        else:
            routes.kept.append(f"{kind}/{key}")
    now_routes = {(k, key) for k, key, *_ in target.route_rows()}
    routes.missing = [f"{k}/{key}" for k, key, *_ in source.route_rows() if (k, key) not in now_routes]

    report.tables["work"] = _copy(source.work_rows(), target.put_work_row, target.work_rows, key=lambda row: row[0])
    report.tables["quarantine"] = _copy(source.quarantine_rows(), target.put_quarantine_row, target.quarantine_rows,
                                        key=lambda row: (row[0], row[1], row[2], row[6]))
    mine, theirs = Memories(source), Memories(target)
    report.tables["memories"] = _copy(mine.rows(), theirs.put_row, theirs.rows,
                                      key=lambda row: (row[0], row[1], row[5], row[4]))
    return report


def _copy(rows: list[tuple[Any, ...]], put: Callable[[tuple[Any, ...]], bool],
          after: Callable[[], Iterable[tuple[Any, ...]]], key: Callable[[tuple[Any, ...]], Any]) -> Tally:
    """Rows that are never changed once copied (work by message id, the quarantine by row and time)."""
    tally = Tally(source=len(rows))
    for row in rows:
        if put(row):
            tally.copied += 1
        else:
            tally.present += 1
    found = {key(row) for row in after()}
    tally.missing = [str(key(row)) for row in rows if key(row) not in found]
    return tally


def _has_sealed_key(data: bytes) -> bool:
    try:
        return bool(decode(data).get("sealed_key"))
    except Exception:  # noqa: BLE001 - an unreadable row is copied as it is; it just is not counted
        return False


def run(data_dir: Path, url: str, print_line: Callable[[str], None] = print) -> int:
    """`bot.py migrate`: 0 when every row is in PostgreSQL, 1 if not, 2 when there is nothing to move."""
    from store.postgres import PostgresStore
    from store.sqlite import SqliteStore

    path = Path(data_dir) / "tzurot.sqlite3"
    if not path.is_file():
        print_line(f"nothing to move: no SQLite store at {path} (set TZUROT_DATA_DIR to the data directory)")
        return 2
    source, target = SqliteStore(path), PostgresStore(url)
    try:
        report = move(source, target, str(path), url)
    except ConnectionError as exc:
        print_line(str(exc))
        return 1
    finally:
        source.close()
        target.close()
    for line in report.lines():
        print_line(line)
    return 0 if report.ok else 1
