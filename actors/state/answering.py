"""How a user's actor answers one message: the model's context, the operator's capacity, the call, and
speaking the answer (or the failure, in character, with a reference id).

A mixin of UserState (`actors/state/user.py`), which owns the state; split out only to keep each module
readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.effects import Call, Count, Effect, IdSource, Observe, Push, Save, Tell, Timer, WorkDone
from actors.messages import Heard, Persona, RouteFact, SlotGranted, SlotRelease, SlotRequest, Speak, TypingFor
from actors.state import context as ctx
from actors.state.addressing import Target, conversation_timeout

SLOT_RETRY_S = 15.0  # ask the Slots actor again (it keeps nothing across a restart)
SLOT_TRIES = 8  # then give up with a "very busy" answer
ANSWERS_CAP = 50
HISTORY_CAP = 30  # conversations (channel x personality) remembered per user


class Answering:
    """The answering half of UserState: it reads and changes that state's fields."""

    # Provided by UserState.
    user_id: int
    options: Any
    sealed_key: str | None
    inbox: Any
    histories: Any
    conversations: dict[int, tuple[str, float]]
    answers: Any
    limits: Any
    waiting: Any
    verified: bool
    ids: IdSource

    # and log(), _next(), _done_with() from UserState; sealed() from UserCommands.

    def _answer(self, heard: Heard, target: Target, record: dict[str, Any], now: float) -> list[Effect]:
        msg = heard.incoming
        cid = msg.place.channel_id
        why = age_gate(record, msg.place, self.verified, self.options.dm_verification, self.options.prefix)
        if why is not None:
            self._done_with(self.inbox.popleft())
            said = self.log(heard, "info", "age_gate", f"{record['name']} in a {msg.place.kind}")
            told = self.notify(heard, why) if self.limits.notice_due("age_gate", now) else WorkDone(msg.message_id)
            return [Save(), said, told, *self._next(now)]
        speaker = ctx.Speaker(
            record["name"],
            record["display_name"],
            record["prompt"],
            bool(record.get("vision")),
            bool(record.get("context_line")),
        )
        line = (
            ctx.context_line(msg.place.guild_name, msg.place.name, msg.place.kind, msg.created_at or now)
            if speaker.context_line
            else ""
        )
        turn = ctx.user_turn(
            speaker,
            ctx.author_label(msg.author.display_name, msg.author.username),
            ctx.strip_mention(msg.content, target.alias),
            msg.reply_author,
            msg.reply_content,
            msg.attachments,
            line,
        )
        history = self.histories.get(f"{cid}:{record['name']}", [])
        request = {
            "messages": ctx.build_messages(speaker, history, turn),
            "model": record.get("model") or self.options.model,
        }
        if record.get("temperature") is not None:
            request["temperature"] = record["temperature"]
        if max_tokens := record.get("max_tokens") or self.options.max_tokens:
            request["max_tokens"] = max_tokens
        persona = Persona(record["name"], record["display_name"], record.get("avatar_url") or None)
        job = Job(heard, cid, persona, turn, request, self.sealed_key)
        typing = Tell("channel", cid, TypingFor(cid, self.user_id, msg.message_id))
        if job.sealed_key:  # the user's own key: no shared slot, but its own breaker
            if not self.limits.key_breaker.allow(now):
                return self._finish(job, KeyFailing(), now)
            return [typing, *self._call(job)]
        # The operator's key: a clear answer at once while its breaker is open, else a fair turn at a slot.
        self.waiting = (msg.message_id, "available", job)
        return [typing, Call("ai", "available", (job.request["model"],), ("available", msg.message_id))]

    def _call(self, job: Job) -> list[Effect]:
        self.waiting = (job.heard.incoming.message_id, "ai", job)
        key = "own key" if job.sealed_key else "operator key"
        model = job.request["model"] or "default"
        return [
            self.log(job.heard, "info", "ai_call", f"{job.persona.name} model {model} ({key})"),
            Call("ai", "complete", (job.request, job.sealed_key), ("ai", job.heard.incoming.message_id)),
        ]

    def _slot(self, msg: Any, now: float) -> list[Effect]:
        """The operator's capacity: ask for a slot, retry on a timer, call the model once granted."""
        trigger = msg.trigger_id if isinstance(msg, SlotGranted) else msg.payload[1]
        if self.waiting is not None and self.waiting[0] == trigger and self.waiting[1] == "ai":
            return []  # a second grant for the call already running (a retry crossed the first): still ours
        if self.waiting is None or self.waiting[0] != trigger or self.waiting[1] != "slot":
            return [Tell("slots", "slots", SlotRelease(self.user_id, trigger))] if isinstance(msg, SlotGranted) else []
        job = self.waiting[2]
        if isinstance(msg, SlotGranted):
            return self._call(job)
        attempt = msg.payload[2]
        if attempt >= SLOT_TRIES:
            self.waiting = None
            return [Tell("slots", "slots", SlotRelease(self.user_id, trigger)), *self._finish(job, Busy(), now)]
        return [
            Tell("slots", "slots", SlotRequest(self.user_id, trigger)),
            Timer(SLOT_RETRY_S, ("slot_retry", trigger, attempt + 1)),
        ]

    def _done(self, tag: tuple[Any, ...], result: Any, now: float) -> list[Effect]:
        if tag[0] == "seal":
            return self.sealed(tag, result)
        if self.waiting is None or self.waiting[0] != tag[1]:
            return []
        job = self.waiting[2]
        if tag[0] == "available":
            if result is not True:
                self.waiting = None
                return self._finish(job, ServiceDown(), now)
            self.waiting = (tag[1], "slot", job)
            return [
                Tell("slots", "slots", SlotRequest(self.user_id, tag[1])),
                Timer(SLOT_RETRY_S, ("slot_retry", tag[1], 1)),
            ]
        if tag[0] != "ai":
            return []
        self.waiting = None
        effects: list[Effect] = []
        if job.sealed_key:  # the key the call used, not one set since
            self.limits.key_breaker.record(not _failed(result), now)
        else:
            effects.append(Tell("slots", "slots", SlotRelease(self.user_id, tag[1])))
        return effects + self._finish(job, result, now)

    def _finish(self, job: Job, result: Any, now: float) -> list[Effect]:
        """Speak the answer (or the failure, in character, with a reference id) and go on to the next message."""
        heard, cid, persona, turn = job.heard, job.cid, job.persona, job.turn
        trigger = heard.incoming.message_id
        if self.inbox and self.inbox[0].incoming.message_id == trigger:
            self._done_with(self.inbox.popleft())
        text = getattr(result, "text", None)
        effects: list[Effect] = [Save()]
        if isinstance(text, str) and not ctx.looks_like_error(text):
            self._remember(cid, persona.name, turn, text, heard, now)
            effects += [
                Count("answered"),
                Observe("ai_latency_s", getattr(result, "latency_ms", 0.0) / 1000),
                self.log(heard, "info", "answered", f"{len(text)} characters from {persona.name}"),
            ]
            effects.append(Push(RouteFact("conversation", cid, now + conversation_timeout(heard.incoming.place.kind))))
        else:
            reference = self.ids()
            kind = ctx.error_kind(result) if not isinstance(text, str) else "empty"
            effects.append(self.log(heard, "warning", "ai_failed", f"ref {reference}: {kind} {type(result).__name__}"))
            text = ctx.spoken_error(kind, reference)
            effects.append(Count("ai_error", (kind,)))
        speak = Speak(cid, self.user_id, persona, text, trigger, heard.incoming.created_at)
        self.answers[trigger] = speak
        while len(self.answers) > ANSWERS_CAP:
            self.answers.popitem(last=False)
        effects.append(Tell("channel", cid, speak))
        return effects + self._next(now)

    def _remember(self, cid: int, name: str, turn: dict[str, Any], answer: str, heard: Heard, now: float) -> None:
        key = f"{cid}:{name}"
        content = turn["content"] if isinstance(turn["content"], str) else turn["content"][0]["text"]
        turns = self.histories.pop(key, []) + [
            {"role": "user", "content": content},
            {"role": "assistant", "content": answer},
        ]
        self.histories[key] = ctx.trim_history(turns)
        while len(self.histories) > HISTORY_CAP:
            self.histories.popitem(last=False)
        self.conversations[cid] = (name, now)


def age_gate(record: dict[str, Any], place: Any, verified: bool, dm_verification: bool, prefix: str) -> str | None:
    """Why this personality may not answer here, or None. An age-restricted (`nsfw`) personality answers in a
    server only in an age-restricted channel, and in DMs only to a user who ran `verify` in one; the operator
    may require that verification for every DM (TZUROT_DM_REQUIRES_VERIFICATION)."""
    name = f"**{record['display_name']}**"
    if place.kind == "dm":
        if verified or not (record.get("nsfw") or dm_verification):
            return None
        where = "in an age-restricted channel of a server we share"
        if record.get("nsfw"):
            return f"{name} is age-restricted: first run `{prefix}verify` {where}."
        return f"Talking to personalities in DMs needs `{prefix}verify` first: run it {where}."
    if record.get("nsfw") and not place.nsfw:
        return f"{name} is age-restricted: it only talks in age-restricted channels."
    return None


@dataclass(frozen=True)
class Job:
    """One answer in progress: the message, where it goes, who speaks, and what the model is asked."""

    heard: Heard
    cid: int
    persona: Persona
    turn: dict[str, Any]
    request: dict[str, Any]
    sealed_key: str | None = None  # the user's own key, when the call uses it (decided once, at the start)


class ServiceDown(Exception):
    """The operator's breaker is open: answered at once instead of waiting for a timeout."""

    kind = "unavailable"


class KeyFailing(Exception):
    """The user's own key failed several times in a row: its breaker is open."""

    kind = "auth"


class Busy(Exception):
    """No slot on the operator's key came free in time."""

    kind = "rate_limited"


def _failed(result: Any) -> bool:
    return isinstance(result, BaseException) and getattr(result, "kind", "") not in ("bad_request", "empty")
