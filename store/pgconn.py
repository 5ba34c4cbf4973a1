"""One PostgreSQL connection per process, opened when first needed and released when idle.

Every actor is a process (Thespian forks it). A connection held for each of them would exhaust PostgreSQL's
`max_connections` (100 by default) at a few hundred live actors, most of them idle. So a process opens its
connection lazily, everything in it (the store, the shared cells) borrows that one connection, and the
actor's shell calls `release_if_idle` from a timer: after TZUROT_DATABASE_IDLE_S without use the connection
is closed while the actor lives on; the next use opens it again. `application_name` is `tzurot pid N`, so
`pg_stat_activity` counts them per process. For large deployments, point TZUROT_DATABASE_URL at PgBouncer
in transaction mode: every use here is autocommit or one short transaction, which that mode allows.

A connection never crosses a fork: a child that inherited its parent's holder opens its own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

DEFAULT_IDLE_S = 10.0


class ProcessConnection:
    """This process's connection to one database: lent to one user at a time (a lock, for the edge's threads)."""

    def __init__(self, url: str, idle_s: float = DEFAULT_IDLE_S, connect_timeout_s: float = 10.0) -> None:
        self.url, self.idle_s, self.connect_timeout_s = url, idle_s, connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = 0
        self._lock = threading.RLock()
        self.last_used = 0.0  # time.monotonic() of the last use
        self.opened = 0  # how many times this process connected (tests and metrics)

    def __repr__(self) -> str:  # never show the URL: it may carry a password
        return f"ProcessConnection(open={self.is_open})"

    @property
    def is_open(self) -> bool:
        return self._conn is not None and self._pid == os.getpid() and not self._conn.closed

    @contextmanager
    def use(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, opened if needed; nobody else in this process uses it until the block ends."""
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except psycopg.OperationalError:
                self._drop()  # a broken connection is not lent again: the next use reconnects
                raise
            finally:
                self.last_used = time.monotonic()

    def release_if_idle(self, now: float | None = None) -> float:
        """Close the connection if unused for `idle_s`; else how long until it may be (0.0 when none is open)."""
        now = time.monotonic() if now is None else now
        if not self._lock.acquire(blocking=False):
            return self.idle_s  # in use right now
        try:
            if not self.is_open:
                return 0.0
            left = self.last_used + self.idle_s - now
            if left > 0:
                return left
            self._drop()
            return 0.0
        finally:
            self._lock.release()

    def release(self) -> None:
        with self._lock:
            self._drop()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._pid != os.getpid():
            self._conn = None  # the parent's: never close or use it here
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout_s)),
                application_name=f"tzurot pid {os.getpid()}", prepare_threshold=None,  # PgBouncer: no prepares
            )
            self._pid = os.getpid()
            self.opened += 1
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            try:
                conn.close()
            except psycopg.Error:
                pass


_BY_URL: dict[str, ProcessConnection] = {}
_BY_URL_LOCK = threading.Lock()


def connections_for(url: str, settings: Any = None) -> ProcessConnection:
    """The one holder for `url` in this process (the store and every cell share it)."""
    with _BY_URL_LOCK:
        holder = _BY_URL.get(url)
        if holder is None:
            idle_s = float(getattr(settings, "database_idle_s", DEFAULT_IDLE_S))  # None or a test's stand-in
            holder = _BY_URL[url] = ProcessConnection(url, idle_s)
        return holder


def release_idle(now: float | None = None) -> float:
    """Release every idle connection of this process; the soonest any other may become idle (0.0: none open)."""
    with _BY_URL_LOCK:
        holders = list(_BY_URL.values())
    waits = [w for w in (h.release_if_idle(now) for h in holders) if w > 0]
    return min(waits, default=0.0)
