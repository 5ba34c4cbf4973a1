"""UserActor: one per active user. Owns that user's settings, key and conversations; calls the AI for them.

A slow or failing AI call blocks only this user's actor: everyone else has their own.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.shell import StatefulActor, new_reference
from actors.state.user import UserState
from ai import AIClient
from ai.breaker import SharedBreaker, breaker_path
from ai.errors import AIError, AuthError
from observability.events import EventLog
from store.sealed_keys import KeyBox
from supervision.protocol import ChildStart

log = logging.getLogger("tzurot.ai")


class AIService:
    """The AI client behind `Call("ai", ...)`: the user's key, if any, wins; the operator's has a shared breaker."""

    def __init__(self, settings: Any, keys: KeyBox, events: EventLog | None = None, user: str = "") -> None:
        self.client = AIClient(settings.ai_base_url, settings.ai_api_key or None, timeout_s=settings.ai_timeout_s)
        self.keys = keys
        self.events, self.user = events, user  # the events log, and whose call this service makes
        self.settings = settings
        self._breakers: dict[str, SharedBreaker] = {}

    def breaker_for(self, model: str) -> SharedBreaker:
        """One breaker per model on the operator's key: one personality's broken model must not stop the rest."""
        if model not in self._breakers:
            s = self.settings
            path = breaker_path(s.data_dir, model)
            self._breakers[model] = SharedBreaker(path, s.ai_breaker_failures, s.ai_breaker_cooldown_s)
        return self._breakers[model]

    @property
    def breaker(self) -> SharedBreaker:
        """The default model's breaker (what `bot.py status` shows)."""
        return self.breaker_for(self.settings.ai_model)

    def available(self, model: str = "") -> bool:
        """May the operator's key be used for `model` now? False while its breaker is open (all processes)."""
        return self.breaker_for(model or self.settings.ai_model).allow()

    def complete(self, request: dict[str, Any], sealed_key: str | None = None) -> Any:
        if sealed_key:
            api_key = self.keys.open(sealed_key)
            if api_key is None:
                raise AuthError("your stored key could not be decrypted; set it again with `auth key`")
            return self.client.complete(**request, api_key=api_key)
        model = request.get("model") or self.settings.ai_model
        breaker = self.breaker_for(model)
        try:
            result = self.client.complete(**request)
        except AIError as exc:
            if exc.kind not in ("bad_request", "empty") and breaker.record(False):
                detail = f"model {model} on the operator's key failed {breaker.threshold} times in a row ({exc.kind})"
                log.warning("breaker_open: %s", detail)
                if self.events is not None:
                    self.events.emit("warning", "breaker_open", "user", self.user, detail,
                                     cooldown_s=breaker.cooldown_s)
            raise
        breaker.record(True)
        return result

    def close(self) -> None:
        self.client.close()


class UserActor(StatefulActor):
    state_class = UserState

    def restore_args(self) -> dict[str, Any]:
        return {"ids": new_reference}  # the reference ids of failures spoken to the user

    def make_services(self, start: ChildStart) -> dict[str, Any]:
        keys = KeyBox.load(start.settings)
        # "work": the durable work table, where a restarted actor finds the messages it lost with its process
        return {"ai": AIService(start.settings, keys, self.events, start.key), "keys": keys, "work": self.store}
