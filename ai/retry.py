"""Retry/backoff policy as pure functions, so every rule is unit-tested without a network.

The client runs inside an actor that handles one message at a time: every second spent
sleeping here blocks that actor, so waits are few, bounded, and never cross the caller's
whole-request deadline. When the provider asks for a longer pause than we are willing to
take, we give up at once and let the caller tell the user, instead of retrying too early.
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from ai.errors import AIError


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry rate-limited / unavailable answers."""

    max_retries: int = 2  # retries after the first attempt, so at most 3 attempts
    base_delay_s: float = 0.5  # backoff when the provider gives no Retry-After: base * 2**attempt
    max_delay_s: float = 30.0  # never sleep longer than this in one wait
    jitter: float = 0.2  # +/- fraction applied to computed backoff so actors do not retry in lockstep
    min_attempt_s: float = 0.5  # do not start an attempt with less time than this before the deadline


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when absent or unparseable; negative values and past dates become 0.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def retry_delay(
    policy: RetryPolicy,
    attempt: int,
    error: AIError,
    remaining_s: float,
    rand: float = 0.5,
) -> float | None:
    """Seconds to sleep before retrying after ``attempt`` (0-based) failed, or None to give up.

    ``remaining_s`` is the time left before the whole-request deadline; ``rand`` in [0, 1)
    drives the jitter (0.5 = none) and is a parameter so this stays deterministic in tests.
    """
    if not error.retryable or attempt >= policy.max_retries:
        return None
    if error.retry_after is not None:
        delay = error.retry_after  # the provider knows best: honour it exactly
        if delay > policy.max_delay_s:
            return None
    else:
        backoff = policy.base_delay_s * (2**attempt)
        delay = min(policy.max_delay_s, backoff * (1.0 + policy.jitter * (2.0 * rand - 1.0)))
    delay = max(0.0, delay)
    if delay + policy.min_attempt_s > remaining_s:
        return None
    return delay
