"""A fresh PostgreSQL database per test or benchmark run, dropped afterwards.

The server is the one at `TZUROT_TEST_POSTGRES` (default: the development and CI machines' PostgreSQL 15 at
127.0.0.1:5432, trust authentication). Each database gets a unique name (`tzurot_t_<pid>_<random>`), so runs
never touch each other's data or the server's own databases. Dropping first terminates whatever backends are
still connected (a bot's actor process that outlived its test), so a leftover connection cannot leak a database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from config import redact_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
PREFIX = "tzurot_t_"
HOW_TO_RUN = (
    "the PostgreSQL tests need a server: start PostgreSQL 15 at 127.0.0.1:5432 (trust authentication, a database "
    "named test), or point TZUROT_TEST_POSTGRES at one (postgresql://user@host:port/db)"
)


def server_url() -> str:
    """The URL of the server's maintenance database, where databases are created and dropped."""
    return os.environ.get("TZUROT_TEST_POSTGRES", "").strip() or DEFAULT_URL


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead (user, host, port and query kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def unavailable_reason(url: str | None = None, timeout_s: float = 3.0) -> str | None:
    """None when the server answers; otherwise why not, and how to run the PostgreSQL tests."""
    try:
        import psycopg
    except ImportError:
        return f"psycopg is not installed (pip install 'psycopg[binary]'); {HOW_TO_RUN}"
    try:
        with psycopg.connect(url or server_url(), connect_timeout=max(1, int(timeout_s))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {redact_url(url or server_url())} is unreachable ({first}); {HOW_TO_RUN}"
    return None


def available(url: str | None = None) -> bool:
    return unavailable_reason(url) is None


def create_database(url: str | None = None) -> str:
    """Create a uniquely named empty database on the server; return its URL."""
    import psycopg

    base = url or server_url()
    name = f"{PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        for (orphan,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)):
            if _creator_is_gone(orphan):  # a run killed before its `finally`: nobody else will drop it
                _drop(conn, orphan)
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(base, name)


def _creator_is_gone(name: str) -> bool:
    """Was `name` made by a process of this host that has exited? (Its pid is in its name.)"""
    pid = name[len(PREFIX):].split("_", 1)[0]
    return pid.isdigit() and not os.path.exists(f"/proc/{pid}")


def drop_database(db_url: str, url: str | None = None) -> None:
    """Drop the database `db_url` names, first ending every backend still connected to it."""
    import psycopg

    name = urlsplit(db_url).path.lstrip("/")
    if not name.startswith(PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a database made by testkit.postgres")
    with psycopg.connect(url or server_url(), autocommit=True) as conn:
        _drop(conn, name)


def _drop(conn: Any, name: str) -> None:
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@contextmanager
def fresh_database(url: str | None = None) -> Iterator[str]:
    """A new empty database for the duration of the block (its URL), dropped after."""
    db_url = create_database(url)
    try:
        yield db_url
    finally:
        drop_database(db_url, url)
