"""What one user's actor owns and decides: their settings, key, conversations, and the order of their messages.

A user's messages are answered one at a time and in order: a message that arrives while the previous one is
being answered waits in `inbox` (it is never dropped). Looking up a personality is a round trip to the
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
    IdSource,
    Log,
    Push,
    Reply,
    Save,
    Tell,
    Timer,
    Wake,
    WorkAck,
    WorkDone,
    counting_ids,
)
from actors.messages import (
    CommandFor,
    GetUserSettings,
    Heard,
    Notify,
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
from actors.state.answering import Answering
from actors.state.breaker import Breaker
from actors.state.commands import Command, CommandError, parse_command
from actors.state.limits import UserLimits
from actors.state.names import alias_problem, name_problem, normalize_alias
from actors.state.proxies import incoming_from, incoming_to
from actors.state.registry_records import default_prompt
from actors.state.user_commands import UserCommands

MAX_ALIASES = 50
INBOX_CAP = 20  # messages waiting while the previous one is answered
PERSONA_TTL_S = 30.0
PERSONA_WAIT_S = 30.0  # the catalogue is one actor: under a burst it answers late rather than never
HANDLED_CAP = 200
EXPECT_WAIT_S = 5.0  # after a restart, how long newer messages wait for an earlier one asked for again


@dataclass
class UserOptions:
    bot_name: str = "Tzurot"
    model: str = ""
    prefix: str = "!tz "
    bot_owner: int = 0
    max_tokens: int = 0  # the operator's AI_MAX_TOKENS (0: none sent)
    dm_verification: bool = False  # TZUROT_DM_REQUIRES_VERIFICATION: every DM needs `verify` first

    @classmethod
    def from_settings(cls, settings: Any) -> UserOptions:
        if settings is None:
            return cls()
        return cls(settings.bot_name, settings.ai_model, settings.command_prefix, settings.bot_owner_id,
                   settings.ai_max_tokens, bool(settings.dm_requires_verification))


@dataclass
class UserState(Answering, UserCommands):
    KIND = "user"
    SCHEMA = 2

    user_id: int
    options: UserOptions = field(default_factory=UserOptions)
    autorespond: bool = False
    verified: bool = False
    aliases: dict[str, str] = field(default_factory=dict)  # personal alias -> personality
    sealed_key: str | None = None  # the user's own AI key, encrypted by the shell; never in clear here
    conversations: dict[int, tuple[str, float]] = field(default_factory=dict)  # channel -> (personality, last)
    histories: OrderedDict[str, list[dict[str, str]]] = field(default_factory=OrderedDict)  # "chan:name" -> turns
    inbox: deque[Heard] = field(default_factory=deque)
    handled: deque[int] = field(default_factory=deque)  # message ids answered lately
    limits: UserLimits = field(default_factory=UserLimits)
    answers: OrderedDict[int, Speak] = field(default_factory=OrderedDict)  # recent answers, to say again
    # Not persisted: what is in progress right now.
    resets: dict[int, Heard] = field(default_factory=dict)  # `reset` commands waiting for the Registry
    waiting: tuple[int, str, Any] | None = None  # (trigger id, purpose, what to continue with)
    personas: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    expected: dict[int, float] = field(default_factory=dict)  # our earlier messages asked for again -> wait until
    ids: IdSource = field(default_factory=counting_ids, repr=False, compare=False)  # reference ids, from the shell

    # ---- persistence --------------------------------------------------------------------------
    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None,
                ids: IdSource | None = None) -> UserState:
        state = cls(int(key), UserOptions.from_settings(settings))
        if ids is not None:
            state.ids = ids
        if settings is not None:
            state.limits = UserLimits(
                settings.user_rate_per_min,
                settings.user_burst,
                settings.daily_quota,
                command_rate_per_min=settings.user_commands_per_min,
                command_burst=settings.user_command_burst,
                key_breaker=Breaker(settings.ai_breaker_failures, settings.ai_breaker_cooldown_s),
            )
        if data:
            state.limits.restore(data.get("limits"))
            state.autorespond = bool(data.get("autorespond", False))
            state.verified = bool(data.get("verified", False))
            state.aliases = {str(a): str(p) for a, p in dict(data.get("aliases", {})).items()}
            state.sealed_key = data.get("sealed_key")
            state.conversations = {int(c): (str(n), float(t)) for c, (n, t) in data.get("conversations", {}).items()}
            state.histories = OrderedDict((str(k), list(v)) for k, v in data.get("histories", []))
            state.inbox = deque(_heard_from(h) for h in data.get("inbox", []))
            state.handled = deque(int(m) for m in data.get("handled", []))
            for raw in data.get("answers", []):
                speak = Speak(**{**raw, "persona": Persona(**raw["persona"])})
                state.answers[speak.trigger_id] = speak
        return state

    def snapshot(self) -> dict[str, Any]:
        return {
            "autorespond": self.autorespond,
            "aliases": self.aliases,
            "verified": self.verified,
            "sealed_key": self.sealed_key,
            "conversations": {c: list(v) for c, v in self.conversations.items()},
            "histories": [[k, v] for k, v in self.histories.items()],
            "inbox": [_heard_to(h) for h in self.inbox],
            "handled": list(self.handled),
            "answers": [asdict(a) for a in self.answers.values()],
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
                return self.continue_command("reset", self.resets.pop(trigger), msg.record, now)
            case PersonaReply(trigger_id=trigger):
                return self._persona(msg, trigger, now)
            case Done(tag=("open_work",), result=rows):
                return self._open_work(rows, now)
            case Done(tag=tag, result=result):
                return self._done(tag, result, now)
            case Wake(payload=("expected",)):
                return self._next(now)
            case Wake(payload=("persona_timeout", trigger)):
                if self.waiting is not None and self.waiting[0] == trigger:
                    return self._persona(PersonaReply(trigger, "", None), trigger, now, timed_out=True)
                return []
            case SlotGranted() | Wake(payload=("slot_retry", _, _)):
                return self._slot(msg, now)
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
        return [self.notify(msg, f"Something went wrong on my side with that command (reference: `{reference}`). "
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
        parsed = parse_command(heard.incoming.content, self.options.prefix)
        if parsed is not None:
            if isinstance(parsed, CommandError) and parsed.sensitive and heard.incoming.place.kind != "dm":
                return self.auth(("key", ""), heard)  # it may hold a key: take it out of the channel, always
            allowed, tell = self.limits.take_command(now)
            if not allowed:
                said = self.log(heard, "info", "rate_limited", "commands")
                if not tell:
                    return [said, WorkDone(mid)]
                wait = max(1, round(self.limits.command_wait()))
                return [said, self.notify(heard, "You're sending commands faster than I can handle them. "
                                                 f"I skipped that one; try again in {wait} s.")]
            if isinstance(parsed, CommandError):
                return [self.notify(heard, parsed.message)]
            return self.command(parsed, heard, now)
        if any(h.incoming.message_id == mid for h in self.inbox):
            return [WorkAck(mid)]  # handed on again while it waits here: still ours, and in hand
        if mid in self.handled:
            # Handed on again because its answer never arrived: say the same answer again (the channel sends
            # each chunk once), or close its record if it needed none.
            answer = self.answers.get(mid)
            return [Tell("channel", answer.channel_id, answer)] if answer is not None else [WorkDone(mid)]
        if len(self.inbox) >= INBOX_CAP:
            skipped = self.log(heard, "info", "inbox_full", f"{len(self.inbox)} waiting")
            if self.limits.notice_due("inbox_full", now):
                return [skipped, self.notify(heard, "You have many messages waiting for an answer; I skipped this "
                                                    "one (and will skip more until I catch up).")]
            return [skipped, WorkDone(mid)]
        # In the order they were sent (ids grow with time), whatever order they arrived in; never ahead of the
        # message being answered now.
        first = 1 if self.waiting is not None else 0
        at = next((i for i in range(first, len(self.inbox)) if self.inbox[i].incoming.message_id > mid), None)
        self.inbox.insert(len(self.inbox) if at is None else at, heard)
        if self.waiting is None:
            return [Save(), WorkAck(mid), *self._next(now)]
        return [Save(), WorkAck(mid), self.log(heard, "info", "queued", f"behind {len(self.inbox) - 1} earlier "
                                                                        "message(s)")]

    def _open_work(self, rows: Any, now: float) -> list[Effect]:
        """After a start: messages of ours still open in the work table that we do not hold (lost with a killed
        process) are asked for again at once, and nothing newer is answered before them (or before a short wait
        for them runs out), so a user's messages are answered in the order sent, across restarts too."""
        effects: list[Effect] = []
        held = {h.incoming.message_id for h in self.inbox} | set(self.handled)
        for row in rows if isinstance(rows, list) else []:
            try:
                incoming = incoming_from(row)
            except (TypeError, KeyError, ValueError):
                continue
            if incoming.message_id in held or incoming.author.id != self.user_id:
                continue
            self.expected[incoming.message_id] = now + EXPECT_WAIT_S
            effects.append(Tell("channel", incoming.place.channel_id, incoming))
        if self.expected:
            effects.append(Timer(EXPECT_WAIT_S, ("expected",)))
        return effects + self._next(now)

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
            conv = self.conversations.get(heard.incoming.place.channel_id)
            target = addressed(heard, self.aliases, conv, self.autorespond, self.options.bot_name, now)
            if target is not None:
                said = self.log(heard, "info", "addressed", f"to {target.name} ({target.how})")
                why, tell = self.limits.take(now)
                if why is None:
                    return effects + [Count("addressed", (target.how,)), said, *self._resolve(heard, target, now)]
                self._done_with(self.inbox.popleft())
                effects += [Save(), said, self.log(heard, "info", "rate_limited", why)]
                if tell:
                    effects += [Count("rate_limit_notice"), self.notify(heard, self.limit_notice(why))]
                else:
                    effects.append(WorkDone(heard.incoming.message_id))
                continue
            self._done_with(self.inbox.popleft())
            effects.append(Save())
            if heard.incoming.place.kind == "dm":
                effects.append(self.notify(heard, self.dm_hint()))
            else:
                effects.append(WorkDone(heard.incoming.message_id))  # nobody addressed: nothing to answer
        return effects

    def _done_with(self, heard: Heard) -> None:
        """Remember a message as handled, so a redelivery of it is not answered twice."""
        self.handled.append(heard.incoming.message_id)
        while len(self.handled) > HANDLED_CAP:
            self.handled.popleft()

    def _resolve(self, heard: Heard, target: Target, now: float) -> list[Effect]:
        cached = self.personas.get(target.name.lower())
        if cached is not None and now - cached[1] < PERSONA_TTL_S:
            return self._answer(heard, target, cached[0], now)
        trigger = heard.incoming.message_id
        self.waiting = (trigger, "answer", target)
        return [
            Tell("registry", "registry", PersonaRequest(target.name, self.user_id, trigger)),
            Timer(PERSONA_WAIT_S, ("persona_timeout", trigger)),
        ]

    def _persona(self, reply: PersonaReply, trigger: int, now: float, timed_out: bool = False) -> list[Effect]:
        if self.waiting is None or self.waiting[0] != trigger:
            return []  # a late reply to a question we stopped waiting for
        _, purpose, target = self.waiting
        self.waiting = None
        record = reply.record
        if record is None and isinstance(target, Target) and target.how == "bot":
            record = self.builtin_persona()
        if record is not None:
            self.personas[target.name.lower() if isinstance(target, Target) else reply.name.lower()] = (record, now)
        heard = self.inbox[0]
        if record is None:
            self._done_with(self.inbox.popleft())
            why = "took too long to answer" if timed_out else f"doesn't know `{target.name}`"
            return [
                Save(),
                self.notify(heard, f"I couldn't reach that personality (the catalogue {why})."),
                *self._next(now),
            ]
        return self._answer(heard, target, record, now)

    def limit_notice(self, why: str) -> str:
        if why == "quota":
            return f"You've used today's {self.limits.daily_quota} answers; they come back at midnight UTC."
        wait = self.limits.seconds_to_token()
        return (
            f"You're sending messages faster than I can answer ({self.limits.rate_per_min:g} a minute). "
            f"I skipped that one; try again in {max(1, round(wait))} s."
        )

    def builtin_persona(self) -> dict[str, Any]:
        """The bot's own voice, for mentions of the bot itself when no personality carries its name."""
        name = self.options.bot_name
        return {
            "name": name.lower(),
            "display_name": name,
            "prompt": default_prompt(name),
            "model": "",
            "avatar_url": "",
            "vision": False,
            "context_line": False,
            "public": True,
            "owner_id": 0,
        }

    def dm_hint(self) -> str:
        p = self.options.prefix
        return (
            f"Tag a personality with `@name`, or reply to one of its messages, to talk to it here. "
            f"`{p}list` shows yours, `{p}add <name>` creates one, `{p}help` explains the rest."
        )

    def log(self, heard: Heard, level: str, event: str, detail: str) -> Log:
        """A line about one message: its user, channel and id let `bot.py logs` tell its whole story."""
        msg = heard.incoming
        return Log(level, event, detail, self.user_id, msg.place.channel_id, msg.message_id)

    def notify(self, heard: Heard, text: str) -> Tell:
        cid = heard.incoming.place.channel_id
        return Tell("channel", cid, Notify(cid, self.user_id, text, heard.incoming.message_id))

    def forward(self, heard: Heard, command: Command, to: str, key: int | str, attachment: str = "") -> Tell:
        return Tell(to, key, CommandFor(command, self.origin(heard), attachment, heard.incoming.attachment_error))


def _heard_to(heard: Heard) -> dict[str, Any]:
    return {
        "incoming": incoming_to(heard.incoming),
        "activated": heard.activated,
        "replied_personality": heard.replied_personality,
    }


def _heard_from(data: dict[str, Any]) -> Heard:
    return Heard(incoming_from(data["incoming"]), data.get("activated"), data.get("replied_personality"))
