"""Shared fixtures. `actor_harness` is how one actor is tested in isolation (see tests/harness.py);
`postgres_url` is a fresh PostgreSQL database per test (testkit/postgres.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

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
