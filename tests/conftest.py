"""Shared fixtures. `actor_harness` is how one actor is tested in isolation (see tests/harness.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

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
