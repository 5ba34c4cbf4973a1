"""What one channel's actor owns and decides: activation, webhook pool, fair outbox, and the reply map.

It speaks through a pool of its own webhooks (reused before any is created, never pushing the channel past
Discord's 15), one chunk at a time and in turns between users. Every Discord call is a `Call` effect whose
result comes back as `Done`, so each rule (429 -> timer, deleted webhook -> replace and retry once, no
Manage Webhooks -> speak as the bot with one notice) is decided here, without I/O.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from typing import Any

from actors.effects import (
    Call,
    Count,
    Done,
    Effect,
    Log,
    Push,
    Reply,
    Save,
    Tell,
    Timer,
    Wake,
    WorkDone,
)
from actors.kinds import Kind
from actors.messages import (
    ActivatePersonality,
    Author,
    ChannelInfo,
    CommandFor,
    DeactivateChannel,
    DeleteMessage,
    ForgetUser,
    GetChannelInfo,
    Heard,
    Incoming,
    Interaction,
    LookupReply,
    Notify,
    Origin,
    Pump,
    RecordSent,
    Refused,
    ReplyTarget,
    RouteFact,
    Speak,
    SpeakPart,
    TypingFor,
    WebhooksChanged,
)
from actors.results import Fail, Ok, Wait
from actors.state import stream_sending
from actors.state.channel_window import ChannelWindow
from actors.state.discord_text import LIMIT, split_message
from actors.state.names import name_problem
from actors.state.outbox import Chunk, ReplyMap
from actors.state.proxies import incoming_from, incoming_to, proxy_match
from actors.state.sending import SEND_ATTEMPTS, ChannelOptions, WebhookSender

TYPING_REFRESH_S = 8.0  # Discord shows typing for 10 s
PURGE_MAX = 20  # messages one purgbot deletes
PROXY_MEMORY_S = 24 * 3600  # after a proxy spoke here, hold human messages briefly for this long
PROXY_GRACE_S = 2.5  # how long a human message waits for its proxy
PROXY_WINDOW_S = 5.0  # a proxy message matches an original at most this old
HELD_CAP = 50
INTERACTIONS_CAP = 50  # slash commands whose answer this channel may still owe (a token lives 15 minutes)
OUTBOX_BACKLOG = 50  # chunks waiting: crossing this logs one WARNING `outbox_backlog` (again only after draining)


def _in_sender(name: str) -> Any:
    """`state.<name>` is `state.sender.<name>`: the outbox and the send in progress have one home, the sender."""
    return property(lambda self: getattr(self.sender, name), lambda self, value: setattr(self.sender, name, value))


@dataclass(slots=True)
class ChannelState:
    """The record of one channel (activation, reply map, proxies, typing) and the part that sends for it,
    `sender` (sending.py: the webhook pool and the outbox), which it holds and shares its reply map with."""

    KIND = Kind.CHANNEL
    SCHEMA = 1

    channel_id: int
    options: ChannelOptions = field(default_factory=ChannelOptions)
    activated: str | None = None
    activated_by: int | None = None
    sent: ReplyMap = field(default_factory=ReplyMap)  # message id -> personality
    proxy_seen_at: float = 0.0  # when a PluralKit/Tupperbox proxy last spoke here
    held: OrderedDict[int, Incoming] = field(default_factory=OrderedDict)  # waiting to see if a proxy replaces it
    # Slash commands here, by interaction id: their answers go to the interaction, not to the channel.
    interactions: OrderedDict[int, Interaction] = field(default_factory=OrderedDict)
    sender: WebhookSender = field(init=False)
    window: ChannelWindow = field(init=False)  # the recent conversation here (channel_window.py)
    # Not persisted: what is in progress right now.
    recent: deque[Incoming] = field(default_factory=deque)  # recently handed on, to recognise a late proxy
    typing: dict[int, float] = field(default_factory=dict)  # trigger id -> show typing until
    typing_timer: bool = False  # a typing refresh timer is pending
    backlogged: bool = False  # the outbox is at or over OUTBOX_BACKLOG (warned once for this crossing)

    outbox = _in_sender("outbox")
    sending = _in_sender("sending")

    def __post_init__(self) -> None:
        self.sender = WebhookSender(self.channel_id, self.options, self.sent)
        self.window = ChannelWindow(self.options.prefix)

    # ---- persistence --------------------------------------------------------------------------
    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None) -> ChannelState:
        state = cls(int(key), ChannelOptions.from_settings(settings))
        if data:
            state.activated = data.get("activated")
            state.activated_by = data.get("activated_by")
            state.sent.update((int(m), str(p)) for m, p in data.get("sent", []))  # the sender's too
            state.proxy_seen_at = float(data.get("proxy_seen_at", 0.0))
            state.held = OrderedDict((int(m), incoming_from(i)) for m, i in data.get("held", []))
            state.interactions = OrderedDict((int(m), Interaction(int(a), str(t), bool(e)))
                                             for m, a, t, e in data.get("interactions", []))
            state.sender.restore(data)
            state.window.restore(data.get("window"))
        return state

    def snapshot(self) -> dict[str, Any]:
        out = self.sender
        return {
            "place": out.place.__dict__ if out.place else None,
            "activated": self.activated,
            "activated_by": self.activated_by,
            "sent": [[m, p] for m, p in self.sent.items()],
            "hooks": [list(h) for h in out.hooks],
            "others": out.others,
            "no_webhooks": out.no_webhooks,
            "notice_at": out.notice_at,
            "outbox": out.outbox.snapshot(),
            "proxy_seen_at": self.proxy_seen_at,
            "sending": out.sending,
            "held": [[m, incoming_to(i)] for m, i in self.held.items()],
            "interactions": [[m, i.application_id, i.token, i.ephemeral] for m, i in self.interactions.items()],
            "streams": out.streams.snapshot(),
            "window": self.window.snapshot(),
        }

    def on_start(self, now: float) -> list[Effect]:
        """After a restart: facts for the edge, and the unfinished outbox resumes."""
        facts: list[Effect] = [Push(RouteFact("webhook", hook_id, True)) for hook_id, _ in self.sender.hooks]
        facts += [Timer(PROXY_GRACE_S, ("release", mid)) for mid in self.held]
        if self.activated:
            facts.append(Push(RouteFact("activated", self.channel_id, self.activated)))
        return facts + self.sender.resume(now)

    def depth(self) -> int:
        """Chunks waiting to be sent: what an operator watches for a backlog."""
        return len(self.sender.outbox)

    def view(self) -> ChannelInfo:
        return ChannelInfo(self.channel_id, self.activated, self.activated_by, len(self.sent))

    # ---- decisions ----------------------------------------------------------------------------
    def handle(self, msg: Any, now: float) -> list[Effect]:
        effects = self._handle(msg, now)
        return effects + self._backlog()

    def _typing(self) -> Call:
        return Call("discord", "typing", (self.channel_id,), ("typing",))

    def _backlog(self) -> list[Effect]:
        """One WARNING when the outbox crosses OUTBOX_BACKLOG; re-armed once it drains below it."""
        depth = len(self.sender.outbox)
        if depth < OUTBOX_BACKLOG:
            self.backlogged = False
            return []
        if self.backlogged:
            return []
        self.backlogged = True
        detail = f"{depth} chunks waiting (threshold {OUTBOX_BACKLOG}) for {len(self.sender.outbox.queues)} user(s)"
        return [Log("warning", "outbox_backlog", detail, channel=self.channel_id)]

    def _handle(self, msg: Any, now: float) -> list[Effect]:
        match msg:
            case Incoming(place=place):
                self.sender.place = place
                return self._incoming(msg, now)
            case Wake(payload=("release", mid)):
                held = self.held.pop(mid, None)
                return [Save(), self._hand_to_user(held, now)] if held is not None else []
            case Speak():
                return self._speak(msg, now)
            case SpeakPart():
                self.typing.pop(msg.trigger_id, None)
                return stream_sending.part(self.sender, msg, now)
            case Wake(payload="stream"):
                self.sender.stream_timer = False
                return self.sender.pump(now)
            case Notify():
                return self._notify(msg, now)
            case CommandFor(command=command, origin=origin):
                return self._command(command.name, command.args, origin, now)
            case DeleteMessage():
                return [Call("discord", "delete_message", (self.channel_id, msg.message_id), ("delete", msg, 1))]
            case Wake(payload=("delete", DeleteMessage() as delete, attempt)):
                return [Call("discord", "delete_message", (self.channel_id, delete.message_id),
                             ("delete", delete, attempt + 1))]
            case TypingFor(trigger_id=trigger, seconds=seconds):
                self.typing[trigger] = now + seconds
                chain = [] if self.typing_timer else [Timer(TYPING_REFRESH_S, "typing")]
                self.typing_timer = True  # one refresh chain, however many triggers come and go
                return [self._typing(), *chain]
            case Wake(payload=("notice", int(attempt))):
                return [self.sender.notice_call(attempt + 1)]
            case Pump() | Wake(payload="pump"):
                self.sender.busy = False
                return self.sender.pump(now)
            case Wake(payload="typing"):
                self.typing = {t: until for t, until in self.typing.items() if until > now}
                self.typing_timer = bool(self.typing)
                return [self._typing(), Timer(TYPING_REFRESH_S, "typing")] if self.typing else []
            case Done(tag=tag, result=result):
                return self._done(tag, result, now)
            case ForgetUser(user_id=user):  # `data delete`: their words leave the recent conversation
                return [Save()] if self.window.forget_user(user) else []
            case WebhooksChanged():
                self.sender.hooks_known = False  # listed again before the next send
                return []
            case GetChannelInfo():
                return [Reply(self.view())]
            case ActivatePersonality(personality=name, by_user=user):
                if problem := name_problem(name):
                    return [Reply(Refused(problem))]
                if self.activated == name:
                    return [Reply(self.view())]
                self.activated, self.activated_by = name, user
                return [Save(), Push(RouteFact("activated", self.channel_id, name)), Reply(self.view())]
            case DeactivateChannel():
                if self.activated is None:
                    return [Reply(self.view())]
                self.activated = self.activated_by = None
                return [Save(), Push(RouteFact("activated", self.channel_id, None)), Reply(self.view())]
            case RecordSent(message_id=mid, personality=name):
                return [Save()] if self.sent.remember(mid, name) else []
            case LookupReply(message_id=mid):
                return [Reply(ReplyTarget(self.channel_id, mid, self.sent.get(mid)))]
        return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]

    # ---- proxies (PluralKit, Tupperbox) ---------------------------------------------------------
    def _incoming(self, msg: Incoming, now: float) -> list[Effect]:
        """Answer a proxied message once, as its real author: never both the original and its proxy. A slash
        command is no proxy's and none replaces it: it goes on at once, and its interaction is remembered."""
        if msg.interaction is not None:
            self.interactions[msg.message_id] = msg.interaction
            while len(self.interactions) > INTERACTIONS_CAP:
                self.interactions.popitem(last=False)
            return [Save(), self._hand_to_user(msg, now)]
        if msg.proxy:
            self.proxy_seen_at = now
            original = proxy_match(msg, self.held, self.recent, now)
            if original is None:
                return [Save(), Log("info", "proxy_unmatched", f"message {msg.message_id}"), WorkDone(msg.message_id)]
            if self.held.pop(original.message_id, None) is None:
                return [Save(), WorkDone(msg.message_id)]  # the original was already answered
            # A webhook post cannot be a Discord reply: what the original replied to travels with the proxy.
            real = replace(
                msg, author=Author(original.author.id, original.author.username, msg.author.username), proxy=False
            )
            if real.reply_to is None and original.reply_to is not None:
                real = replace(
                    real,
                    reply_to=original.reply_to,
                    reply_to_webhook=original.reply_to_webhook,
                    reply_content=original.reply_content,
                    reply_author=original.reply_author,
                )
            # The original is closed here: the edge must not hand it on again, to be answered a second time.
            return [Save(), WorkDone(original.message_id), self._hand_to_user(real, now)]
        if now - self.proxy_seen_at < PROXY_MEMORY_S and not msg.content.startswith(("!", "/")):
            # Proxies are used here: wait a moment, in case this message is about to be replaced by one.
            self.held[msg.message_id] = msg
            effects: list[Effect] = [Save(), Timer(PROXY_GRACE_S, ("release", msg.message_id))]
            if len(self.held) > HELD_CAP:  # bounded: the oldest waits no longer
                effects.append(self._hand_to_user(self.held.popitem(last=False)[1], now))
            return effects
        return [self._hand_to_user(msg, now)]

    def _hand_to_user(self, msg: Incoming, now: float) -> Tell:
        self.recent.append(msg)
        while self.recent and (len(self.recent) > HELD_CAP or now - self.recent[0].created_at > PROXY_WINDOW_S):
            self.recent.popleft()
        replied = self.sent.get(msg.reply_to) if msg.reply_to is not None else None
        context = self.window.context_for(msg, now)
        self.window.heard(msg, now)  # saved with the channel's next save: no write of its own
        return Tell(Kind.USER, msg.author.id, Heard(msg, self.activated, replied, context))

    def _speak(self, msg: Speak, now: float) -> list[Effect]:
        for mid in msg.answered:
            self.typing.pop(mid, None)
        self.window.spoke(msg, now)
        if (streamed := stream_sending.final(self.sender, msg, now)) is not None:
            return streamed
        p = msg.persona
        limit = LIMIT - len(self.sender.prefix(p.display_name)) if self.sender.plain else LIMIT
        refused = []
        for index, text in enumerate(split_message(msg.text, limit)):
            chunk = Chunk(
                f"{msg.trigger_id}:{index}",
                msg.user_id,
                p.name,
                p.display_name,
                p.avatar_url,
                text,
                msg.trigger_id,
                created_at=msg.created_at,
                answers=list(msg.answers) if index == 0 else [],
            )
            if why := self.sender.outbox.add(chunk):
                refused.append(why)
        effects: list[Effect] = [Save()]
        if refused:
            effects.append(Log("warning", "outbox_full", f"dropped {len(refused)} chunk(s): {refused[0]}"))
        sent = self.sender.outbox.done.get(f"{msg.trigger_id}:0")
        if sent is not None:  # said before, and asked again: the record closing its work may have been lost
            effects += [WorkDone(mid, sent) for mid in msg.answered]
        return effects + self.sender.pump(now)

    def _notify(self, msg: Notify, now: float) -> list[Effect]:
        """The bot's own words: in the channel, or (a slash command's answer) to its interaction."""
        effects: list[Effect] = [Save()]
        via = self.interactions.get(msg.trigger_id)
        for index, text in enumerate(split_message(msg.text) or [""]):
            chunk = Chunk(
                f"n{msg.trigger_id}:{index}",
                msg.user_id,
                self.options.bot_name.lower(),
                self.options.bot_name,
                None,
                text,
                msg.trigger_id,
                as_bot=True,
                file_name=msg.file_name if index == 0 else "",
                file_text=msg.file_text if index == 0 else "",
                interaction=None if via is None else [via.application_id, via.token, via.ephemeral],
            )
            if why := self.sender.outbox.add(chunk):
                effects.append(Log("warning", "outbox_full", f"dropped a notice: {why}"))
        return effects + self.sender.pump(now)

    def _command(self, name: str, args: tuple[str, ...], origin: Origin, now: float) -> list[Effect]:
        def say(text: str) -> list[Effect]:
            return self._notify(Notify(self.channel_id, origin.user_id, text, origin.trigger_id), now)

        if name == "activate":
            self.activated, self.activated_by = args[0], origin.user_id
            return [
                Save(),
                Push(RouteFact("activated", self.channel_id, args[0])),
                *say(f"**{args[0]}** now answers every message in this channel. `deactivate` stops it."),
            ]
        if name == "deactivate":
            if self.activated is None:
                return say("No personality is activated in this channel.")
            was, self.activated, self.activated_by = self.activated, None, None
            return [
                Save(),
                Push(RouteFact("activated", self.channel_id, None)),
                *say(f"**{was}** no longer answers every message here."),
            ]
        if name == "purgbot":
            mode = args[0] if args else "system"
            return [Call("discord", "channel_messages", (self.channel_id, None, 100), ("purge", mode, origin))]
        return say(f"This channel does not handle `{name}`.")

    # ---- Discord's answers ----------------------------------------------------------------------
    def _done(self, tag: tuple[Any, ...], result: Any, now: float) -> list[Effect]:
        # Every 429 Discord answers is counted here, whatever the request (typing, listing or creating webhooks,
        # sending): counting only sends made the metric miss the 429s that hit anything else.
        effects = self._result(tag, result, now)
        if isinstance(result, Wait) and result.scope not in ("gate", "bucket"):  # those two never reached Discord
            return [Count("discord_429", (result.scope,)), *effects]
        return effects

    def _result(self, tag: tuple[Any, ...], result: Any, now: float) -> list[Effect]:
        if tag[0] == "delete":
            return self._deleted(tag[1], tag[2], result, now)
        if tag[0] == "purge":
            return self._purge(tag[1], tag[2], result, now)
        return self.sender.result(tag, result, now)  # sending, and the calls whose answer needs nothing

    def _deleted(self, delete: DeleteMessage, attempt: int, result: Any, now: float) -> list[Effect]:
        """A key posted here must not stay because Discord said "not now": try again. Then tell its author the
        truth: deleted (or already gone), or still visible."""
        if isinstance(result, Wait) and attempt < SEND_ATTEMPTS:
            return [Timer(result.seconds, ("delete", delete, attempt))]
        gone = isinstance(result, Ok) or (isinstance(result, Fail) and result.status == 404)
        text = delete.deleted if gone else delete.failed
        effects: list[Effect] = [] if gone else [
            Log("warning", "delete_failed", f"message {delete.message_id}: {_why(result)}", delete.user_id,
                self.channel_id, delete.message_id)]
        if text:
            effects += self._notify(Notify(self.channel_id, delete.user_id, text, delete.message_id), now)
        return effects

    def _purge(self, mode: str, origin: Origin, result: Any, now: float) -> list[Effect]:
        if not isinstance(result, Ok) or not isinstance(result.data, list):
            return self._notify(
                Notify(
                    self.channel_id, origin.user_id, "I couldn't read this DM's history just now.", origin.trigger_id
                ),
                now,
            )
        prefix = "**"
        mine = [
            m
            for m in result.data
            if isinstance(m, dict)
            and m.get("author", {}).get("bot")
            and (mode == "all" or not str(m.get("content", "")).startswith(prefix))
        ][:PURGE_MAX]
        calls: list[Effect] = [
            Call("discord", "delete_message", (self.channel_id, int(m["id"])), ("ignore",)) for m in mine
        ]
        text = (
            f"Deleted {len(mine)} of my messages here"
            + ("" if mode == "all" else " (personalities' kept; `purgbot all` removes theirs too)")
            + "."
        )
        return calls + self._notify(Notify(self.channel_id, origin.user_id, text, origin.trigger_id), now)


def _why(result: Any) -> str:
    if isinstance(result, Fail):
        return f"{result.status} {result.message}"[:200]
    return f"still rate limited after {SEND_ATTEMPTS} tries" if isinstance(result, Wait) else type(result).__name__
