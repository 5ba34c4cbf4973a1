"""The circuit-breaker rule, pure: a user's own key has one in that user's state, and the operator's key one per
model shared by every actor process (`ai/breaker.py` keeps that one's numbers in a locked file and applies this
same rule to them).

closed: calls go through; `threshold` failures in a row open it. open: calls are refused at once (users get
one clear answer instead of a timeout each) until `cooldown_s` passes. half-open: one probe call goes
through; its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

from dataclasses import dataclass

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class Breaker:
    """The pure rule; `failures`, `opened_at` and `probing` are all the state there is."""

    threshold: int = 5
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float = 0.0
    probing: float = 0.0  # when the current probe started (0: none); a lost probe expires after cooldown_s

    def state(self, now: float) -> str:
        if self.failures < self.threshold:
            return CLOSED
        return HALF_OPEN if now - self.opened_at >= self.cooldown_s else OPEN

    def allow(self, now: float) -> bool:
        state = self.state(now)
        if state == CLOSED:
            return True
        if state == HALF_OPEN and (not self.probing or now - self.probing > self.cooldown_s):
            self.probing = now  # exactly one probe at a time
            return True
        return False

    def record(self, ok: bool, now: float) -> bool:
        """Note a call's outcome; True when this outcome opened the breaker."""
        was_open = self.failures >= self.threshold
        self.probing = 0.0
        if ok:
            self.failures = 0
            return False
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = now
            return not was_open
        return False
