"""A shared cell: one small named value that every process updates atomically (with PostgreSQL, every host).

The bot-wide limits (Discord's request budget, the invalid-request window, the operator's AI breakers, the AI
slots) are a few bytes each, read and rewritten by many actor processes at once. They keep their own encoding
and rules; a cell only gives them `update(step)`: `step` gets the current bytes (b"" when never written) and
returns `(new bytes or None to keep them, result)`; the update is atomic. A step is a decision over the bytes:
it must not block, and it may run more than once (PostgreSQL's cell steps again when another process wrote
first).

Two implementations, chosen by the settings (`open_cell`): a small file in the data directory locked with
`flock` (one host), and a row of PostgreSQL's `cells` table updated by compare-and-set (every host). Callers
never name a backend.
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")
Step = Callable[[bytes], tuple[bytes | None, T]]


@runtime_checkable
class Cell(Protocol):
    """One named value, updated under a lock shared by every process that opens the same name."""

    name: str

    def update(self, step: Step[T]) -> T:
        """Run `step` on the current value under the lock, store what it returns (unless None), give its result."""
        ...

    def peek(self) -> bytes:
        """The current value for a status screen: never blocks on a writer for long, never creates the cell."""
        ...

    def sibling(self, name: str) -> Cell:
        """Another cell in the same place (the same directory, or the same database)."""
        ...


class FileCell:
    """A cell in a file (mode 0600) under `flock`: what every process on one host shares. A descriptor is never
    shared across fork: a child opens its own, or its lock would be its parent's."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._fd: int | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"FileCell({str(self.path)!r})"

    def update(self, step: Step[T]) -> T:
        fd = self._file()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = _read_all(fd)
            new, result = step(current)
            if new is not None and new != current:
                os.pwrite(fd, new, 0)
                if len(new) < len(current):
                    os.ftruncate(fd, len(new))
            return result
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def peek(self) -> bytes:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return b""
        try:
            for _ in range(20):  # a writer holds it for microseconds; a stopped one must not stop a status screen
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.001)
            return _read_all(fd)
        finally:
            os.close(fd)  # closing releases the lock

    def sibling(self, name: str) -> FileCell:
        return FileCell(self.path.parent / name)

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


def _read_all(fd: int) -> bytes:
    return os.pread(fd, max(os.fstat(fd).st_size, 0), 0)


class Connections(Protocol):
    """Lends this process's database connection (`store/pgconn.py`), one user at a time."""

    def use(self) -> Any: ...


class PostgresCell:
    """A cell as one row of `cells`, shared by every process on every host that uses the database.

    An update is optimistic: read the value (a plain read, which never waits), run the step, and write the
    new value only if the row still holds the value read (`UPDATE … WHERE value = old`, one statement); when
    another process wrote first, read again and step again. No row lock is ever held between round trips:
    a lock held while its holder waits for a CPU (hundreds of actor processes on two cores) queued every
    other process behind it, each holding one of PgBouncer's few server connections, so that the whole bot
    waited on the one process that held the Discord budget's row.
    """

    def __init__(self, connections: Connections, name: str) -> None:
        self.connections, self.name = connections, name

    def __repr__(self) -> str:
        return f"PostgresCell({self.name!r})"

    def update(self, step: Step[T]) -> T:
        try:
            return self._update(step)
        except _undefined_table():
            self._create_table()
            return self._update(step)

    def _update(self, step: Step[T]) -> T:
        for attempt in range(1, 10_000):
            with self.connections.use() as conn:
                row = conn.execute("SELECT value FROM cells WHERE name = %s", (self.name,)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO cells(name, value) VALUES (%s, '') ON CONFLICT DO NOTHING", (self.name,))
                    continue
                current = bytes(row[0])
                new, result = step(current)
                if new is None or new == current:
                    return result
                written = conn.execute("UPDATE cells SET value = %s WHERE name = %s AND value = %s",
                                       (new, self.name, current)).rowcount
            if written:
                return result
            if attempt % 4 == 0:  # a crowd on one row: spread the retries out a little
                time.sleep(random.uniform(0, 0.0005 * min(attempt, 40)))
        raise RuntimeError(f"cell {self.name}: no update went through in 10,000 tries")

    def peek(self) -> bytes:
        try:
            with self.connections.use() as conn:  # a plain read: MVCC never waits for a writer
                row = conn.execute("SELECT value FROM cells WHERE name = %s", (self.name,)).fetchone()
        except _undefined_table():
            return b""
        return bytes(row[0]) if row else b""

    def _create_table(self) -> None:
        """The first cell in a database makes the table. Under the migrations' advisory lock: a migration creates
        it too, and two `CREATE TABLE IF NOT EXISTS` at once collide in PostgreSQL's catalogue."""
        from store.migrations import PG_LOCK

        with self.connections.use() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK,))
            conn.execute(CELLS_TABLE)

    def sibling(self, name: str) -> PostgresCell:
        return PostgresCell(self.connections, name)


CELLS_TABLE = "CREATE TABLE IF NOT EXISTS cells (name TEXT PRIMARY KEY, value BYTEA NOT NULL)"


def _undefined_table() -> type[Exception]:
    from psycopg.errors import UndefinedTable

    return UndefinedTable


class MemoryCell:
    """A cell in this process only (tests, and a store that is itself in memory)."""

    def __init__(self, name: str = "cell", home: dict[str, bytes] | None = None) -> None:
        self.name = name
        self._home = {} if home is None else home
        self._lock = threading.Lock()

    def update(self, step: Step[T]) -> T:
        with self._lock:
            new, result = step(self._home.get(self.name, b""))
            if new is not None:
                self._home[self.name] = new
            return result

    def peek(self) -> bytes:
        return self._home.get(self.name, b"")

    def sibling(self, name: str) -> MemoryCell:
        return MemoryCell(name, self._home)


def as_cell(where: Cell | Path | str) -> Cell:
    """A cell from a cell, or from a file path (a single host's default)."""
    return where if isinstance(where, Cell) else FileCell(where)


def open_cell(settings: Any, name: str) -> Cell:
    """The cell `name` where these settings keep shared things: PostgreSQL when TZUROT_DATABASE_URL names one,
    else a file in the data directory."""
    if url := settings.database_url:
        from store.pgconn import connections_for  # psycopg is loaded only by processes that use PostgreSQL

        return PostgresCell(connections_for(url, settings), name)
    return FileCell(Path(settings.data_dir) / name)
