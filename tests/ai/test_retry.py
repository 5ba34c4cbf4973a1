"""The retry/backoff policy as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ai.errors import (
    AITimeoutError,
    AuthError,
    EmptyAnswerError,
    RateLimitedError,
    UnavailableError,
)
from ai.retry import RetryPolicy, parse_retry_after, retry_delay

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
POLICY = RetryPolicy(max_retries=2, base_delay_s=0.5, max_delay_s=30.0, jitter=0.2, min_attempt_s=0.5)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("nan", None),
        ("Thu, 02 Jan 2025 03:04:15 GMT", 10.0),
        ("Thu, 02 Jan 2025 03:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_parse_retry_after_date_defaults_to_now() -> None:
    later = datetime.now(UTC) + timedelta(seconds=100)
    header = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 95 < (parse_retry_after(header) or 0) <= 100


@pytest.mark.parametrize("error", [AuthError("x"), EmptyAnswerError("x"), AITimeoutError("x")], ids=lambda e: e.kind)
def test_non_retryable_errors(error: Exception) -> None:
    assert retry_delay(POLICY, 0, error, 100.0) is None  # type: ignore[arg-type]


def test_exponential_backoff_without_retry_after() -> None:
    error = UnavailableError("x", status=500)
    assert retry_delay(POLICY, 0, error, 100.0) == 0.5
    assert retry_delay(POLICY, 1, error, 100.0) == 1.0
    assert retry_delay(POLICY, 2, error, 100.0) is None  # max_retries used up


def test_jitter_bounds() -> None:
    error = UnavailableError("x")
    assert retry_delay(POLICY, 0, error, 100.0, rand=0.0) == pytest.approx(0.4)
    assert retry_delay(POLICY, 0, error, 100.0, rand=0.999999) == pytest.approx(0.6, abs=1e-5)


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, base_delay_s=1.0, max_delay_s=5.0, jitter=0.0)
    assert retry_delay(policy, 8, UnavailableError("x"), 100.0) == 5.0


def test_retry_after_is_honoured_exactly() -> None:
    assert retry_delay(POLICY, 0, RateLimitedError("x", retry_after=7.0), 100.0, rand=0.0) == 7.0
    assert retry_delay(POLICY, 0, UnavailableError("x", status=503, retry_after=2.0), 100.0) == 2.0


def test_retry_after_longer_than_cap_gives_up_at_once() -> None:
    assert retry_delay(POLICY, 0, RateLimitedError("x", retry_after=31.0), 100.0) is None


def test_never_waits_past_the_deadline() -> None:
    error = RateLimitedError("x", retry_after=3.0)
    assert retry_delay(POLICY, 0, error, 3.6) == 3.0
    assert retry_delay(POLICY, 0, error, 3.4) is None  # no time left for the attempt itself
    assert retry_delay(POLICY, 0, UnavailableError("x"), 0.9) is None


def test_rate_limited_without_retry_after_backs_off() -> None:
    assert retry_delay(POLICY, 1, RateLimitedError("x"), 100.0) == 1.0
