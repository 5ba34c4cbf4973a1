"""One actor tree per PostgreSQL database, until several hosts share one tree ("Several hosts").

Two trees on one database would each hand the other's open work to its own actors (the work table has no
owner), answer those messages twice and write the same users' rows from two places. So the edge claims the
database at start with a session advisory lock, held on a connection of its own for as long as the tree runs
(on PostgreSQL itself: PgBouncer's transaction mode keeps no session). A tree killed with SIGKILL loses its
connection and with it the lock, so a restart may wait a moment for the server to notice, never longer.
"""

from __future__ import annotations

from typing import Any

TREE_LOCK_KEY = 0x747A_7472  # "tztr": the one lock id this bot takes
WAIT_S = 20.0  # a killed predecessor's connection may take the server a moment to see closed


class TreeLock:
    """The claim on a database; `release` gives it up (closing the connection does too)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def claim_tree(settings: Any, wait_s: float = WAIT_S) -> TreeLock | None:
    """Claim the configured PostgreSQL database for this tree; None with SQLite (its data directory is the
    claim). Raises RuntimeError, naming why, when another tree holds it for longer than `wait_s`."""
    if not settings.database_url:
        return None
    import psycopg

    url = settings.database_listen_url or settings.database_url
    conn = psycopg.connect(url, autocommit=True, application_name="tzurot tree lock", connect_timeout=10)
    try:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, int(wait_s * 1000))}ms",))
        conn.execute("SELECT pg_advisory_lock(%s)", (TREE_LOCK_KEY,))
    except psycopg.errors.LockNotAvailable:
        conn.close()
        raise RuntimeError(
            "another actor tree is running on this database (TZUROT_DATABASE_URL): two would answer each other's "
            "messages twice; stop it first, or give this one its own database") from None
    except BaseException:
        conn.close()
        raise
    return TreeLock(conn)
