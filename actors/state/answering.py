"""How a user's actor answers one message: the model's context, the operator's capacity, the call, and
speaking the answer (or the failure, in character, with a reference id).

A part of UserState (`actors/state/user.py`), over the records it reads and changes: the profile, the
conversation memory, the limits. It never touches the queue of messages: each decision comes back as a `Step`
(the effects, and what the queue now waits for, or that the message's turn is over), which the queue applies.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from actors.effects import Call, Count, Effect, Observe, Push, Save, Tell, Timer, WorkDone
from actors.kinds import Kind
from actors.messages import Heard, Persona, RouteFact, SlotGranted, SlotRelease, SlotRequest, Speak, TypingFor
from actors.state import context as ctx
from actors.state.addressing import Target, conversation_timeout
from actors.state.ids import IdSource, counting_ids
from actors.state.limits import UserLimits
from actors.state.user_commands import Profile
from actors.state.voice import Voice

SLOT_RETRY_S = 15.0  # ask the Slots actor again (it keeps nothing across a restart)
SLOT_TRIES = 8  # then give up with a "very busy" answer
ANSWERS_CAP = 50
HISTORY_CAP = 30  # conversations (channel x personality) remembered per user

Waiting = tuple[int, str, Any]  # (trigger id, purpose, what to continue with): what a user's queue waits for


@dataclass(frozen=True)
class Step:
    """What answering decided: its effects, then what the queue waits for now, or the message whose turn is over
    (`finished`: the queue sets it aside as handled and goes on to the next)."""

    effects: list[Effect]
    waiting: Waiting | None = None
    finished: int | None = None


@dataclass(slots=True)
class Answering:
    """Answers the message at the head of a user's queue; remembers the exchange in the records it was given."""

    voice: Voice
    profile: Profile
    limits: UserLimits
    histories: OrderedDict[str, list[dict[str, str]]] = field(default_factory=OrderedDict)  # "chan:name" -> turns
    conversations: dict[int, tuple[str, float]] = field(default_factory=dict)  # channel -> (personality, last)
    answers: OrderedDict[int, Speak] = field(default_factory=OrderedDict)  # recent answers, to say again
    ids: IdSource = field(default_factory=counting_ids)  # reference ids of failures

    def begin(self, heard: Heard, target: Target, record: dict[str, Any], now: float) -> Step:
        """Start answering `heard` as `record` (the personality): refuse at the age gate, or ask the model (the
        user's own key), or first ask whether the operator's key is available."""
        msg = heard.incoming
        cid = msg.place.channel_id
        options = self.voice.options
        why = age_gate(record, msg.place, self.profile.verified, options.dm_verification, options.prefix)
        if why is not None:
            said = self.voice.log(heard, "info", "age_gate", f"{record['name']} in a {msg.place.kind}")
            due = self.limits.notice_due("age_gate", now)
            told = self.voice.notify(heard, why) if due else WorkDone(msg.message_id)
            return Step([Save(), said, told], finished=msg.message_id)
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
            "model": record.get("model") or options.model,
        }
        if record.get("temperature") is not None:
            request["temperature"] = record["temperature"]
        if max_tokens := record.get("max_tokens") or options.max_tokens:
            request["max_tokens"] = max_tokens
        persona = Persona(record["name"], record["display_name"], record.get("avatar_url") or None)
        job = Job(heard, cid, persona, turn, request, self.profile.sealed_key)
        typing = Tell(Kind.CHANNEL, cid, TypingFor(cid, self.voice.user_id, msg.message_id))
        if job.sealed_key:  # the user's own key: no shared slot, but its own breaker
            if not self.limits.key_breaker.allow(now):
                return self._finish(job, KeyFailing(), now)
            return self._call(job, typing)
        # The operator's key: a clear answer at once while its breaker is open, else a fair turn at a slot.
        available = Call("ai", "available", (job.request["model"],), ("available", msg.message_id))
        return Step([typing, available], (msg.message_id, "available", job))

    def _call(self, job: Job, *before: Effect) -> Step:
        key = "own key" if job.sealed_key else "operator key"
        model = job.request["model"] or "default"
        return Step([
            *before,
            self.voice.log(job.heard, "info", "ai_call", f"{job.persona.name} model {model} ({key})"),
            Call("ai", "complete", (job.request, job.sealed_key), ("ai", job.heard.incoming.message_id)),
        ], (job.heard.incoming.message_id, "ai", job))

    def slot(self, waiting: Waiting | None, msg: Any, now: float) -> Step:
        """The operator's capacity: ask for a slot, retry on a timer, call the model once granted."""
        trigger = msg.trigger_id if isinstance(msg, SlotGranted) else msg.payload[1]
        release = Tell(Kind.SLOTS, Kind.SLOTS, SlotRelease(self.voice.user_id, trigger))
        if waiting is not None and waiting[0] == trigger and waiting[1] == "ai":
            return Step([], waiting)  # a second grant for the call already running (a retry crossed the first)
        if waiting is None or waiting[0] != trigger or waiting[1] != "slot":
            return Step([release] if isinstance(msg, SlotGranted) else [], waiting)
        job = waiting[2]
        if isinstance(msg, SlotGranted):  # from the line: our process takes the slot over (its death frees it)
            claim = Call("lease", "claim", (self.voice.user_id, trigger), ("claimed", trigger))
            return self._call(replace(job, slot_at=now), claim)
        attempt = msg.payload[2]
        if attempt >= SLOT_TRIES:
            return self._finish(job, Busy(), now, release)
        return Step([
            Tell(Kind.SLOTS, Kind.SLOTS, SlotRequest(self.voice.user_id, trigger)),
            Timer(SLOT_RETRY_S, ("slot_retry", trigger, attempt + 1)),
        ], waiting)

    def done(self, waiting: Waiting | None, tag: tuple[Any, ...], result: Any, now: float) -> Step:
        """A collaborator's answer: whether the operator's key is available, or the model's answer."""
        if waiting is None or waiting[0] != tag[1]:
            return Step([], waiting)
        job = waiting[2]
        if tag[0] == "available":
            if result is not True:
                return self._finish(job, ServiceDown(), now)
            # A free slot is taken from the shared slot store directly: no round trip to the Slots actor.
            return Step([Call("lease", "take", (self.voice.user_id, tag[1]), ("take", tag[1]))], (tag[1], "slot", job))
        if tag[0] == "take" and waiting[1] == "slot":
            if result is True:
                return self._call(replace(job, slot_at=now))
            return Step([  # full, or somebody waits: the Slots actor's line (least served first)
                Tell(Kind.SLOTS, Kind.SLOTS, SlotRequest(self.voice.user_id, tag[1])),
                Timer(SLOT_RETRY_S, ("slot_retry", tag[1], 1)),
            ], waiting)
        if tag[0] != "ai":
            return Step([], waiting)
        if job.sealed_key:  # the key the call used, not one set since
            self.limits.key_breaker.record(not _failed(result), now)
            return self._finish(job, result, now)
        # The slot is freed in the store at once (our next message may take it), and the Slots actor is told how
        # the call went.
        free = Call("lease", "release", (self.voice.user_id, tag[1]), ("released", tag[1]))
        told = Tell(Kind.SLOTS, Kind.SLOTS, self._release(job, tag[1], result, now))
        return self._finish(job, result, now, free, told)

    def _release(self, job: Job, trigger: int, result: Any, now: float) -> SlotRelease:
        """The slot back, with how the call went: the adaptive limit learns from it, the line from the time held."""
        if isinstance(result, BaseException):
            outcome, latency_s = str(getattr(result, "kind", "error")), 0.0
        else:
            outcome, latency_s = "ok", float(getattr(result, "latency_ms", 0.0) or 0.0) / 1000
        held_s = now - job.slot_at if job.slot_at else 0.0
        return SlotRelease(self.voice.user_id, trigger, outcome, latency_s, str(job.request.get("model") or ""), held_s)

    def _finish(self, job: Job, result: Any, now: float, *before: Effect) -> Step:
        """Speak the answer (or the failure, in character, with a reference id); the message's turn is over."""
        heard, cid, persona, turn = job.heard, job.cid, job.persona, job.turn
        trigger = heard.incoming.message_id
        text = getattr(result, "text", None)
        effects: list[Effect] = [*before, Save()]
        if isinstance(text, str) and not ctx.looks_like_error(text):
            self._remember(cid, persona.name, turn, text, now)
            effects += [
                Count("answered"),
                Observe("ai_latency_s", getattr(result, "latency_ms", 0.0) / 1000),
                self.voice.log(heard, "info", "answered", f"{len(text)} characters from {persona.name}"),
            ]
            effects.append(Push(RouteFact("conversation", cid, now + conversation_timeout(heard.incoming.place.kind))))
        else:
            reference = self.ids()
            kind = ctx.error_kind(result) if not isinstance(text, str) else "empty"
            detail = f"ref {reference}: {kind} {type(result).__name__}"
            effects.append(self.voice.log(heard, "warning", "ai_failed", detail))
            text = ctx.spoken_error(kind, reference)
            effects.append(Count("ai_error", (kind,)))
        speak = Speak(cid, self.voice.user_id, persona, text, trigger, heard.incoming.created_at)
        self.answers[trigger] = speak
        while len(self.answers) > ANSWERS_CAP:
            self.answers.popitem(last=False)
        effects.append(Tell(Kind.CHANNEL, cid, speak))
        return Step(effects, finished=trigger)

    def _remember(self, cid: int, name: str, turn: dict[str, Any], answer: str, now: float) -> None:
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
    slot_at: float = 0.0  # when it took an operator slot (0: none yet)


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
