"""The AI service a user's actor calls (`Call("ai", ...)`): the user's own key, if they set one, wins; the
operator's key goes through one shared breaker per model (`ai/breaker.py`), so every actor process stops
calling a model that keeps failing, and its opening is logged once.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ai.breaker import SharedBreaker, breaker_name
from ai.client import AIClient
from ai.errors import AIError, AuthError
from ai.streaming import StreamRuns
from store.cells import open_cell

log = logging.getLogger("tzurot.ai")
AUDIO_MAX_BYTES = 8 * 1024 * 1024  # a voice message or audio file downloaded for transcription


class SealedKeys(Protocol):
    """Opens a user's sealed key (the key box in `store/`)."""

    def open(self, token: str) -> str | None: ...


class Events(Protocol):
    """The application's events log (where `breaker_open` goes)."""

    def emit(self, level: str, event: str, kind: str, key: str, detail: str = "", **extra: Any) -> None: ...


class AIService:
    def __init__(self, settings: Any, keys: SealedKeys, events: Events | None = None, user: str = "") -> None:
        self.client = AIClient(settings.ai_base_url, settings.ai_api_key or None, timeout_s=settings.ai_timeout_s)
        self.keys = keys
        self.events, self.user = events, user  # the events log, and whose call this service makes
        self.settings = settings
        self._breakers: dict[str, SharedBreaker] = {}
        self._streams = StreamRuns(self.complete)

    def breaker_for(self, model: str) -> SharedBreaker:
        """One breaker per model on the operator's key: one personality's broken model must not stop the rest."""
        if model not in self._breakers:
            s = self.settings
            cell = open_cell(s, breaker_name(model))
            self._breakers[model] = SharedBreaker(cell, s.ai_breaker_failures, s.ai_breaker_cooldown_s)
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

    def stream(self, request: dict[str, Any], sealed_key: str | None, key: Any, wait_s: float) -> Any:
        """Start `complete` streamed, beside the actor (`ai/streaming.py`); the text so far after `wait_s`."""
        return self._streams.start(key, request, sealed_key, wait_s)

    def progress(self, key: Any, wait_s: float) -> Any:
        """A streamed call's text so far, or its result once it is complete (waiting at most `wait_s`)."""
        return self._streams.progress(key, wait_s)

    def transcribe(self, urls: tuple[str, ...], sealed_key: str | None = None) -> list[tuple[str, bool, str]]:
        """Each audio attachment as (url, True, its transcript) or (url, False, why it could not be used, fit to
        show the user): downloaded (at most AUDIO_MAX_BYTES), then sent to `/audio/transcriptions` with the user's
        own key when they set one."""
        api_key = self.keys.open(sealed_key) if sealed_key else None
        if sealed_key and api_key is None:
            return [(url, False, "your stored key could not be decrypted") for url in urls]
        return [(url, *self._transcribed(url, api_key)) for url in urls]

    def _transcribed(self, url: str, api_key: str | None) -> tuple[bool, str]:
        import httpx  # only an actor that hears a voice message pays for it

        try:
            with httpx.stream("GET", url, timeout=20.0) as response:
                if response.status_code != 200:
                    return False, f"Discord answered {response.status_code} when I fetched it"
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > AUDIO_MAX_BYTES:
                        return False, f"it is larger than {AUDIO_MAX_BYTES // 1024 // 1024} MB"
        except httpx.HTTPError:
            return False, "it could not be downloaded just now"
        name = url.rsplit("/", 1)[-1].split("?", 1)[0] or "audio.ogg"
        try:
            text = self.client.transcribe(bytes(data), name, model=self.settings.ai_transcribe_model,
                                          api_key=api_key)
        except AIError as exc:
            log.info("transcription failed: %s (status=%s)", exc.kind, exc.status)
            return False, f"the transcription service failed ({exc.kind})"
        return (True, text.strip()) if text.strip() else (False, "no speech was heard in it")

    def close(self) -> None:
        self._streams.close()
        self.client.close()
