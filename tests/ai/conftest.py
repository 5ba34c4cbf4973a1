"""Fixtures: one emulator per test (cheap to start), always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ai import AIClient
from emulator.ai import AIEmulator, EmulatorThread
from testkit.stack import in_thread
from tests.ai.helpers import FAST_RETRY, OPERATOR_KEY


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    with in_thread(AIEmulator()) as handle:
        yield handle


@pytest.fixture
def make_client(emulator: EmulatorThread) -> Iterator[Callable[..., AIClient]]:
    """Factory for clients pointed at the emulator; all are closed after the test."""
    clients: list[AIClient] = []

    def make(api_key: str | None = OPERATOR_KEY, **kwargs: Any) -> AIClient:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("timeout_s", 10.0)
        client = AIClient(emulator.base_url, api_key, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
