"""Faults a test injects on purpose: forced 429s, 500s, 401s and 403s, webhook deletion and added latency."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from .ratelimit import Scope

FaultKind = Literal["rate_limit", "server_error", "unauthorized", "forbidden", "delete_webhooks", "latency"]
FAULT_KINDS: tuple[str, ...] = ("rate_limit", "server_error", "unauthorized", "forbidden", "delete_webhooks", "latency")
REFUSALS = ("server_error", "unauthorized", "forbidden")  # answered with an error instead of handling the request
SCOPES = ("user", "global", "shared")


@dataclass(frozen=True)
class FaultRequest:
    """A parsed `POST /_sandbox/faults` body."""

    kind: FaultKind
    channel_id: int | None = None
    count: int = 1
    seconds: float = 1.0
    scope: Scope = "user"


def parse_fault(body: Any) -> FaultRequest:
    """Validate a fault body; ValueError says plainly what is wrong."""
    if not isinstance(body, Mapping):
        raise ValueError("body must be a JSON object")
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    channel = body.get("channel_id")
    if kind == "delete_webhooks" and channel is None:
        raise ValueError("delete_webhooks needs channel_id")
    try:
        channel_id = None if channel is None else int(channel)
        count = int(body.get("count", 0 if kind == "latency" else 1))
        seconds = float(body.get("seconds", 0.0 if kind in REFUSALS else 1.0))
    except (TypeError, ValueError) as exc:
        raise ValueError("channel_id and count must be integers, seconds a number") from exc
    if count < 0 or seconds < 0:
        raise ValueError("count and seconds must not be negative")
    scope = body.get("scope", "user")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    return FaultRequest(cast(FaultKind, kind), channel_id, count, seconds, cast(Scope, scope))


@dataclass
class _Pending:
    request: FaultRequest
    remaining: int


class Faults:
    """Pending counted faults (first added, first used) and the current added latency."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._latency: _Pending | None = None

    def add(self, fault: FaultRequest) -> None:
        if fault.kind == "latency":
            # count 0 means "every request until replaced"; seconds 0 switches latency off.
            self._latency = _Pending(fault, fault.count) if fault.seconds > 0 else None
        elif (fault.kind == "rate_limit" or fault.kind in REFUSALS) and fault.count > 0:
            self._pending.append(_Pending(fault, fault.count))

    def take(self, channel_ids: Collection[int]) -> FaultRequest | None:
        """The fault this request triggers, if any; a channel-scoped fault only hits its channel."""
        for pending in self._pending:
            wanted = pending.request.channel_id
            if wanted is None or wanted in channel_ids:
                pending.remaining -= 1
                if pending.remaining == 0:
                    self._pending.remove(pending)
                return pending.request
        return None

    def take_latency(self) -> float:
        """Seconds to hold this response back."""
        latency = self._latency
        if latency is None:
            return 0.0
        if latency.request.count > 0:
            latency.remaining -= 1
            if latency.remaining == 0:
                self._latency = None
        return latency.request.seconds

    def clear(self) -> None:
        self._pending.clear()
        self._latency = None
