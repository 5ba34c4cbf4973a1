"""How a channel's actor sends: the webhook pool, the order of sends, and what each Discord answer means.

A part of ChannelState (`actors/state/channel.py`), which holds it: it owns the pool and the outbox, the channel
queues chunks into the outbox and hands it the results of its calls. Every Discord call is a `Call` effect; its
result comes back as `Done`, which the channel passes to `result`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.effects import Call, Effect, Log, Observe, Push, Resume, Save, Timer, WorkDone
from actors.messages import Place, Pump, RouteFact
from actors.results import Fail, Ok, Wait
from actors.state import stream_sending
from actors.state.discord_text import LIMIT, legal_username, split_message
from actors.state.outbox import Chunk, Outbox, ReplyMap
from actors.state.streams import Streams

MAX_WEBHOOKS = 15  # Discord's per-channel limit, counting other bots' webhooks
SEND_ATTEMPTS = 5


@dataclass(slots=True)
class ChannelOptions:
    bot_name: str = "Tzurot"
    pool_size: int = 2
    notice_interval_s: float = 3600.0
    prefix: str = "!tz "  # commands are never kept in the channel's context

    @classmethod
    def from_settings(cls, settings: Any) -> ChannelOptions:
        if settings is None:
            return cls()
        return cls(settings.bot_name, settings.webhook_pool_size, settings.no_webhook_notice_s,
                   getattr(settings, "command_prefix", "!tz "))


@dataclass(slots=True)
class WebhookSender:
    channel_id: int
    options: ChannelOptions = field(default_factory=ChannelOptions)
    sent: ReplyMap = field(default_factory=ReplyMap)  # the channel's reply map: what we sent, for replies
    place: Place | None = None
    hooks: list[tuple[int, str]] = field(default_factory=list)  # our webhooks: (id, token)
    others: int = 0  # other bots' webhooks in the webhook channel
    no_webhooks: bool = False  # no Manage Webhooks permission, or no room: speak as the bot
    notice_at: float = 0.0
    outbox: Outbox = field(default_factory=Outbox)
    sending: str | None = None  # the chunk (or streamed part, `s<trigger>:<index>`) whose send had begun when saved
    streams: Streams = field(default_factory=Streams)  # streamed answers being shown (streams.py)
    # Not persisted: what is in progress right now.
    hooks_known: bool = False
    busy: bool = False  # a Discord call or a retry timer is outstanding
    next_hook: int = 0
    setup_failures: int = 0  # consecutive failed webhook list/create calls
    checked_at: float = 0.0  # when the webhooks were last listed
    stream_timer: bool = False  # a timer will bring a stream's next edit (edits are paced)

    def restore(self, data: dict[str, Any]) -> None:
        """The persisted fields, from the channel's row (`ChannelState.snapshot` writes them)."""
        self.place = Place(**data["place"]) if data.get("place") else None
        self.hooks = [(int(i), str(t)) for i, t in data.get("hooks", [])]
        self.others = int(data.get("others", 0))
        self.no_webhooks = bool(data.get("no_webhooks", False))
        self.notice_at = float(data.get("notice_at", 0.0))
        self.outbox = Outbox.restore(data.get("outbox"))
        self.sending = data.get("sending")
        self.streams = Streams.restore(data.get("streams"))

    def resume(self, now: float) -> list[Effect]:
        """After a restart: if we died while sending the head chunk, look whether it went out before sending it
        again; otherwise go on sending."""
        if (verify := stream_sending.verify(self)) is not None:
            return verify
        head = self.outbox.peek()
        if self.sending is not None and head is not None and head.id == self.sending:
            self.busy = True
            return [Call("discord", "channel_messages", (self.channel_id, head.trigger_id, 50), ("verify", head.id))]
        return self.pump(now)

    # ---- sending ------------------------------------------------------------------------------
    @property
    def plain(self) -> bool:
        """Speak as the bot: always in DMs; elsewhere only while the last look at the webhooks said so."""
        return (self.place is not None and self.place.kind == "dm") or (self.no_webhooks and self.hooks_known)

    @property
    def _hook_channel(self) -> int:
        if self.place is not None and self.place.kind == "thread" and self.place.parent_id:
            return self.place.parent_id
        return self.channel_id

    @staticmethod
    def prefix(display_name: str) -> str:
        return f"**{display_name}:** "

    def pump(self, now: float) -> list[Effect]:
        """Send the next chunk whose turn it is; a send is noted (and saved) first, so that after a crash we
        can tell whether it reached Discord instead of posting it twice."""
        effects = self._next_step(now)
        if effects and isinstance(effects[-1], Call) and effects[-1].tag[0] == "send":
            self.sending = effects[-1].tag[1]
            return [Save(), *effects]
        return effects

    def _next_step(self, now: float) -> list[Effect]:
        if self.busy:
            return []
        due = None if self.plain else self.streams.due(now)  # a streamed answer's step goes first: it is paced
        if isinstance(due, tuple):
            self.busy = True
            if setup := self._setup(now):
                return setup
            if self.hooks:
                return stream_sending.take(self, *due, now)
            self.no_webhooks, self.busy = True, False  # no room for one of ours: final answers go plainly
            return self._next_step(now)
        chunk = self.outbox.peek()
        if chunk is None:
            if isinstance(due, float) and not self.stream_timer:
                self.stream_timer = True
                return [Timer(due, "stream")]
            return []
        self.busy = True
        if chunk.as_bot:
            return [self._send_as_bot(chunk)]
        if self.no_webhooks and now - self.checked_at >= self.options.notice_interval_s:
            self.hooks_known = False  # the permission may have been granted since: look again
        if self.plain:
            return self._notice(now) + self._send_plain(chunk)
        if setup := self._setup(now):
            return setup
        if not self.hooks:  # no room for even one of ours
            self.no_webhooks = True
            return self._notice(now) + self._send_plain(chunk)
        hook_id, token = self.hooks[self.next_hook % len(self.hooks)]
        self.next_hook += 1
        payload: dict[str, Any] = {"content": chunk.text, "username": legal_username(chunk.display_name)}
        if chunk.avatar_url:
            payload["avatar_url"] = chunk.avatar_url
        thread = self.channel_id if self._hook_channel != self.channel_id else None
        return [Call("discord", "execute_webhook", (hook_id, token, payload, thread), ("send", chunk.id, hook_id))]

    def _setup(self, now: float) -> list[Effect]:
        """Learn our webhooks, or make one more, before a send that needs one."""
        if not self.hooks_known:
            self.checked_at = now
            return [Call("discord", "list_webhooks", (self._hook_channel,), ("list",))]
        if self._should_grow():
            return [Call("discord", "create_webhook", (self._hook_channel, self.options.bot_name), ("create",))]
        return []

    def _should_grow(self) -> bool:
        """One webhook to start with; more (up to the pool size) only while a backlog waits."""
        if len(self.hooks) >= self.options.pool_size or self.others + len(self.hooks) >= MAX_WEBHOOKS:
            return False
        return not self.hooks or len(self.outbox) > 1

    def _send_plain(self, chunk: Chunk) -> list[Effect]:
        prefix = self.prefix(chunk.display_name)
        if len(prefix) + len(chunk.text) > LIMIT:  # cut for a webhook; the prefix needs room too
            self.outbox.split_head(chunk.id, split_message(chunk.text, LIMIT - len(prefix)))
            chunk = self.outbox.find(chunk.id) or chunk
        payload: dict[str, Any] = {"content": prefix + chunk.text}
        if chunk.id.endswith(":0"):
            payload["message_reference"] = {"message_id": str(chunk.trigger_id), "fail_if_not_exists": False}
        return [Call("discord", "create_message", (self.channel_id, payload), ("send", chunk.id, None))]

    def _send_as_bot(self, chunk: Chunk) -> Call:
        if chunk.interaction is not None:  # the first chunk fills the deferred answer (idempotent), others follow
            app, token, ephemeral = chunk.interaction
            args = (app, token, chunk.id.endswith(":0"), {"content": chunk.text}, bool(ephemeral), chunk.file_name,
                    chunk.file_text.encode())
            return Call("discord", "answer_interaction", args, ("send", chunk.id, None))
        payload: dict[str, Any] = {"content": chunk.text}
        if chunk.id.endswith(":0"):
            payload["message_reference"] = {"message_id": str(chunk.trigger_id), "fail_if_not_exists": False}
        if chunk.file_name:
            args = (self.channel_id, payload, chunk.file_name, chunk.file_text.encode())
            return Call("discord", "create_message_with_file", args, ("send", chunk.id, None))
        return Call("discord", "create_message", (self.channel_id, payload), ("send", chunk.id, None))

    def _notice(self, now: float) -> list[Effect]:
        """Once an interval, say plainly why personalities speak through the bot here."""
        if self.place is None or self.place.kind == "dm" or now - self.notice_at < self.options.notice_interval_s:
            return []
        self.notice_at = now
        return [Save(), self.notice_call(1)]

    def notice_call(self, attempt: int) -> Call:
        text = (
            "Personalities cannot use webhooks in this channel (I need the **Manage Webhooks** permission, "
            "and the channel must have fewer than 15 webhooks), so they will speak through me for now."
        )
        return Call("discord", "create_message", (self.channel_id, {"content": text}), ("notice", attempt))

    # ---- results ------------------------------------------------------------------------------
    def result(self, tag: tuple[Any, ...], result: Any, now: float) -> list[Effect]:
        """What Discord answered to one of our calls (tags `verify`, `list`, `create`, `send`, `notice`)."""
        what = tag[0]
        if what in ("spost", "sedit", "sdel", "sverify"):
            return stream_sending.result(self, tag, result, now)
        if what == "verify":
            return self._verified(tag[1], result, now)
        if what == "list":
            return self._listed(result, now)
        if what == "create":
            return self._created(result, now)
        if what == "send":
            self.sending = None
            return self._sent(tag[1], tag[2], result, now)
        if what == "notice" and isinstance(result, Wait) and tag[1] < SEND_ATTEMPTS:
            return [Timer(result.seconds, tag)]  # "not now" (the bot-wide budget, a 429) is not "never"
        return []

    def _verified(self, chunk_id: str, result: Any, now: float) -> list[Effect]:
        self.sending, self.busy = None, False
        chunk = self.outbox.find(chunk_id)
        if chunk is None:
            return self.pump(now)
        ours = {h for h, _ in self.hooks}
        texts = {chunk.text, self.prefix(chunk.display_name) + chunk.text}
        for message in result.data if isinstance(result, Ok) and isinstance(result.data, list) else []:
            by_us = (message.get("webhook_id") and int(message["webhook_id"]) in ours) or message.get("author", {}).get(
                "bot"
            )
            if by_us and message.get("content") in texts:
                return [
                    Log("info", "send_verified", f"chunk {chunk_id} had been sent as {message['id']}"),
                    *self._sent(chunk_id, None, Ok(200, message), now),
                ]
        return self.pump(now)

    def _listed(self, result: Any, now: float) -> list[Effect]:
        if isinstance(result, Ok):
            self.setup_failures = 0
            hooks = [w for w in result.data or [] if isinstance(w, dict)]
            ours = [(int(w["id"]), str(w["token"])) for w in hooks if self._is_ours(w)]
            self.hooks, self.others, self.hooks_known = ours, len(hooks) - len(ours), True
            self.no_webhooks = False
            pushes: list[Effect] = [Push(RouteFact("webhook", i, True)) for i, _ in ours]
            return [Save(), *pushes, *self._again(now)]
        return self._setup_failed(result, now)

    def _created(self, result: Any, now: float) -> list[Effect]:
        if isinstance(result, Ok) and isinstance(result.data, dict) and result.data.get("token"):
            hook = (int(result.data["id"]), str(result.data["token"]))
            self.hooks.append(hook)
            return [Save(), Push(RouteFact("webhook", hook[0], True)), *self._again(now)]
        if isinstance(result, Fail) and result.code == 30007:  # the channel is full of other webhooks
            self.others = MAX_WEBHOOKS - len(self.hooks)
            return self._again(now)
        return self._setup_failed(result, now)

    def _setup_failed(self, result: Any, now: float) -> list[Effect]:
        if isinstance(result, Fail) and result.missing_permission:
            self.no_webhooks, self.hooks, self.hooks_known = True, [], True
            return [Save(), Log("warning", "no_webhook_permission", "speaking as the bot"), *self._again(now)]
        if isinstance(result, Wait):
            return self._retry_later(result)
        self.setup_failures += 1
        if isinstance(result, Fail) and 400 <= result.status < 500 or self.setup_failures >= SEND_ATTEMPTS:
            # Refused for good (the channel is gone, say) or failing for long: do not poll Discord forever.
            dropped = len(self.outbox)
            self.outbox = Outbox(done=self.outbox.done)
            self.setup_failures, self.busy = 0, False
            detail = getattr(result, "message", type(result).__name__)
            return [Save(), Log("error", "webhook_setup_failed", f"dropped {dropped} chunk(s): {detail}")]
        return self._retry_later(result, self.setup_failures)

    def _sent(self, chunk_id: str, hook_id: int | None, result: Any, now: float) -> list[Effect]:
        chunk = self.outbox.find(chunk_id)
        if chunk is None:
            self.busy = False
            return self.pump(now)
        if isinstance(result, Ok):
            message_id = int(result.data["id"]) if isinstance(result.data, dict) and "id" in result.data else None
            self.outbox.finish(chunk_id, message_id)
            effects: list[Effect] = [
                Save(),
                Resume(Pump(self.channel_id)),  # let waiting messages in before the next chunk
                Log(
                    "info",
                    "sent",
                    f"message {message_id} (chunk {chunk_id})",
                    chunk.user_id,
                    self.channel_id,
                    chunk.trigger_id,
                ),
            ]
            if chunk.id.endswith(":0"):  # the message (each message of a merged turn) has its answer
                effects += [WorkDone(mid, message_id) for mid in chunk.answered]
            if message_id is not None and not chunk.as_bot:
                self.sent.remember(message_id, chunk.name)
                if chunk.id.endswith(":0") and chunk.created_at:
                    effects.append(Observe("reply_latency_s", max(0.0, now - chunk.created_at)))
            return effects
        if isinstance(result, Fail) and hook_id is not None and result.unknown_webhook:
            self.hooks = [h for h in self.hooks if h[0] != hook_id]
            effects: list[Effect] = [Save(), Push(RouteFact("webhook", hook_id, None))]
            if chunk.replaced_webhook:  # replaced once already: say it through the bot rather than loop
                return [*effects, Log("warning", "webhook_gone_twice", chunk_id), *self._send_plain(chunk)]
            chunk.replaced_webhook = True
            return effects + self._again(now)
        if isinstance(result, Fail) and hook_id is not None and result.missing_permission:
            self.no_webhooks, self.hooks = True, []
            return [Save(), *self._again(now)]
        if isinstance(result, Fail) and 400 <= result.status < 500:
            self.outbox.finish(chunk_id, None)
            # An interaction refused (its 15 minutes are over): nothing can answer it again, so its work is done.
            gone = [WorkDone(mid) for mid in chunk.answered] if chunk.interaction and chunk.id.endswith(":0") else []
            return [
                Save(),
                Log("error", "send_refused", f"chunk {chunk_id}: {result.status} {result.message}"),
                *gone,
                *self._again(now),
            ]
        if isinstance(result, Wait):  # nothing was sent: not an attempt
            return self._retry_later(result)
        chunk.attempts += 1
        if chunk.attempts >= SEND_ATTEMPTS:
            self.outbox.finish(chunk_id, None)
            return [
                Save(),
                Log("error", "send_failed", f"chunk {chunk_id}: gave up after {chunk.attempts}"),
                *self._again(now),
            ]
        return self._retry_later(result, chunk.attempts)

    def _retry_later(self, result: Any, attempts: int = 1) -> list[Effect]:
        """Stay busy and come back on a timer: the wait Discord asked for, or a short backoff."""
        delay = result.seconds if isinstance(result, Wait) else min(30.0, 0.5 * 2 ** max(0, attempts - 1))
        self.busy = True
        return [Timer(max(0.05, delay), "pump")]

    def _again(self, now: float) -> list[Effect]:
        self.busy = False
        return self.pump(now)

    def _is_ours(self, webhook: dict[str, Any]) -> bool:
        return webhook.get("name") == self.options.bot_name and bool(webhook.get("token"))
