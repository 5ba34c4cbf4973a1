"""Shared test helpers: condition waits instead of fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable

from ai import RetryPolicy
from edge.launch import free_port  # noqa: F401  (re-exported for the AI tests)

OPERATOR_KEY = "sk-or-v1-operator-0123456789abcdef"
FAST_RETRY = RetryPolicy(base_delay_s=0.02, min_attempt_s=0.1)
SYSTEM = "You are Lilith, a sardonic night owl.\nSpeak briefly."
MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hello there"}]


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``condition`` until true; fail the test if it is not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


