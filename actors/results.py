"""What a collaborator's call hands back to a pure state class (through `Done(tag, result)`): Discord's answers.

They live here, beside the effects, and not in `discord_rest/client.py`, so that `actors/state/` can read them
without importing the client (and with it httpx and the shared files). The client returns these same types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ok:
    status: int
    data: Any


@dataclass(frozen=True)
class Fail:
    """Discord refused (or could not be reached: status 0). `code` is Discord's JSON error code."""

    status: int
    code: int | None
    message: str

    @property
    def unknown_webhook(self) -> bool:
        return self.status == 404 and self.code in (10015, None)

    @property
    def missing_permission(self) -> bool:
        return self.status == 403


@dataclass(frozen=True)
class Wait:
    """Nothing was sent: try again after `seconds`. `scope` says why (bucket, global, user, shared, gate)."""

    seconds: float
    scope: str


@dataclass(frozen=True)
class StreamProgress:
    """A streamed AI answer so far (`ai/streaming.py`): its text, and once `done`, the call's `result` (the
    completion, or the error) as a plain call would have returned it."""

    text: str
    done: bool
    result: Any = None


Result = Ok | Fail | Wait
