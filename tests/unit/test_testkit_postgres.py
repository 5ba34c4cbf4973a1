"""testkit.postgres: each test gets its own database, and nothing of it is left on the server afterwards."""

from __future__ import annotations

import os

import psycopg
import pytest

from testkit import postgres


def databases(server: str) -> set[str]:
    with psycopg.connect(server) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


def test_a_fresh_database_is_empty_and_is_dropped_even_with_a_connection_left_open(postgres_server: str) -> None:
    with postgres.fresh_database(postgres_server) as url:
        name = url.rsplit("/", 1)[1]
        assert name in databases(postgres_server)
        leftover = psycopg.connect(url)  # as an actor process that outlived its test would hold one
        tables = leftover.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
    assert name not in databases(postgres_server)
    leftover.close()


def test_only_databases_made_here_can_be_dropped(postgres_server: str) -> None:
    with pytest.raises(ValueError, match="not a database made by testkit.postgres"):
        postgres.drop_database(postgres.with_database(postgres_server, "test"), postgres_server)


def test_an_unreachable_server_is_named_with_how_to_run_the_tests() -> None:
    reason = postgres.unavailable_reason("postgresql://someone:hunter2@127.0.0.1:1/x")
    assert reason is not None and "127.0.0.1:1" in reason and "TZUROT_TEST_POSTGRES" in reason
    assert "hunter2" not in reason


def test_a_database_left_by_a_killed_run_is_dropped_by_the_next_but_a_live_runs_is_not(postgres_server: str) -> None:
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)  # a pid that has exited: a run killed before its `finally`
    orphan, live = f"{postgres.PREFIX}{child}_0rphan00", f"{postgres.PREFIX}{os.getpid()}_11ve0000"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        for name in (orphan, live):
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with postgres.fresh_database(postgres_server):
            present = databases(postgres_server)
            assert orphan not in present and live in present
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            for name in (orphan, live):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
