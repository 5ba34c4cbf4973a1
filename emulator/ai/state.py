"""Emulator state: injected faults, the FIFO concurrency gates (the backend's capacity), and request statistics.

Fault tables and stats are guarded by a ``threading.Lock`` because tests configure and read
them from their own thread while the server's event loop runs in another.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from emulator.ai.replies import key_fingerprint

# Failure modes besides an HTTP status ("429", "500", "401", ... any 400-599):
FAIL_WORDS = frozenset(
    {
        "timeout",  # hold the request without answering until the client leaves or the server stops
        "empty",  # 200 with empty content
        "malformed",  # 200 with a body that is not the chat-completions shape
        "trickle",  # 200 headers, then keep-alive bytes forever (tests whole-request deadlines)
        "error200",  # OpenRouter-style error inside a 200 (mid-stream when streaming)
    }
)


def normalize_fail(fail: Any) -> str | None:
    """Validate a ``fail`` value; raises ``ValueError`` naming what is accepted."""
    if fail is None:
        return None
    text = str(fail).strip().lower()
    if text in FAIL_WORDS or (text.isdigit() and 400 <= int(text) <= 599):
        return text
    raise ValueError(f"fail must be null, an HTTP status 400-599 or one of {sorted(FAIL_WORDS)}")


@dataclass
class FaultRule:
    """Applies to requests matching ``key``/``model`` (None = any), ``remaining`` times (None = always)."""

    rule_id: int
    key: str | None
    model: str | None
    latency_s: float
    fail: str | None
    remaining: int | None
    retry_after: str

    def matches(self, key: str | None, model: str) -> bool:
        return (self.key is None or self.key == key) and (self.model is None or self.model == model)

    def describe(self) -> dict[str, Any]:
        """Public view: the key appears only as its fingerprint."""
        return {
            "id": self.rule_id,
            "key": None if self.key is None else key_fingerprint(self.key),
            "model": self.model,
            "latency_s": self.latency_s,
            "fail": self.fail,
            "count": self.remaining,
            "retry_after": self.retry_after,
        }


class FaultTable:
    """Ordered fault rules; the first matching rule (in order added) applies to a request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def add(
        self,
        *,
        key: str | None = None,
        model: str | None = None,
        latency_s: float = 0.0,
        fail: Any = None,
        count: int | None = None,
        retry_after: float | str = 1,
    ) -> int:
        """Add a rule and return its id; raises ``ValueError`` on bad values."""
        fail = normalize_fail(fail)
        latency_s = float(latency_s)
        if latency_s < 0 or (count is not None and int(count) < 1):
            raise ValueError("latency_s must be >= 0 and count >= 1")
        with self._lock:
            rule_id = self._next_id
            self._next_id += 1
            remaining = None if count is None else int(count)
            self._rules.append(FaultRule(rule_id, key, model, latency_s, fail, remaining, str(retry_after)))
        return rule_id

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, key: str | None, model: str) -> FaultRule | None:
        """The rule for this request, consuming one use of it (used-up rules disappear)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(key, model):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]


class FifoGate:
    """At most ``limit`` holders at once (None = unlimited); waiters are served in arrival order.

    Used from the event loop only; the counters are read from other threads for stats.
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("max_concurrent must be >= 1 or None")
        self.limit = limit
        self.active = 0
        self.max_active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    @property
    def full(self) -> bool:
        return self.limit is not None and (self.active >= self.limit or bool(self._waiters))

    def set_limit(self, limit: int | None) -> None:
        """Change the limit now (event loop only): a raise lets the first waiters in at once."""
        if limit is not None and limit < 1:
            raise ValueError("max_concurrent must be >= 1 or None")
        self.limit = limit
        while self._waiters and (limit is None or self.active < limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)

    async def __aenter__(self) -> None:
        if self.limit is None or (self.active < self.limit and not self._waiters):
            self.active += 1
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # the releaser hands its slot over: ``active`` is unchanged
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    self._release()  # the slot arrived as we were cancelled: pass it on
                raise
        self.max_active = max(self.max_active, self.active)

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiters and (self.limit is None or self.active <= self.limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot is handed over: ``active`` is unchanged
                return
        self.active -= 1


WHEN_FULL = ("queue", "429")


@dataclass
class Capacity:
    """The backend's concurrency: at most ``limit`` requests at once (None: unlimited), the rest queued FIFO
    (``when_full="queue"``, like a provider's own queue) or refused at once with a 429 (``"429"``). One for
    every model without its own, and optionally one per model (a model served by its own deployment)."""

    limit: int | None
    when_full: str = "queue"

    def __post_init__(self) -> None:
        if self.limit is not None and (not isinstance(self.limit, int) or isinstance(self.limit, bool)
                                       or self.limit < 1):
            raise ValueError("limit must be an integer >= 1 or null")
        if self.when_full not in WHEN_FULL:
            raise ValueError(f"when_full must be one of {list(WHEN_FULL)}")


RECENT_CAP = 50  # request bodies kept for tests to inspect


class Stats:
    """Request counters. Keys are recorded by fingerprint only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_model: Counter[str] = Counter()
            self.by_key: Counter[str] = Counter()
            self.by_outcome: Counter[str] = Counter()
            self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_CAP)

    def arrived(self, model: str, key: str | None, body: Any = None) -> None:
        with self._lock:
            self.total += 1
            if isinstance(body, dict):  # what the model was asked, for tests; never the key
                self.recent.append({"model": model, "key": key_fingerprint(key), "messages": body.get("messages"),
                                    "max_tokens": body.get("max_tokens")})
            self.by_model[model] += 1
            self.by_key[key_fingerprint(key)] += 1

    def last_requests(self, n: int = 10) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.recent)[-n:]

    def outcome(self, name: str) -> None:
        with self._lock:
            self.by_outcome[name] += 1

    def snapshot(self, gate: FifoGate) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.total,
                "by_model": dict(self.by_model),
                "by_key": dict(self.by_key),
                "by_outcome": dict(self.by_outcome),
                "in_flight": gate.active,
                "max_in_flight": gate.max_active,
                "queued": gate.queued,
                "max_concurrent": gate.limit,
            }
