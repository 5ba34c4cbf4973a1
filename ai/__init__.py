"""AI client: OpenAI-compatible chat completions with typed errors and bounded retries."""

from ai.client import AIClient
from ai.errors import (
    AIError,
    AITimeoutError,
    AuthError,
    BadRequestError,
    EmptyAnswerError,
    MalformedResponseError,
    RateLimitedError,
    UnavailableError,
)
from ai.response import Completion, Usage
from ai.retry import RetryPolicy

__all__ = [
    "AIClient",
    "AIError",
    "AITimeoutError",
    "AuthError",
    "BadRequestError",
    "Completion",
    "EmptyAnswerError",
    "MalformedResponseError",
    "RateLimitedError",
    "RetryPolicy",
    "UnavailableError",
    "Usage",
]
