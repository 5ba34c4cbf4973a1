"""UserActor: one per active user. Owns that user's settings and conversations; calls the AI for them.

A slow or failing AI call blocks only this user's actor: everyone else has their own.
"""

from __future__ import annotations

from typing import Any

from actors.shell import StatefulActor
from actors.state.user import UserState
from ai import AIClient
from supervision.protocol import ChildStart


class AIService:
    """The AI client behind the `Call("ai", "complete", (request,))` effect."""

    def __init__(self, settings: Any) -> None:
        self.client = AIClient(settings.ai_base_url, settings.ai_api_key or None, timeout_s=settings.ai_timeout_s)

    def complete(self, request: dict[str, Any]) -> Any:
        return self.client.complete(**request)

    def close(self) -> None:
        self.client.close()


class UserActor(StatefulActor):
    state_class = UserState

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        return {"ai": AIService(start.settings)}
