"""Discord-style rate limits: a global per-identity limit plus fixed-window per-route buckets.

Per-route figures are the ones Discord staff usually quote (5 per 2 s per webhook, 5 per 5 s for
channel message sends); the rest are emulator defaults. `RateLimits` makes all of them configurable.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from .errors import json_response

Scope = Literal["user", "global", "shared"]
_WINDOW_PURGE_AT = 4096
_SHARED_LIMIT_CODE = 20028  # "The channel you are writing has hit the write rate limit"


@dataclass(frozen=True)
class BucketRule:
    """At most `limit` requests per `per` seconds, counted per major parameter."""

    name: str
    limit: int
    per: float

    @property
    def bucket_hash(self) -> str:
        """Opaque like Discord's `X-RateLimit-Bucket`, stable per rule."""
        return hashlib.md5(self.name.encode()).hexdigest()


@dataclass(frozen=True)
class RateLimits:
    """Which limits apply; `enabled=False` turns every limit off (benchmarks of the bot alone)."""

    enabled: bool = True
    global_per_second: int = 50
    webhook: BucketRule = BucketRule("webhook", 5, 2.0)
    channel_messages: BucketRule = BucketRule("channel-messages", 5, 5.0)
    message_edits: BucketRule = BucketRule("message-edits", 5, 5.0)
    typing: BucketRule = BucketRule("typing", 5, 5.0)
    webhook_admin: BucketRule = BucketRule("webhook-admin", 30, 10.0)
    default: BucketRule = BucketRule("default", 50, 1.0)

    def rule_for(self, method: str, template: str) -> BucketRule:
        if template.startswith("/webhooks/{webhook_id}/{webhook_token}"):
            return self.webhook
        if template == "/channels/{channel_id}/messages" and method == "POST":
            return self.channel_messages
        if template == "/channels/{channel_id}/messages/{message_id}" and method in ("PATCH", "DELETE"):
            return self.message_edits
        if template == "/channels/{channel_id}/typing":
            return self.typing
        if template in ("/channels/{channel_id}/webhooks", "/webhooks/{webhook_id}"):
            return self.webhook_admin
        return self.default


def major_parameter(path_params: Mapping[str, str]) -> str:
    """Buckets are per webhook, else per channel, else per guild, as Discord keys them."""
    for name in ("webhook_id", "channel_id", "guild_id"):
        if name in path_params:
            return f"{name}={path_params[name]}"
    return ""


def _ceil_ms(seconds: float) -> float:
    """Round up, so a client that waits exactly what we say is never early."""
    return math.ceil(max(seconds, 0.0) * 1000) / 1000


@dataclass(frozen=True)
class BucketState:
    """What the `X-RateLimit-*` headers report after a request was counted."""

    rule: BucketRule
    remaining: int
    reset_after: float

    def headers(self) -> dict[str, str]:
        reset_after = _ceil_ms(self.reset_after)
        return {
            "X-RateLimit-Limit": str(self.rule.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.rule.bucket_hash,
        }


@dataclass(frozen=True)
class Limited:
    """A 429 answer: Discord's body and headers for the scope that was hit."""

    retry_after: float
    scope: Scope
    bucket: BucketState | None = None

    def response(self) -> web.Response:
        retry_after = _ceil_ms(self.retry_after)
        body: dict[str, object] = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": self.scope == "global",
        }
        headers = {"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": self.scope}
        if self.scope == "global":
            headers["X-RateLimit-Global"] = "true"
        if self.scope == "shared":
            body["code"] = _SHARED_LIMIT_CODE
        if self.bucket is not None:
            headers.update(self.bucket.headers())
        return json_response(body, 429, headers)


def injected_limit(rule: BucketRule, seconds: float, scope: Scope) -> Limited:
    """A 429 forced by a fault, reported as if `rule`'s bucket were exhausted for `seconds`."""
    bucket = None if scope == "global" else BucketState(rule, 0, seconds)
    return Limited(seconds, scope, bucket)


@dataclass
class _Window:
    used: int
    resets_at: float


@dataclass
class RateLimiter:
    """Counts requests in fixed windows that start with the first request, as Discord's buckets do."""

    limits: RateLimits = field(default_factory=RateLimits)
    clock: Callable[[], float] = time.monotonic
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def admit(self, identity: str, rule: BucketRule, major: str) -> tuple[BucketState | None, Limited | None]:
        """Count one request; return the bucket state for headers and the 429 to send, if any."""
        if not self.limits.enabled:
            return None, None
        now = self.clock()
        global_rule = BucketRule("global", self.limits.global_per_second, 1.0)
        global_window = self._window(("global", identity), global_rule, now)
        if global_window.used >= global_rule.limit:
            return None, Limited(global_window.resets_at - now, "global")
        global_window.used += 1
        window = self._window((rule.name, major), rule, now)
        if window.used >= rule.limit:
            state = BucketState(rule, 0, window.resets_at - now)
            return state, Limited(window.resets_at - now, "user", state)
        window.used += 1
        return BucketState(rule, rule.limit - window.used, window.resets_at - now), None

    def _window(self, key: tuple[str, str], rule: BucketRule, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.resets_at:
            if len(self._windows) >= _WINDOW_PURGE_AT:
                self._windows = {k: w for k, w in self._windows.items() if w.resets_at > now}
            window = self._windows[key] = _Window(0, now + rule.per)
        return window
