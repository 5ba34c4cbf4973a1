"""Typed errors raised by the AI client.

Callers (actors, metrics, user-facing replies) branch on the class or on the short ``kind``
string, never on message text. Messages may quote the provider, so they pass through
``redact`` before an error leaves the client: an API key must never end up in a log line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

MAX_MESSAGE_CHARS = 300
REDACTED = "[redacted]"
# Key-shaped tokens (OpenAI/OpenRouter "sk-...", "Bearer ...") are scrubbed even when they are not
# one of our keys: a provider may echo a truncated or differently-encoded form of the key.
_KEY_LIKE = re.compile(r"(?:\bsk-[A-Za-z0-9_\-]{6,}|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,})")


class AIError(Exception):
    """Base class: every failure of a completion request."""

    kind: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        extra = f", status={self.status}" if self.status is not None else ""
        if self.retry_after is not None:
            extra += f", retry_after={self.retry_after:g}"
        return f"{type(self).__name__}({self.message!r}{extra})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps keyword attributes when pickled between actor processes.
        return (_rebuild, (type(self), self.message, self.status, self.retry_after))


def _rebuild(cls: type[AIError], message: str, status: int | None, retry_after: float | None) -> AIError:
    return cls(message, status=status, retry_after=retry_after)


class RateLimitedError(AIError):
    """HTTP 429: the provider asks us to slow down (see ``retry_after``)."""

    kind = "rate_limited"
    retryable = True


class UnavailableError(AIError):
    """5xx, connection refused/reset, or a stream cut short: worth retrying."""

    kind = "unavailable"
    retryable = True


class AITimeoutError(AIError):
    """The whole-request deadline passed (not retried: the deadline spans retries)."""

    kind = "timeout"


class AuthError(AIError):
    """401/403: the key was refused (for BYOK users this is their key's problem)."""

    kind = "auth"


class BadRequestError(AIError):
    """Other 4xx: the request itself is wrong (unknown model, too long, no credits...)."""

    kind = "bad_request"


class EmptyAnswerError(AIError):
    """A well-formed answer with no text in it (filtered, or cut at zero tokens)."""

    kind = "empty"


class MalformedResponseError(AIError):
    """The body is not the OpenAI chat-completions shape we understand."""

    kind = "malformed"


def error_for_status(status: int, message: str, retry_after: float | None = None) -> AIError:
    """Map an HTTP status (or an OpenRouter in-body numeric ``code``) to an error type."""
    if status == 429:
        return RateLimitedError(message, status=status, retry_after=retry_after)
    if status in (401, 403):
        return AuthError(f"the key was refused: {message}", status=status)
    if status == 408 or status >= 500:
        return UnavailableError(message, status=status, retry_after=retry_after)
    if 400 <= status < 500:
        return BadRequestError(message, status=status)
    return MalformedResponseError(f"unexpected HTTP status {status}: {message}", status=status)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Remove every secret from ``text`` and bound its length (provider messages can be huge)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _KEY_LIKE.sub(REDACTED, text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


def redacted_copy(error: AIError, secrets: Iterable[str | None]) -> AIError:
    """Same error type and fields with a cleaned message, and no chained cause or context."""
    return type(error)(redact(error.message, secrets), status=error.status, retry_after=error.retry_after)
