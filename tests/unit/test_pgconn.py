"""One PostgreSQL connection per process, released when idle (store/pgconn.py), and PgBouncer in front of many.

What an operator checks: `pg_stat_activity` shows a connection per process that used the database recently,
named `tzurot pid N`; an idle one goes away while its process lives on and comes back on use; behind PgBouncer
(transaction mode, a pool of 2) PostgreSQL never sees more than 2 connections however many processes work.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import psycopg
import pytest

from store.cells import PostgresCell
from store.pgconn import ProcessConnection, connections_for, release_idle
from testkit import pgbouncer
from testkit.process import wait_for
from tests.unit.test_cells import counting_children

COUNTER = struct.Struct("<q")


def _names(url: str) -> list[str]:
    """application_name of every other session on this database."""
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def test_an_idle_connection_is_released_and_comes_back_on_use(postgres_url: str) -> None:
    holder = ProcessConnection(postgres_url, idle_s=5.0)
    with holder.use() as conn:
        conn.execute("SELECT 1")
    me = f"tzurot pid {os.getpid()}"
    assert _names(postgres_url).count(me) == 1
    assert 0 < holder.release_if_idle() <= 5.0 and holder.is_open  # used just now: kept
    assert holder.release_if_idle(time.monotonic() + 5.1) == 0.0 and not holder.is_open
    wait_for(lambda: me not in _names(postgres_url), 5, what="the idle connection to leave pg_stat_activity")
    with holder.use() as conn:
        assert conn.execute("SELECT 2").fetchone() == (2,)
    assert holder.opened == 2 and _names(postgres_url).count(me) == 1
    holder.release()


def test_a_forked_child_opens_its_own_connection(postgres_url: str, tmp_path: Path) -> None:
    holder = ProcessConnection(postgres_url)
    with holder.use() as conn:
        parent_backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    pid = os.fork()
    if pid == 0:
        try:
            with holder.use() as conn:
                (tmp_path / "child").write_text(str(conn.execute("SELECT pg_backend_pid()").fetchone()[0]))
            holder.release()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert int((tmp_path / "child").read_text()) != parent_backend
    with holder.use() as conn:  # the child's exit did not close the parent's session
        assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] == parent_backend
    holder.release()


def test_release_idle_covers_every_holder_of_the_process(postgres_url: str) -> None:
    class S:
        database_idle_s = 0.2

    holder = connections_for(postgres_url, S())
    assert connections_for(postgres_url) is holder  # the store and every cell share it
    with holder.use() as conn:
        conn.execute("SELECT 1")
    assert release_idle() > 0 and holder.is_open
    wait_for(lambda: release_idle() >= 0 and not holder.is_open, 5, what="the holder to be released")


def test_through_pgbouncer_many_processes_use_at_most_the_pool(postgres_url: str) -> None:
    if reason := pgbouncer.missing_reason():
        pytest.skip(reason)
    workers, each = 6, 60
    with pgbouncer.pgbouncer(postgres_url, pool_size=2) as bouncer:
        url = bouncer.url_for(postgres_url)
        PostgresCell(ProcessConnection(url), "n").update(lambda raw: (None, None))  # the table, before the race
        pids = counting_children(workers, each, lambda: PostgresCell(ProcessConnection(url), "n"))
        most, running, statuses = 0, set(pids), []
        while running:
            most = max(most, len(_names(postgres_url)))
            for p in list(running):
                done, status = os.waitpid(p, os.WNOHANG)
                if done:
                    running.discard(p)
                    statuses.append(status)
            time.sleep(0.02)
        assert statuses == [0] * workers
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            total = COUNTER.unpack(bytes(admin.execute("SELECT value FROM cells WHERE name='n'").fetchone()[0]))[0]
    assert total == workers * each  # every process did its work through the pool
    assert 1 <= most <= 2  # and PostgreSQL saw at most the pool's 2 server connections
