"""UserActor: one per active user. Owns that user's settings, key and conversations; calls the AI for them.

A slow or failing AI call blocks only this user's actor: everyone else has their own.
"""

from __future__ import annotations

from typing import Any

from actors.shell import StatefulActor
from actors.state.user import UserState
from ai import AIClient
from ai.errors import AuthError
from store.keys import KeyBox
from supervision.protocol import ChildStart


class AIService:
    """The AI client behind `Call("ai", "complete", (request, sealed_key))`: the user's key, if any, wins."""

    def __init__(self, settings: Any, keys: KeyBox) -> None:
        self.client = AIClient(settings.ai_base_url, settings.ai_api_key or None, timeout_s=settings.ai_timeout_s)
        self.keys = keys

    def complete(self, request: dict[str, Any], sealed_key: str | None = None) -> Any:
        api_key = None
        if sealed_key:
            api_key = self.keys.open(sealed_key)
            if api_key is None:
                raise AuthError("your stored key could not be decrypted; set it again with `auth key`")
        return self.client.complete(**request, api_key=api_key)

    def close(self) -> None:
        self.client.close()


class UserActor(StatefulActor):
    state_class = UserState

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        keys = KeyBox.load(start.settings.data_dir)
        return {"ai": AIService(start.settings, keys), "keys": keys}
