"""UserActor: one per active user. Owns that user's settings, key and conversations; calls the AI for them.

A slow or failing AI call blocks only this user's actor: everyone else has their own.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.shell import StatefulActor
from actors.state.user import UserState
from ai import AIClient
from ai.breaker import SharedBreaker
from ai.errors import AIError, AuthError
from store.keys import KeyBox
from supervision.log import SupervisorLog
from supervision.protocol import ChildStart

log = logging.getLogger("tzurot.ai")


class AIService:
    """The AI client behind `Call("ai", ...)`: the user's key, if any, wins; the operator's has a shared breaker."""

    def __init__(self, settings: Any, keys: KeyBox, events: SupervisorLog | None = None, user: str = "") -> None:
        self.client = AIClient(settings.ai_base_url, settings.ai_api_key or None, timeout_s=settings.ai_timeout_s)
        self.keys = keys
        self.events, self.user = events, user  # the events log, and whose call this service makes
        self.breaker = SharedBreaker(settings.data_dir / "ai-breaker", settings.ai_breaker_failures,
                                     settings.ai_breaker_cooldown_s)

    def available(self) -> bool:
        """May the operator's key be used now? False while its breaker is open (every process sees it)."""
        return self.breaker.allow()

    def complete(self, request: dict[str, Any], sealed_key: str | None = None) -> Any:
        if sealed_key:
            api_key = self.keys.open(sealed_key)
            if api_key is None:
                raise AuthError("your stored key could not be decrypted; set it again with `auth key`")
            return self.client.complete(**request, api_key=api_key)
        try:
            result = self.client.complete(**request)
        except AIError as exc:
            if exc.kind not in ("bad_request", "empty") and self.breaker.record(False):
                detail = f"the operator's AI backend failed {self.breaker.threshold} times in a row ({exc.kind})"
                log.warning("breaker_open: %s", detail)
                if self.events is not None:
                    self.events.emit("warning", "breaker_open", "user", self.user, detail,
                                     cooldown_s=self.breaker.cooldown_s)
            raise
        self.breaker.record(True)
        return result

    def close(self) -> None:
        self.client.close()


class UserActor(StatefulActor):
    state_class = UserState

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        keys = KeyBox.load(start.settings.data_dir)
        return {"ai": AIService(start.settings, keys, self.events, start.key), "keys": keys}
