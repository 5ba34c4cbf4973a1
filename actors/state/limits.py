"""One user's limits: a token bucket for addressed messages, an optional daily quota, and a breaker for
their own key. All of it lives in that user's actor, so one user's flood or broken key touches nobody else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ai.breaker import Breaker

DAY_S = 86_400


@dataclass
class UserLimits:
    rate_per_min: float = 6.0
    burst: int = 3
    daily_quota: int = 0  # 0: none
    tokens: float = -1.0  # -1: a full bucket (nothing spent yet)
    at: float = 0.0
    notice_until: float = 0.0  # one notice per window, not one per message
    day: int = 0
    used_today: int = 0
    key_breaker: Breaker = field(default_factory=lambda: Breaker(3, 60.0))

    def take(self, now: float) -> tuple[str | None, bool]:
        """(why it is refused or None, whether to tell the user now); spends a token when allowed."""
        tokens = (
            self.burst if self.tokens < 0 else min(self.burst, self.tokens + (now - self.at) * self.rate_per_min / 60)
        )
        self.at = now
        if int(now // DAY_S) != self.day:
            self.day, self.used_today = int(now // DAY_S), 0
        if self.daily_quota and self.used_today >= self.daily_quota:
            self.tokens = tokens
            return self._refuse("quota", now, next_day=True)
        if tokens < 1.0:
            self.tokens = tokens
            return self._refuse("rate", now, wait=(1.0 - tokens) * 60 / self.rate_per_min)
        self.tokens = tokens - 1.0
        self.used_today += 1
        return None, False

    def _refuse(self, why: str, now: float, wait: float = 0.0, next_day: bool = False) -> tuple[str, bool]:
        tell = now >= self.notice_until
        if tell:
            self.notice_until = (self.day + 1) * DAY_S if next_day else now + max(wait, 1.0)
        return why, tell

    def seconds_to_token(self) -> float:
        return max(0.0, (1.0 - max(self.tokens, 0.0)) * 60 / self.rate_per_min)

    def snapshot(self) -> dict[str, Any]:
        b = self.key_breaker
        return {
            "tokens": self.tokens,
            "at": self.at,
            "notice_until": self.notice_until,
            "day": self.day,
            "used_today": self.used_today,
            "key_failures": b.failures,
            "key_opened_at": b.opened_at,
        }

    def restore(self, data: dict[str, Any] | None) -> None:
        if not data:
            return
        self.tokens, self.at = float(data.get("tokens", -1.0)), float(data.get("at", 0.0))
        self.notice_until = float(data.get("notice_until", 0.0))
        self.day, self.used_today = int(data.get("day", 0)), int(data.get("used_today", 0))
        self.key_breaker.failures = int(data.get("key_failures", 0))
        self.key_breaker.opened_at = float(data.get("key_opened_at", 0.0))
