"""Durable state for actors: a small interface, SQLite on one machine."""

from store.memory import MemoryStore
from store.sqlite import Record, SqliteStore, StaleWrite

__all__ = ["MemoryStore", "Record", "SqliteStore", "StaleWrite"]
