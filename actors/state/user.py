"""What one user's actor owns and decides: their settings, key, conversations, and the order of their messages.

A user's messages are answered in turns, one turn at a time and in order: a message that arrives while a turn
is in progress waits in `inbox` (it is never dropped). A turn is the run of messages at the head of the inbox
that address the same personality in the same channel (turns.py), within a bound of lines and characters: lines
that arrive while their turn waits (for the catalogue, a slot, or a slow model: see answering.py) join it and are
answered once, together. The rate limit is taken once a turn. Looking up a personality is a round trip to the
Registry, so the state machine waits for `PersonaReply` before it calls the model.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from typing import Any

from actors.effects import (
    Call,
    Count,
    Done,
    Effect,
    Push,
    Reply,
    Save,
    Tell,
    Timer,
    Wake,
    WorkAck,
    WorkDone,
)
from actors.kinds import Kind
from actors.messages import (
    GetUserSettings,
    Heard,
    OwnedReply,
    Persona,
    PersonaReply,
    PersonaRequest,
    Refused,
    RemoveAlias,
    RouteFact,
    SetAlias,
    SetAutorespond,
    SlotGranted,
    Speak,
    UserSettings,
)
from actors.state.addressing import Target, addressed
from actors.state.answering import Answering, Step, Waiting
from actors.state.command_help import dm_hint
from actors.state.commands import CommandError, parse_command
from actors.state.data_rights import DataRights, remember_place
from actors.state.ids import IdSource, counting_ids
from actors.state.limits import UserLimits
from actors.state.memory import MemoryCommands, Remembered
from actors.state.names import alias_problem, name_problem, normalize_alias
from actors.state.proxies import heard_from, heard_to
from actors.state.recovery import asked_again, say_again
from actors.state.registry_records import builtin_persona
from actors.state.turns import turn_of
from actors.state.user_commands import Profile, UserCommands
from actors.state.voice import UserOptions, Voice

MAX_ALIASES = 50
INBOX_CAP = 20  # messages waiting while the previous one is answered
PERSONA_TTL_S = 30.0
PERSONA_WAIT_S = 30.0  # the catalogue is one actor: under a burst it answers late rather than never
HANDLED_CAP = 200


def _in_profile(name: str) -> Any:
    """`state.<name>` is `state.profile.<name>`: what the user set has one home, the profile."""
    return property(lambda self: getattr(self.profile, name), lambda self, value: setattr(self.profile, name, value))


@dataclass(slots=True)
class UserState:
    """The record of one user, the queue of their messages, and the parts that decide the rest: `commands`
    (user_commands.py) and `answering` (answering.py), each made over this record's own fields when used."""

    KIND = Kind.USER
    SCHEMA = 2

    user_id: int
    options: UserOptions = field(default_factory=UserOptions)
    profile: Profile = field(default_factory=Profile)  # autorespond, verified, sealed_key, aliases
    conversations: dict[int, tuple[str, float]] = field(default_factory=dict)  # channel -> (personality, last)
    histories: OrderedDict[str, list[dict[str, str]]] = field(default_factory=OrderedDict)  # "chan:name" -> turns
    inbox: deque[Heard] = field(default_factory=deque)
    handled: deque[int] = field(default_factory=deque)  # message ids answered lately
    limits: UserLimits = field(default_factory=UserLimits)
    answers: OrderedDict[int, Speak] = field(default_factory=OrderedDict)  # recent answers, to say again
    places: OrderedDict[int, float] = field(default_factory=OrderedDict)  # channels that heard us (data delete)
    # Not persisted: what is in progress right now.
    resets: dict[int, Heard] = field(default_factory=dict)  # `reset` commands waiting for the Registry
    waiting: Waiting | None = None  # (trigger id, purpose, what to continue with)
    personas: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    expected: dict[int, float] = field(default_factory=dict)  # our earlier messages asked for again -> wait until
    delete_asked: float = 0.0  # when `data delete` asked for its confirmation
    exports: dict[int, Heard] = field(default_factory=dict)  # `data export`s waiting for the catalogue
    ids: IdSource = field(default_factory=counting_ids, repr=False, compare=False)  # reference ids, from the shell

    autorespond = _in_profile("autorespond")
    verified = _in_profile("verified")
    sealed_key = _in_profile("sealed_key")
    aliases = _in_profile("aliases")

    # ---- the parts ----------------------------------------------------------------------------
    @property
    def voice(self) -> Voice:
        return Voice(self.user_id, self.options)

    @property
    def commands(self) -> UserCommands:
        return UserCommands(self.voice, self.profile, self.histories, self.resets)

    @property
    def answering(self) -> Answering:
        return Answering(self.voice, self.profile, self.limits, self.histories, self.conversations, self.answers,
                         self.ids)

    # ---- persistence --------------------------------------------------------------------------
    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None,
                ids: IdSource | None = None) -> UserState:
        state = cls(int(key), UserOptions.from_settings(settings))
        if ids is not None:
            state.ids = ids
        if settings is not None:
            state.limits = UserLimits.from_settings(settings)
        if data:
            state.limits.restore(data.get("limits"))
            state.autorespond = bool(data.get("autorespond", False))
            state.verified = bool(data.get("verified", False))
            state.aliases = {str(a): str(p) for a, p in dict(data.get("aliases", {})).items()}
            state.sealed_key = data.get("sealed_key")
            state.profile.memory = bool(data.get("memory", True))
            state.profile.personas = {str(k): str(v) for k, v in dict(data.get("personas", {})).items()}
            state.profile.remembered = Remembered.restore(data.get("remembered"))
            state.conversations = {int(c): (str(n), float(t)) for c, (n, t) in data.get("conversations", {}).items()}
            state.histories = OrderedDict((str(k), list(v)) for k, v in data.get("histories", []))
            state.inbox = deque(heard_from(h) for h in data.get("inbox", []))
            state.handled = deque(int(m) for m in data.get("handled", []))
            state.places = OrderedDict((int(c), float(t)) for c, t in data.get("places", []))
            for raw in data.get("answers", []):
                speak = Speak(**{**raw, "persona": Persona(**raw["persona"]),
                                 "answers": tuple(int(m) for m in raw.get("answers", ()))})
                for mid in speak.answered:
                    state.answers[mid] = speak
        return state

    def snapshot(self) -> dict[str, Any]:
        return {
            "autorespond": self.autorespond,
            "aliases": self.aliases,
            "verified": self.verified,
            "sealed_key": self.sealed_key,
            "memory": self.profile.memory,
            "personas": self.profile.personas,
            "remembered": self.profile.remembered.snapshot(),
            "conversations": {c: list(v) for c, v in self.conversations.items()},
            "histories": [[k, v] for k, v in self.histories.items()],
            "inbox": [heard_to(h) for h in self.inbox],
            "handled": list(self.handled),
            "places": [[c, t] for c, t in self.places.items()],
            # a merged answer once, though it answers several messages
            "answers": [asdict(a) for a in {a.trigger_id: a for a in self.answers.values()}.values()],
            "limits": self.limits.snapshot(),
        }

    def on_start(self, now: float) -> list[Effect]:
        """After a (re)start: look for our messages still open in the work table, then pick up what was waiting."""
        return [Call("work", "open_for_user", (self.user_id,), ("open_work",))]

    def depth(self) -> int:
        """Messages waiting for an answer."""
        return len(self.inbox)

    def view(self) -> UserSettings:
        return UserSettings(self.user_id, self.autorespond, tuple(sorted(self.aliases.items())))

    # ---- decisions ----------------------------------------------------------------------------
    def handle(self, msg: Any, now: float) -> list[Effect]:
        match msg:
            case Heard():
                return self._heard(msg, now)
            case PersonaReply(trigger_id=trigger) if trigger in self.resets:
                return self.commands.reset_found(self.resets.pop(trigger), msg.record)
            case PersonaReply(trigger_id=trigger):
                return self._persona(msg, trigger, now)
            case Done(tag=("open_work",), result=rows):
                return self._open_work(rows, now)
            case Done(tag=("seal", *_) as tag, result=result):
                return self.commands.sealed(tag, result)
            case Done(tag=("memory", *_) as tag, result=result):
                return MemoryCommands(self.voice, self.profile).done(tag, result)
            case Done(tag=("data", *_) as tag, result=result):
                return DataRights(self).done(tag, result)
            case OwnedReply():
                return DataRights(self).owned(msg, now)
            case Done(tag=tag, result=result):
                return self._apply(self.answering.done(self.waiting, tag, result, self._turn(now), now), now)
            case Wake(payload=("stream", trigger)):
                return self._apply(self.answering.streaming(self.waiting, trigger), now)
            case Wake(payload=("turn_ready", trigger)):
                return self._apply(self.answering.ready(self.waiting, trigger, self._turn(now), now), now)
            case Wake(payload=("expected",)):
                return self._next(now)
            case Wake(payload=("persona_timeout", trigger)):
                return self._persona(PersonaReply(trigger, "", None), trigger, now, timed_out=True)
            case SlotGranted() | Wake(payload=("slot_retry", _, _)):
                return self._apply(self.answering.slot(self.waiting, msg, self._turn(now), now), now)
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
                effects = self._change(aliases={**self.aliases, alias: personality})
                # The edge learns the alias too, so `@alias` wakes this actor instead of being dropped as chatter.
                return [*effects, Push(RouteFact("personal", alias, True))] if len(effects) > 1 else effects
            case RemoveAlias(alias=raw):
                alias = normalize_alias(raw)
                if alias not in self.aliases:
                    return [Reply(Refused(f"You have no alias {alias!r}."))]
                return self._change(aliases={a: p for a, p in self.aliases.items() if a != alias})
        return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]

    def failed(self, msg: Any, reference: str, now: float) -> list[Effect]:
        """The shell could not handle `msg` (it tried twice). A command's author is told at once; a conversation
        message needs no word now: it is still open in the work table, so it is handed on again and answered."""
        if not isinstance(msg, Heard) or parse_command(msg.incoming.content, self.options.prefix) is None:
            return []
        return [self.voice.notify(msg, f"Something went wrong on my side with that command (reference: `{reference}`). "
                                 "Please try again in a moment.")]

    def _change(self, **fields: Any) -> list[Effect]:
        """Apply a change (idempotent: setting what is already set saves nothing) and answer with the result."""
        if all(getattr(self, k) == v for k, v in fields.items()):
            return [Reply(self.view())]
        for k, v in fields.items():
            setattr(self, k, v)
        return [Save(), Reply(self.view())]

    # ---- the conversation path ----------------------------------------------------------------
    def _heard(self, heard: Heard, now: float) -> list[Effect]:
        mid = heard.incoming.message_id
        self.expected.pop(mid, None)
        remember_place(self.places, heard.incoming.place.channel_id, now)
        parsed = parse_command(heard.incoming.content, self.options.prefix)
        if parsed is not None:
            posted = heard.incoming.interaction is None  # a slash command's text was never a message anyone saw
            if isinstance(parsed, CommandError) and parsed.sensitive and heard.incoming.place.kind != "dm" and posted:
                return self.commands.auth(("key", ""), heard)  # it may hold a key: take it out of the channel, always
            allowed, tell = self.limits.take_command(now)
            if not allowed:
                said = self.voice.log(heard, "info", "rate_limited", "commands")
                if not tell:
                    return [said, WorkDone(mid)]
                wait = max(1, round(self.limits.command_wait()))
                return [said, self.voice.notify(heard, "You're sending commands faster than I can handle them. "
                                                 f"I skipped that one; try again in {wait} s.")]
            if isinstance(parsed, CommandError):
                return [self.voice.notify(heard, parsed.message)]
            if parsed.name == "data":  # over the whole record: data rights
                return DataRights(self).command(parsed.args, heard, now)
            return self.commands.command(parsed, heard, now)
        if any(h.incoming.message_id == mid for h in self.inbox):
            return [WorkAck(mid)]  # handed on again while it waits here: still ours, and in hand
        if mid in self.handled:
            return say_again(self.answers, mid)
        if len(self.inbox) >= INBOX_CAP:
            skipped = self.voice.log(heard, "info", "inbox_full", f"{len(self.inbox)} waiting")
            if self.limits.notice_due("inbox_full", now):
                return [skipped, self.voice.notify(heard, "You have many messages waiting for an answer; I skipped "
                                                          "this one (and will skip more until I catch up).")]
            return [skipped, WorkDone(mid)]
        # In the order they were sent (ids grow with time), whatever order they arrived in; never ahead of the
        # message being answered now.
        first = 1 if self.waiting is not None else 0
        at = next((i for i in range(first, len(self.inbox)) if self.inbox[i].incoming.message_id > mid), None)
        self.inbox.insert(len(self.inbox) if at is None else at, heard)
        if self.waiting is None:
            return [Save(), WorkAck(mid), *self._next(now)]
        if any(h.incoming.message_id == mid for h in self._turn(now)):
            where = f"joins the turn of {self.waiting[0]}"
        else:
            where = f"behind {len(self.inbox) - 1} earlier message(s)"
        return [Save(), WorkAck(mid), self.voice.log(heard, "info", "queued", where)]

    def _open_work(self, rows: Any, now: float) -> list[Effect]:
        held = {h.incoming.message_id for h in self.inbox}
        return asked_again(self.user_id, rows, held, self.handled, self.answers, self.expected, now) + self._next(now)

    def _missing_before(self, mid: int, now: float) -> bool:
        """Is an earlier message of ours, asked for again, still on its way?"""
        self.expected = {m: until for m, until in self.expected.items() if until > now}
        return any(m < mid for m in self.expected)

    def _next(self, now: float) -> list[Effect]:
        """Start on the oldest waiting message, if nothing is in progress; skip (or hint at) unaddressed ones."""
        effects: list[Effect] = []
        while self.waiting is None and self.inbox:
            heard = self.inbox[0]
            if self._missing_before(heard.incoming.message_id, now):
                break  # an earlier message comes first: its arrival (or the wait's end) starts us again
            target = self._addressed(heard, now)
            if target is not None:
                said = self.voice.log(heard, "info", "addressed", f"to {target.name} ({target.how})")
                why, tell = self.limits.take(now)
                if why is None:
                    return effects + [Count("addressed", (target.how,)), said, *self._resolve(heard, target, now)]
                self._done_with(self.inbox.popleft())
                effects += [Save(), said, self.voice.log(heard, "info", "rate_limited", why)]
                if tell:
                    effects += [Count("rate_limit_notice"), self.voice.notify(heard, self.limits.notice(why))]
                else:
                    effects.append(WorkDone(heard.incoming.message_id))
                continue
            self._done_with(self.inbox.popleft())
            effects.append(Save())
            if heard.incoming.place.kind == "dm":
                effects.append(self.voice.notify(heard, dm_hint(self.options.prefix)))
            else:
                effects.append(WorkDone(heard.incoming.message_id))  # nobody addressed: nothing to answer
        return effects

    def _turn(self, now: float, target: Target | None = None, record: dict[str, Any] | None = None) -> list[Heard]:
        """The lines of the turn in progress (or about to begin, as `target`/`record`): see turns.py."""
        names: set[str] = set()
        if target is None and self.waiting is not None:
            target = self.waiting[2] if isinstance(self.waiting[2], Target) else None
            job = self.waiting[2] if target is None else None
            if job is not None:
                names, record = {job.addressed_as}, job.record
        if target is not None:
            names.add(target.name.lower())
        if record is not None:
            names.add(str(record["name"]).lower())
        return turn_of(self.inbox, names, self.expected, lambda heard: self._addressed(heard, now), now)

    def _addressed(self, heard: Heard, now: float) -> Target | None:
        conv = self.conversations.get(heard.incoming.place.channel_id)
        return addressed(heard, self.aliases, conv, self.autorespond, self.options.bot_name, now)

    def _apply(self, step: Step, now: float) -> list[Effect]:
        """Take answering's step: wait for what it waits for, or set the message aside and go on to the next."""
        self.waiting = step.waiting
        if not step.finished:
            return step.effects
        finished = set(step.finished)
        for heard in [h for h in self.inbox if h.incoming.message_id in finished]:
            self.inbox.remove(heard)
            self._done_with(heard)
        return step.effects + self._next(now)

    def _done_with(self, heard: Heard) -> None:
        """Remember a message as handled, so a redelivery of it is not answered twice."""
        self.handled.append(heard.incoming.message_id)
        while len(self.handled) > HANDLED_CAP:
            self.handled.popleft()

    def _resolve(self, heard: Heard, target: Target, now: float) -> list[Effect]:
        cached = self.personas.get(target.name.lower())
        if cached is not None and now - cached[1] < PERSONA_TTL_S:
            return self._apply(self.answering.begin(self._turn(now, target, cached[0]), target, cached[0], now), now)
        trigger = heard.incoming.message_id
        self.waiting = (trigger, "answer", target)
        return [
            Tell(Kind.REGISTRY, Kind.REGISTRY, PersonaRequest(target.name, self.user_id, trigger)),
            Timer(PERSONA_WAIT_S, ("persona_timeout", trigger)),
        ]

    def _persona(self, reply: PersonaReply, trigger: int, now: float, timed_out: bool = False) -> list[Effect]:
        if self.waiting is None or self.waiting[0] != trigger or not isinstance(self.waiting[2], Target):
            return []  # a late reply (or timer) for a question no longer asked: the turn may be answering already
        _, purpose, target = self.waiting
        self.waiting = None
        record = reply.record
        if record is None and isinstance(target, Target) and target.how == "bot":
            record = builtin_persona(self.options.bot_name)
        if record is not None:
            self.personas[target.name.lower() if isinstance(target, Target) else reply.name.lower()] = (record, now)
        heard = self.inbox[0]
        if record is None:
            self._done_with(self.inbox.popleft())
            why = "took too long to answer" if timed_out else f"doesn't know `{target.name}`"
            return [
                Save(),
                self.voice.notify(heard, f"I couldn't reach that personality (the catalogue {why})."),
                *self._next(now),
            ]
        return self._apply(self.answering.begin(self._turn(now, target, record), target, record, now), now)
