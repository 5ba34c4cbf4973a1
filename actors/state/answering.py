"""How a user's actor answers one turn: the model's context, the operator's capacity, the call, and speaking
the answer (or the failure, in character, with a reference id).

A turn is one or more lines a user sent to one personality in one channel, answered once (the queue in
`user.py` decides which lines belong to it). Lines that join while the turn waits for the catalogue, the
operator's breaker or a slot are simply in the call. Lines that arrive while the call is in flight cannot be
seen before it returns (the call blocks the actor, and Thespian reads what waits on its sockets only once the
handler is over), so after a call that ran YIELD_AFTER_S or more the actor waits SETTLE_S on a timer, which
lets those lines in; if lines for the turn came, it asks again with every line, at most REASKS times a turn,
and the earlier answer is dropped unsent. After a quick call the answer is spoken at
once, and whatever came meanwhile forms the next turn.

A part of UserState (`actors/state/user.py`), over the records it reads and changes: the profile, the
conversation memory, the limits. It never touches the queue of messages: each decision comes back as a `Step`
(the effects, and what the queue now waits for, or the lines whose turn is over), which the queue applies.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from actors.effects import SPOKEN_PATIENCE_S, Call, Count, Effect, Observe, Push, Save, Tell, Timer, WorkAck, WorkDone
from actors.kinds import Kind
from actors.messages import (
    Heard,
    Persona,
    RouteFact,
    SlotGranted,
    SlotRelease,
    SlotRequest,
    Speak,
    TypingFor,
)
from actors.results import StreamProgress
from actors.state import context as ctx
from actors.state import media, memory, streamed
from actors.state.addressing import Target, age_gate, conversation_timeout
from actors.state.channel_window import transcript
from actors.state.ids import IdSource, counting_ids
from actors.state.limits import UserLimits
from actors.state.persona import persona_message
from actors.state.user_commands import Profile
from actors.state.voice import Voice

SLOT_RETRY_S = 15.0  # ask the Slots actor again (it keeps nothing across a restart)
SLOT_TRIES = 8  # then give up with a "very busy" answer
ANSWERS_CAP = 50
HISTORY_CAP = 30  # conversations (channel x personality) remembered per user
YIELD_AFTER_S = 0.25  # after a call this long, let lines that came meanwhile join before speaking
REASKS = 2  # a turn's call is asked again with its new lines at most this often
SETTLE_S = 0.05  # after a slow call: time for the lines that reached the actor meanwhile to be read

Waiting = tuple[int, str, Any]  # (trigger id, purpose, what to continue with): what a user's queue waits for


@dataclass(frozen=True)
class Step:
    """What answering decided: its effects, then what the queue waits for now, or the lines whose turn is over
    (`finished`: the queue sets them aside as handled and goes on to the next)."""

    effects: list[Effect]
    waiting: Waiting | None = None
    finished: tuple[int, ...] = ()


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

    def begin(self, lines: list[Heard], target: Target, record: dict[str, Any], now: float) -> Step:
        """Start answering the turn `lines` (the first is the head of the queue) as `record`: refuse at the age
        gate, or ask the model (the user's own key), or first ask whether the operator's key is available."""
        heard = lines[0]
        msg = heard.incoming
        cid = msg.place.channel_id
        why = age_gate(record, msg.place, self.profile.verified, self.voice.options.dm_verification,
                       self.voice.options.prefix)
        if why is not None:
            said = self.voice.log(heard, "info", "age_gate", f"{record['name']} in a {msg.place.kind}")
            due = self.limits.notice_due("age_gate", now)
            told = self.voice.notify(heard, why) if due else WorkDone(msg.message_id)
            rest = [WorkDone(h.incoming.message_id) for h in lines[1:]]
            return Step([Save(), said, told, *rest], finished=_ids(lines))
        speaker = ctx.Speaker(
            record["name"],
            record["display_name"],
            record["prompt"],
            bool(record.get("vision")),
            bool(record.get("context_line")),
        )
        persona = Persona(record["name"], record["display_name"], record.get("avatar_url") or None)
        model = record.get("model") or self.voice.options.model
        job = Job(heard, cid, persona, speaker, target.alias, target.name.lower(), record, model,
                  self.profile.sealed_key)
        typing = Tell(Kind.CHANNEL, cid, TypingFor(cid, self.voice.user_id, msg.message_id))
        if job.sealed_key:  # the user's own key: no shared slot, but its own breaker
            if not self.limits.key_breaker.allow(now):
                return self._finish(job.asked(lines, now), KeyFailing(), now)
            return self._call(job, lines, now, typing)
        # The operator's key: a clear answer at once while its breaker is open, else a fair turn at a slot.
        available = Call("ai", "available", (model,), ("available", msg.message_id))
        return Step([typing, available], (msg.message_id, "available", job))

    def _call(self, job: Job, lines: list[Heard], now: float, *before: Effect) -> Step:
        """Ask the model about every line of the turn (again, when lines joined since the last ask); first hear
        its voice messages (media.py), then, before the first ask, look in long-term memory for what is relevant
        (a failed look just finds nothing)."""
        if audio := media.pending_audio((h.incoming for h in lines), job.transcripts):
            hear = Call("ai", "transcribe", (audio, job.sealed_key), ("transcribed", job.trigger))
            return Step([*before, hear], (job.trigger, "media", job))
        if job.recalled is None and self.profile.memory and not self.profile.remembered.must_look(
                job.record["name"], job.conversation, self.histories.get(job.conversation, [])):
            job = replace(job, recalled=())  # all it could find is in the conversation the prompt holds
            before = (*before, self.voice.log(job.heard, "info", "recall", "skipped: every memory with "
                                              f"{job.persona.name} is in this conversation"))
        if job.recalled is None and self.profile.memory:
            query = "\n".join(ctx.strip_mention(h.incoming.content, job.alias) for h in lines)
            search = Call("memory", "search", (self.voice.user_id, job.record["name"], query,
                                               job.heard.incoming.place.kind == "dm", memory.RECALL),
                          ("recall", job.trigger))
            looked = self.voice.log(job.heard, "info", "recall", f"memories with {job.persona.name}")
            return Step([*before, looked, search], (job.trigger, "recall", job))
        job = replace(job, notes=media.notes((h.incoming for h in lines), job.transcripts, job.speaker.vision,
                                             job.persona.display_name))
        job = job.asked(lines, now, self._request(job, lines))
        key = "own key" if job.sealed_key else "operator key"
        asked = f" ({len(lines)} lines, ask {job.asks})" if job.asks > 1 or len(lines) > 1 else ""
        return Step([
            *before,
            self.voice.log(job.heard, "info", "ai_call", f"{job.persona.name} model {job.model or 'default'} "
                                                         f"({key}){asked}"),
            streamed.ask(job, self.voice.options.streaming),
        ], (job.trigger, "ai", job))

    def streaming(self, waiting: Waiting | None, trigger: int) -> Step:
        """Back from the mailbox during a streamed call (streamed.py): read its text so far again."""
        if waiting is None or waiting[0] != trigger or waiting[1] != "ai":
            return Step([], waiting)
        return Step([streamed.read_again(trigger)], waiting)

    def _request(self, job: Job, lines: list[Heard]) -> dict[str, Any]:
        """What the model is asked: the prompt, the conversation so far here, then each line as its own turn."""
        speaker, record = job.speaker, job.record
        history = self.histories.get(job.conversation, [])
        messages = ctx.build_messages(speaker, history, *(self._line(job, h, i) for i, h in enumerate(lines)))
        if record.get("context", "channel") == "channel" and (others := transcript(
                lines[0].context, record["name"], self.voice.user_id)):  # what others said here lately
            messages.insert(1, {"role": "system", "content": others})
        who = ctx.author_label(job.heard.incoming.author.display_name, job.heard.incoming.author.username)
        if recalled := memory.recall_message(job.recalled, who):  # what it remembers of earlier conversations
            messages.insert(1, recalled)
        if persona := persona_message(self.profile.personas, record["name"], who):  # who the user says they are
            messages.insert(1, persona)
        request: dict[str, Any] = {"messages": messages, "model": job.model}
        if record.get("temperature") is not None:
            request["temperature"] = record["temperature"]
        if max_tokens := record.get("max_tokens") or self.voice.options.max_tokens:
            request["max_tokens"] = max_tokens
        return request

    def _line(self, job: Job, heard: Heard, index: int) -> dict[str, Any]:
        msg = heard.incoming
        line = (
            ctx.context_line(msg.place.guild_name, msg.place.name, msg.place.kind, msg.created_at or 0.0)
            if job.speaker.context_line and index == 0
            else ""
        )
        text = ctx.strip_mention(msg.content, job.alias)
        if extra := media.extra_text(msg, job.transcripts):
            text = f"{text}\n{extra}"
        return ctx.user_turn(
            job.speaker,
            ctx.author_label(msg.author.display_name, msg.author.username),
            text,
            msg.reply_author,
            msg.reply_content,
            media.images(msg),
            line,
        )

    def slot(self, waiting: Waiting | None, msg: Any, lines: list[Heard], now: float) -> Step:
        """The operator's capacity: ask for a slot, retry on a timer, call the model once granted."""
        trigger = msg.trigger_id if isinstance(msg, SlotGranted) else msg.payload[1]
        release = Tell(Kind.SLOTS, Kind.SLOTS, SlotRelease(self.voice.user_id, trigger))
        if waiting is not None and waiting[0] == trigger and waiting[1] in ("ai", "answered", "recall", "media"):
            return Step([], waiting)  # a second grant for the call already running (a retry crossed the first)
        if waiting is None or waiting[0] != trigger or waiting[1] != "slot":
            return Step([release] if isinstance(msg, SlotGranted) else [], waiting)
        job = waiting[2]
        if isinstance(msg, SlotGranted):  # from the line: our process takes the slot over (its death frees it)
            claim = Call("lease", "claim", (self.voice.user_id, trigger), ("claimed", trigger))
            return self._call(replace(job, slot_at=now), lines, now, claim)
        attempt = msg.payload[2]
        if attempt >= SLOT_TRIES:
            return self._finish(job.asked(lines, now), Busy(), now, release)
        return Step([
            Tell(Kind.SLOTS, Kind.SLOTS, SlotRequest(self.voice.user_id, trigger)),
            Timer(SLOT_RETRY_S, ("slot_retry", trigger, attempt + 1)),
        ], waiting)

    def done(self, waiting: Waiting | None, tag: tuple[Any, ...], result: Any, lines: list[Heard], now: float) -> Step:
        """A collaborator's answer: whether the operator's key is available, or the model's answer."""
        if waiting is None or waiting[0] != tag[1]:
            return Step([], waiting)
        job = waiting[2]
        if tag[0] == "transcribed" and waiting[1] == "media":
            heard = media.heard(result, media.pending_audio((h.incoming for h in lines), job.transcripts))
            return self._call(replace(job, transcripts=(*job.transcripts, *heard)), lines, now)
        if tag[0] == "streamed" and waiting[1] == "ai":
            if isinstance(result, StreamProgress) and not result.done:
                effects, shown = streamed.hand_on(job, self.voice.user_id, result)
                return Step(effects, (job.trigger, "ai", replace(job, shown=shown)))
            tag, result = ("ai", tag[1]), result.result if isinstance(result, StreamProgress) else result
        if tag[0] == "available":
            if result is not True:
                return self._finish(job.asked(lines, now), ServiceDown(), now)
            # A free slot is taken from the shared slot store directly: no round trip to the Slots actor.
            return Step([Call("lease", "take", (self.voice.user_id, tag[1]), ("take", tag[1]))], (tag[1], "slot", job))
        if tag[0] == "take" and waiting[1] == "slot":
            if result is True:
                return self._call(replace(job, slot_at=now), lines, now)
            return Step([  # full, or somebody waits: the Slots actor's line (least served first)
                Tell(Kind.SLOTS, Kind.SLOTS, SlotRequest(self.voice.user_id, tag[1])),
                Timer(SLOT_RETRY_S, ("slot_retry", tag[1], 1)),
            ], waiting)
        if tag[0] == "recall" and waiting[1] == "recall":
            found = tuple(result) if isinstance(result, list) else ()
            return self._call(replace(job, recalled=found), lines, now)
        if tag[0] != "ai" or waiting[1] != "ai":
            return Step([], waiting)
        if job.sealed_key:  # the key the call used, not one set since
            self.limits.key_breaker.record(not _failed(result), now)
        slow = now - job.asked_at >= YIELD_AFTER_S
        if slow and not job.shown and job.asks <= REASKS and isinstance(getattr(result, "text", None), str):
            # A slow call: lines may have come meanwhile. Let them in before deciding to speak (unless part of
            # the answer is already shown: then they are the next turn).
            return Step([Timer(SETTLE_S, ("turn_ready", job.trigger))],
                        (job.trigger, "answered", replace(job, result=result)))
        return self._finish(job, result, now, *self._slot_back(job, result, now))

    def ready(self, waiting: Waiting | None, trigger: int, lines: list[Heard], now: float) -> Step:
        """The lines that came during a slow call are in: ask again when some joined the turn, else speak."""
        if waiting is None or waiting[0] != trigger or waiting[1] != "answered":
            return Step([], waiting)
        job = waiting[2]
        if len(lines) > len(job.lines) and job.asks <= REASKS:
            said = self.voice.log(job.heard, "info", "turn_grew", f"{len(lines) - len(job.lines)} more line(s): "
                                                                  "asking again, the earlier answer is dropped")
            return self._call(job, lines, now, said)  # on the slot it holds
        return self._finish(job, job.result, now, *self._slot_back(job, job.result, now))

    def _slot_back(self, job: Job, result: Any, now: float) -> list[Effect]:
        """The operator's slot (none for the user's own key) freed in the store at once (our next turn may take
        it), and the Slots actor told how the call went."""
        if job.sealed_key:
            return []
        free = Call("lease", "release", (self.voice.user_id, job.slot_id), ("released", job.slot_id))
        return [free, Tell(Kind.SLOTS, Kind.SLOTS, self._release(job, job.slot_id, result, now))]

    def _release(self, job: Job, trigger: int, result: Any, now: float) -> SlotRelease:
        """The slot back, with how the call went: the adaptive limit learns from it, the line from the time held."""
        if isinstance(result, BaseException):
            outcome, latency_s = str(getattr(result, "kind", "error")), 0.0
        else:
            outcome, latency_s = "ok", float(getattr(result, "latency_ms", 0.0) or 0.0) / 1000
        held_s = now - job.slot_at if job.slot_at else 0.0
        return SlotRelease(self.voice.user_id, trigger, outcome, latency_s, str(job.request.get("model") or ""), held_s)

    def _finish(self, job: Job, result: Any, now: float, *before: Effect) -> Step:
        """Speak the answer (or the failure, in character, with a reference id) once, for every line of the turn;
        the turn is over. The answer follows (and, spoken as the bot, replies to) the turn's last line."""
        lines, cid, persona = job.lines, job.cid, job.persona
        last = lines[-1]
        ids = _ids(lines)
        text = getattr(result, "text", None)
        effects: list[Effect] = [*before, Save()]
        merged = f" to {len(ids)} lines" if len(ids) > 1 else ""
        after: list[Effect] = []  # once the answer is on its way
        if isinstance(text, str) and not ctx.looks_like_error(text):
            self._remember(job, lines, text, now)
            self.profile.remembered.exchanged(job.record["name"], job.conversation, self.profile.memory)
            if self.profile.memory:  # the exchange becomes a long-term memory
                who = ctx.author_label(last.incoming.author.display_name, last.incoming.author.username)
                said = [ctx.strip_mention(h.incoming.content, job.alias) for h in lines]
                remembered = memory.exchange(who, said, persona.display_name, text)
                after.append(Call("memory", "add", (self.voice.user_id, persona.name, cid,
                                                    last.incoming.place.kind == "dm", remembered, now),
                                  ("memory", "added")))
            effects += [
                Count("answered"),
                Observe("ai_latency_s", getattr(result, "latency_ms", 0.0) / 1000),
                self.voice.log(last, "info", "answered", f"{len(text)} characters from {persona.name}{merged}"
                               + (f" (messages {', '.join(map(str, ids))})" if merged else "")),
            ]
            effects.append(Push(RouteFact("conversation", cid, now + conversation_timeout(last.incoming.place.kind))))
        else:
            reference = self.ids()
            kind = ctx.error_kind(result) if not isinstance(text, str) else "empty"
            detail = f"ref {reference}: {kind} {type(result).__name__}{merged}"
            effects.append(self.voice.log(last, "warning", "ai_failed", detail))
            text = ctx.spoken_error(kind, reference)
            effects.append(Count("ai_error", (kind,)))
        trigger = last.incoming.message_id
        speak = Speak(cid, self.voice.user_id, persona, job.notes + text, trigger, job.heard.incoming.created_at,
                      ids if len(ids) > 1 else ())
        for mid in ids:
            self.answers[mid] = speak
            self.answers.move_to_end(mid)
        while len(self.answers) > ANSWERS_CAP:
            self.answers.popitem(last=False)
        effects += [Tell(Kind.CHANNEL, cid, speak), *(WorkAck(mid, SPOKEN_PATIENCE_S) for mid in ids), *after]
        return Step(effects, finished=ids)

    def _remember(self, job: Job, lines: tuple[Heard, ...], answer: str, now: float) -> None:
        key = job.conversation
        said = []
        for i, heard in enumerate(lines):
            turn = self._line(job, heard, i)
            content = turn["content"] if isinstance(turn["content"], str) else turn["content"][0]["text"]
            said.append({"role": "user", "content": content})
        turns = self.histories.pop(key, []) + [*said, {"role": "assistant", "content": answer}]
        self.histories[key] = ctx.trim_history(turns)
        while len(self.histories) > HISTORY_CAP:
            self.histories.popitem(last=False)
        self.conversations[job.cid] = (job.persona.name, now)


@dataclass(frozen=True)
class Job:
    """One turn in progress: its first line, where the answer goes, who speaks, and what the model was asked
    last (the lines it saw, when, how many times)."""

    heard: Heard  # the turn's first line: the head of the queue, whose id names the turn while it runs
    cid: int
    persona: Persona
    speaker: ctx.Speaker
    alias: str  # how the personality was addressed, to strip from each line
    addressed_as: str  # the name (or alias) the turn's first line addressed, lower-cased: later lines may too
    record: dict[str, Any]
    model: str
    sealed_key: str | None = None  # the user's own key, when the call uses it (decided once, at the start)
    slot_at: float = 0.0  # when it took an operator slot (0: none yet)
    lines: tuple[Heard, ...] = ()  # what the last call saw
    request: dict[str, Any] = field(default_factory=dict)
    asks: int = 0
    asked_at: float = 0.0
    result: Any = None  # the last call's answer, while the mailbox is let in
    recalled: tuple[Any, ...] | None = None  # the long-term memories found for this turn (None: not looked yet)
    shown: str = ""  # a streamed answer's text so far, as last handed to the channel
    transcripts: tuple[media.Transcript, ...] = ()  # the turn's voice messages, heard (or why not)
    notes: str = ""  # small print above the answer: what in the turn could not be used

    @property
    def trigger(self) -> int:
        return self.heard.incoming.message_id

    @property
    def conversation(self) -> str:
        """This channel's conversation with the personality: the key of its history ("channel:name")."""
        return f"{self.cid}:{self.record['name']}"

    @property
    def slot_id(self) -> int:
        return self.trigger  # the slot was asked for under the turn's first line

    def asked(self, lines: list[Heard] | tuple[Heard, ...], now: float, request: dict[str, Any] | None = None) -> Job:
        return replace(self, lines=tuple(lines), request=request if request is not None else self.request,
                       asks=self.asks + (request is not None), asked_at=now)


class ServiceDown(Exception):
    """The operator's breaker is open: answered at once instead of waiting for a timeout."""

    kind = "unavailable"


class KeyFailing(Exception):
    """The user's own key failed several times in a row: its breaker is open."""

    kind = "auth"


class Busy(Exception):
    """No slot on the operator's key came free in time."""

    kind = "rate_limited"


def _ids(lines: list[Heard] | tuple[Heard, ...]) -> tuple[int, ...]:
    return tuple(h.incoming.message_id for h in lines)


def _failed(result: Any) -> bool:
    return isinstance(result, BaseException) and getattr(result, "kind", "") not in ("bad_request", "empty")
