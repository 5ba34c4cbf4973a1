"""What one user's actor owns and decides: their settings (autorespond, personal aliases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.effects import Call, Done, Effect, Reply, Save, Tell
from actors.messages import (
    GetUserSettings,
    Heard,
    Persona,
    Refused,
    RemoveAlias,
    SetAlias,
    SetAutorespond,
    Speak,
    TypingFor,
    UserSettings,
)
from actors.state.names import alias_problem, name_problem, normalize_alias

MAX_ALIASES = 50


@dataclass
class UserState:
    KIND = "user"
    SCHEMA = 1

    user_id: int
    autorespond: bool = False
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> personality name
    bot_name: str = "Tzurot"
    model: str = ""

    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None) -> UserState:
        state = cls(int(key))
        if settings is not None:
            state.bot_name, state.model = settings.bot_name, settings.ai_model
        if data:
            state.autorespond = bool(data.get("autorespond", False))
            state.aliases = {str(a): str(p) for a, p in dict(data.get("aliases", {})).items()}
        return state

    def snapshot(self) -> dict[str, Any]:
        return {"autorespond": self.autorespond, "aliases": self.aliases}

    def view(self) -> UserSettings:
        return UserSettings(self.user_id, self.autorespond, tuple(sorted(self.aliases.items())))

    def handle(self, msg: Any, now: float) -> list[Effect]:
        match msg:
            case Heard():
                return self._heard(msg)
            case Done(tag=("ai", channel_id, trigger_id, persona), result=result):
                speak = Speak(channel_id, self.user_id, persona, _answer(result), trigger_id)
                return [Tell("channel", channel_id, speak)]
            case GetUserSettings():
                return [Reply(self.view())]
            case SetAutorespond(enabled=enabled):
                if not isinstance(enabled, bool):
                    return [Reply(Refused("Autorespond is either on or off."))]
                return self._change(autorespond=enabled)
            case SetAlias(alias=raw, personality=personality):
                alias = normalize_alias(raw)
                problem = alias_problem(alias) or name_problem(personality)
                if problem:
                    return [Reply(Refused(problem))]
                if alias not in self.aliases and len(self.aliases) >= MAX_ALIASES:
                    return [Reply(Refused(f"You already have {MAX_ALIASES} aliases; remove one first."))]
                return self._change(aliases={**self.aliases, alias: personality})
            case RemoveAlias(alias=raw):
                alias = normalize_alias(raw)
                if alias not in self.aliases:
                    return [Reply(Refused(f"You have no alias {alias!r}."))]
                return self._change(aliases={a: p for a, p in self.aliases.items() if a != alias})
        return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]

    def _heard(self, heard: Heard) -> list[Effect]:
        """Until personalities exist, the bot itself answers whoever mentions it, replies to it, or DMs it."""
        msg = heard.incoming
        addressed = msg.mentions_bot or msg.place.kind == "dm" or heard.replied_personality or heard.activated
        if not addressed:
            return []
        persona = Persona(self.bot_name.lower(), self.bot_name)
        cid = msg.place.channel_id
        request = {
            "messages": [
                {"role": "system", "content": f"You are {self.bot_name}, a friendly assistant on Discord."},
                {"role": "user", "content": msg.content},
            ],
            "model": self.model,
        }
        return [
            Tell("channel", cid, TypingFor(cid, self.user_id, msg.message_id)),
            Call("ai", "complete", (request,), ("ai", cid, msg.message_id, persona)),
        ]

    def _change(self, **fields: Any) -> list[Effect]:
        """Apply a change (idempotent: setting what is already set saves nothing) and answer with the result."""
        if all(getattr(self, k) == v for k, v in fields.items()):
            return [Reply(self.view())]
        for k, v in fields.items():
            setattr(self, k, v)
        return [Save(), Reply(self.view())]


def _answer(result: Any) -> str:
    text = getattr(result, "text", None)
    if isinstance(text, str) and text.strip():
        return text
    return "I couldn't come up with an answer just now; please try again in a moment."
