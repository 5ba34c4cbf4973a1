"""Durable state for actors: one interface (store/base.py), SQLite on one machine or PostgreSQL for many.

`open_store(settings)` is the only place that chooses: TZUROT_DATABASE_URL set means PostgreSQL, unset means
SQLite in the data directory. Nothing outside `store/` knows which one it holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from store.base import Record, SqlStore, StaleWrite
from store.memory import MemoryStore
from store.sqlite import SqliteStore

__all__ = [
    "MemoryStore", "Record", "SqlStore", "SqliteStore", "StaleWrite", "check_writable", "open_store", "open_target",
]


def open_target(target: str | Path, settings: Any = None) -> SqlStore:
    """The store at `target`: a postgresql:// URL, or the path of a SQLite file."""
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        from store.postgres import PostgresStore  # psycopg is loaded only by processes that use PostgreSQL

        return PostgresStore(target, settings)
    return SqliteStore(target)


def check_writable(settings: Any, timeout: float) -> None:
    """The configured store can take a write within `timeout` seconds (what /healthz asks); raises if not."""
    if settings.database_url:
        from store.postgres import PostgresStore

        PostgresStore.check_writable(settings.database_url, timeout)
    else:
        SqliteStore.check_writable(settings.store_path, timeout)


def size_bytes(settings: Any) -> int | None:
    """How much the configured store holds on disk (what `bot.py status` shows), or None if it cannot say now."""
    if settings.database_url:
        from store.postgres import PostgresStore

        return PostgresStore.size_bytes(settings.database_url)
    return sum(p.stat().st_size for p in settings.data_dir.glob(settings.store_path.name + "*") if p.is_file())


def open_store(settings: Any) -> SqlStore:
    """The configured store (a handle: it connects when first used, once per process)."""
    return open_target(settings.database_url or settings.store_path, settings)
