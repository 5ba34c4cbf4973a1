"""Shared fixtures. `actor_harness` is how one actor is tested in isolation (see tests/harness.py);
`postgres_url` is a fresh PostgreSQL database per test (testkit/postgres.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from store import SqlStore, open_target
from testkit import postgres
from tests.harness import ActorHarness


@pytest.fixture
def actor_harness() -> Iterator[Callable[..., ActorHarness]]:
    """Factory: `actor_harness(UserActor, key="42")` returns a started harness, stopped after the test."""
    started: list[ActorHarness] = []

    def make(actor_class: type, key: str, **kw: object) -> ActorHarness:
        harness = ActorHarness(actor_class, key, **kw).start()  # type: ignore[arg-type]
        started.append(harness)
        return harness

    yield make
    for harness in started:
        harness.stop()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server the tests use. Unreachable: the test skips saying how to run it, or fails when
    TZUROT_REQUIRE_POSTGRES=1 (as in CI, where PostgreSQL tests must never be skipped silently)."""
    reason = postgres.unavailable_reason()
    if reason is not None:
        if os.environ.get("TZUROT_REQUIRE_POSTGRES", "").strip() == "1":
            pytest.fail(f"TZUROT_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return postgres.server_url()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a new empty database, dropped after the test (its leftover connections ended first)."""
    with postgres.fresh_database(postgres_server) as url:
        yield url


STORES = ["sqlite", "postgresql"]


def store_target_for(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str | Path:
    """Where a store of `backend` lives for this test: a SQLite file, or a fresh PostgreSQL database."""
    return request.getfixturevalue("postgres_url") if backend == "postgresql" else tmp_path / "state.sqlite3"


@pytest.fixture(params=STORES)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """The contract tests' parameter: each runs once on SQLite and once on PostgreSQL (`store.open_target`)."""
    return store_target_for(request, request.param, tmp_path)


@pytest.fixture
def sql_store(store_target: str | Path) -> Iterator[SqlStore]:
    """One handle on a fresh store of each backend."""
    store = open_target(store_target)
    yield store
    store.close()
