"""Release this process's idle database connections, whatever the backend: what an actor's timer calls.

A process that never used PostgreSQL has nothing to release, and this module never loads psycopg for it.
"""

from __future__ import annotations

import sys


def release_idle() -> float:
    """Close connections idle for their TZUROT_DATABASE_IDLE_S; the seconds until the next may be (0.0: none open)."""
    pgconn = sys.modules.get("store.pgconn")
    return pgconn.release_idle() if pgconn is not None else 0.0
