"""One user's limits: token buckets for turns (addressed messages, merged: see user.py) and for commands, an
optional daily quota, a breaker for their own key, and one notice per window for every kind of refusal. All of it
lives in that user's actor, so one user's flood or broken key touches nobody else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.state.breaker import Breaker

DAY_S = 86_400
NOTICE_WINDOW_S = 60.0  # refusals of the same kind: at most one notice to the user per window
NOTICES_CAP = 16  # kinds of notice remembered


def refill(tokens: float, at: float, rate_per_min: float, burst: int, now: float) -> float:
    """A bucket's tokens at `now`; -1 means a bucket that was never used (full)."""
    return burst if tokens < 0 else min(burst, tokens + (now - at) * rate_per_min / 60)


@dataclass
class UserLimits:
    rate_per_min: float = 20.0
    burst: int = 6
    daily_quota: int = 0  # 0: none
    tokens: float = -1.0  # -1: a full bucket (nothing spent yet)
    at: float = 0.0
    day: int = 0
    used_today: int = 0
    command_rate_per_min: float = 20.0
    command_burst: int = 8
    command_tokens: float = -1.0
    command_at: float = 0.0
    notices: dict[str, float] = field(default_factory=dict)  # kind of refusal -> no further notice before
    key_breaker: Breaker = field(default_factory=lambda: Breaker(3, 60.0))

    @classmethod
    def from_settings(cls, settings: Any) -> UserLimits:
        return cls(
            settings.user_rate_per_min,
            settings.user_burst,
            settings.daily_quota,
            command_rate_per_min=settings.user_commands_per_min,
            command_burst=settings.user_command_burst,
            key_breaker=Breaker(settings.ai_breaker_failures, settings.ai_breaker_cooldown_s),
        )

    def take(self, now: float) -> tuple[str | None, bool]:
        """(why it is refused or None, whether to tell the user now); spends a token when allowed."""
        tokens = refill(self.tokens, self.at, self.rate_per_min, self.burst, now)
        self.at = now
        if int(now // DAY_S) != self.day:
            self.day, self.used_today = int(now // DAY_S), 0
        if self.daily_quota and self.used_today >= self.daily_quota:
            self.tokens = tokens
            return "quota", self.notice_due("quota", now, (self.day + 1) * DAY_S - now)
        if tokens < 1.0:
            self.tokens = tokens
            # One notice a minute at most: at 20 turns a minute a window of one token's wait would tell a flooder
            # every 3 s.
            return "rate", self.notice_due("rate", now, max(NOTICE_WINDOW_S, (1.0 - tokens) * 60 / self.rate_per_min))
        self.tokens = tokens - 1.0
        self.used_today += 1
        return None, False

    def take_command(self, now: float) -> tuple[bool, bool]:
        """(allowed, whether to tell the user now that it was not): commands have their own, roomier bucket."""
        tokens = refill(self.command_tokens, self.command_at, self.command_rate_per_min, self.command_burst, now)
        self.command_at = now
        if tokens < 1.0:
            self.command_tokens = tokens
            return False, self.notice_due("commands", now, NOTICE_WINDOW_S)
        self.command_tokens = tokens - 1.0
        return True, False

    def notice_due(self, kind: str, now: float, window_s: float = NOTICE_WINDOW_S) -> bool:
        """True (and the window starts) when a refusal of this kind may be told to the user now."""
        if now < self.notices.get(kind, 0.0):
            return False
        self.notices[kind] = now + window_s
        if len(self.notices) > NOTICES_CAP:
            for stale in sorted(self.notices, key=self.notices.__getitem__)[: len(self.notices) - NOTICES_CAP]:
                del self.notices[stale]
        return True

    def notice(self, why: str) -> str:
        """What a user is told when an addressed message is refused `why` ("quota" or "rate")."""
        if why == "quota":
            return f"You've used today's {self.daily_quota} answers; they come back at midnight UTC."
        return (
            f"You're sending messages faster than I can answer ({self.rate_per_min:g} a minute). "
            f"I skipped that one; try again in {max(1, round(self.seconds_to_token()))} s."
        )

    def seconds_to_token(self) -> float:
        return max(0.0, (1.0 - max(self.tokens, 0.0)) * 60 / self.rate_per_min)

    def command_wait(self) -> float:
        return max(0.0, (1.0 - max(self.command_tokens, 0.0)) * 60 / self.command_rate_per_min)

    def snapshot(self) -> dict[str, Any]:
        b = self.key_breaker
        return {
            "tokens": self.tokens,
            "at": self.at,
            "day": self.day,
            "used_today": self.used_today,
            "command_tokens": self.command_tokens,
            "command_at": self.command_at,
            "notices": self.notices,
            "key_failures": b.failures,
            "key_opened_at": b.opened_at,
        }

    def restore(self, data: dict[str, Any] | None) -> None:
        if not data:
            return
        self.tokens, self.at = float(data.get("tokens", -1.0)), float(data.get("at", 0.0))
        self.day, self.used_today = int(data.get("day", 0)), int(data.get("used_today", 0))
        self.command_tokens = float(data.get("command_tokens", -1.0))
        self.command_at = float(data.get("command_at", 0.0))
        self.notices = {str(k): float(v) for k, v in dict(data.get("notices", {})).items()}
        if "notice_until" in data:  # before every refusal had its own window: it was the rate notice's
            self.notices.setdefault("rate", float(data["notice_until"]))
        self.key_breaker.failures = int(data.get("key_failures", 0))
        self.key_breaker.opened_at = float(data.get("key_opened_at", 0.0))
