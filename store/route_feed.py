"""The routing facts, as they change, for every edge process: PostgreSQL's LISTEN/NOTIFY on the routes table.

On one host the actors push each fact to the one edge and persist it for the next start. With several edge
processes (or hosts), each must learn every fact, whoever wrote it: a trigger on `routes` (PostgreSQL
migration 2) notifies `tzurot_routes` with the changed row, in the writer's transaction. A feed listens on its
own connection (LISTEN needs a session of its own, which PgBouncer's transaction mode does not keep, so behind
PgBouncer it goes to PostgreSQL itself: TZUROT_DATABASE_LISTEN_URL), and after connecting, and after every
reconnect, loads every fact again: it is complete at start and after an outage, as the edge's first load is.
Applying a fact twice is harmless (the table is sets and maps), so an edge that also gets the actors' pushes
loses nothing.

A fact too large for a notification (8000 bytes) arrives as its key alone, and the feed reads the row.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from store.base import typed

log = logging.getLogger("tzurot.store")
CHANNEL = "tzurot_routes"
CONNECT_TIMEOUT_S = 10  # an unreachable server is an outage to retry, not a hang
Fact = tuple[str, "int | str", Any]  # kind, key, value (None: the fact is gone)

def decode(payload: str, read: Callable[[str, str], str | None]) -> Fact:
    """One notification as a fact; `read(kind, key)` gives the stored value of a fact too big to be sent."""
    note = json.loads(payload)
    kind, key = str(note["kind"]), str(note["key"])
    raw = read(kind, key) if note.get("read") else note.get("value")
    return kind, typed(key, str(note.get("key_type", "str"))), (None if raw is None else json.loads(raw))


class RouteFeed:
    """A thread that keeps `apply` up to date with the routes table: everything at (re)connect, then each change.

    `load()` returns every fact (the store's `routes()`); `apply(kind, key, value)` takes one.
    """

    def __init__(self, url: str, load: Callable[[], list[Fact]], apply: Callable[[str, int | str, Any], None],
                 retry_s: float = 1.0) -> None:
        self.url, self.load, self.apply, self.retry_s = url, load, apply, retry_s
        self.loads = 0  # complete loads so far (1 after start; one more after each reconnect)
        self.applied = 0  # notifications applied
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> RouteFeed:
        """Start listening; returns once the first complete load is applied (or `timeout` passed)."""
        self._thread = threading.Thread(target=self._run, name="route-feed", daemon=True)
        self._thread.start()
        self.connected.wait(timeout)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - an outage: reconnect and load everything again
                self.connected.clear()
                log.warning("route feed: %s; reconnecting in %.1f s", type(exc).__name__, self.retry_s)
                self._stop.wait(self.retry_s)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, application_name="tzurot route feed",
                             connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute(f"LISTEN {CHANNEL}")  # before the load: nothing written after it is missed
            for kind, key, value in self.load():
                self._apply(kind, key, value)
            self.loads += 1
            self.connected.set()

            def read(kind: str, key: str) -> str | None:
                with psycopg.connect(self.url, autocommit=True, application_name="tzurot route feed",
                                     connect_timeout=CONNECT_TIMEOUT_S) as other:
                    row = other.execute("SELECT value FROM routes WHERE kind=%s AND key=%s", (kind, key)).fetchone()
                return None if row is None else str(row[0])

            while not self._stop.is_set():
                for note in conn.notifies(timeout=0.5, stop_after=1000):
                    try:
                        fact = decode(note.payload, read)
                    except (ValueError, KeyError, TypeError) as exc:  # the full load quarantines such a row
                        log.warning("route feed: a notification it cannot read (%s)", type(exc).__name__)
                        continue
                    self._apply(*fact)
                    self.applied += 1

    def _apply(self, kind: str, key: int | str, value: Any) -> None:
        try:
            self.apply(kind, key, value)
        except Exception as exc:  # noqa: BLE001 - one fact the table refuses must not stop the feed
            log.warning("route feed: fact %s not applied (%s)", kind, type(exc).__name__)



def watch_routes(settings: Any, apply: Callable[[str, int | str, Any], None]) -> RouteFeed | None:
    """With PostgreSQL, a started feed keeping `apply` up to date with every process's facts; None with SQLite
    (one host: the actors push every fact to its one edge)."""
    if not settings.database_url:
        return None
    from store import open_store

    store = open_store(settings)  # the complete loads go the usual way (through PgBouncer, if there is one)
    return RouteFeed(settings.database_listen_url or settings.database_url, store.routes, apply).start()
