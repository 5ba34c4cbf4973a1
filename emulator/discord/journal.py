"""Bounded logs of REST requests and spec/rule violations, the evidence tests assert on."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass

REQUEST_LOG_CAP = 10_000
VIOLATION_LOG_CAP = 1_000


@dataclass(frozen=True)
class RequestRecord:
    """One answered REST request; `at` is time.monotonic() on arrival, so gaps can be compared."""

    at: float
    method: str
    path: str
    route: str | None
    status: int
    rate_limited: bool
    retry_after: float | None = None
    scope: str | None = None
    channel_id: int | None = None
    webhook_id: int | None = None


@dataclass(frozen=True)
class Violation:
    """Something the client sent that the OpenAPI description or Discord's rules do not allow."""

    method: str
    path: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class Journal:
    """Keeps the most recent requests and violations; old entries fall off so memory stays bounded."""

    def __init__(self, request_cap: int = REQUEST_LOG_CAP, violation_cap: int = VIOLATION_LOG_CAP) -> None:
        self._requests: deque[RequestRecord] = deque(maxlen=request_cap)
        self._violations: deque[Violation] = deque(maxlen=violation_cap)

    def record_request(self, record: RequestRecord) -> None:
        self._requests.append(record)

    def record_violations(self, method: str, path: str, problems: Iterable[str]) -> None:
        self._violations.extend(Violation(method, path, problem) for problem in problems)

    def requests(self, *, channel_id: int | None = None, webhook_id: int | None = None) -> list[RequestRecord]:
        """Requests oldest first, optionally only those about one channel or one webhook."""
        return [
            r
            for r in self._requests
            if (channel_id is None or r.channel_id == channel_id) and (webhook_id is None or r.webhook_id == webhook_id)
        ]

    def violations(self) -> list[Violation]:
        return list(self._violations)

    def clear(self) -> None:
        self._requests.clear()
        self._violations.clear()
