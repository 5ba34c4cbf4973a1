"""How a channel's actor sends: the webhook pool, the order of sends, and what each Discord answer means.

A mixin of ChannelState (`actors/state/channel.py`), which owns the state; split out only to keep each
module readable. Every Discord call is a `Call` effect; its result comes back as `Done` to `_done`.
"""

from __future__ import annotations

from typing import Any

from actors.effects import Call, Count, Effect, Log, Observe, Push, Resume, Save, Timer, WorkDone
from actors.messages import Notify, Pump, RouteFact
from actors.results import Fail, Ok, Wait
from actors.state.discord_text import LIMIT, legal_username, split_message
from actors.state.outbox import Chunk, Outbox

MAX_WEBHOOKS = 15  # Discord's per-channel limit, counting other bots' webhooks
SEND_ATTEMPTS = 5


class WebhookSender:
    """The sending half of ChannelState: it reads and changes that state's fields."""

    # Provided by ChannelState.
    channel_id: int
    options: Any
    place: Any
    hooks: list[tuple[int, str]]
    others: int
    no_webhooks: bool
    notice_at: float
    outbox: Outbox
    hooks_known: bool
    busy: bool
    next_hook: int
    setup_failures: int
    checked_at: float
    sending: str | None

    # ---- sending ------------------------------------------------------------------------------
    @property
    def _plain(self) -> bool:
        """Speak as the bot: always in DMs; elsewhere only while the last look at the webhooks said so."""
        return (self.place is not None and self.place.kind == "dm") or (self.no_webhooks and self.hooks_known)

    @property
    def _hook_channel(self) -> int:
        if self.place is not None and self.place.kind == "thread" and self.place.parent_id:
            return self.place.parent_id
        return self.channel_id

    @staticmethod
    def _prefix(display_name: str) -> str:
        return f"**{display_name}:** "

    def _pump(self, now: float) -> list[Effect]:
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
        chunk = self.outbox.peek()
        if chunk is None:
            return []
        self.busy = True
        if chunk.as_bot:
            return [self._send_as_bot(chunk)]
        if self.no_webhooks and now - self.checked_at >= self.options.notice_interval_s:
            self.hooks_known = False  # the permission may have been granted since: look again
        if self._plain:
            return self._notice(now) + self._send_plain(chunk)
        if not self.hooks_known:
            self.checked_at = now
            return [Call("discord", "list_webhooks", (self._hook_channel,), ("list",))]
        if self._should_grow():
            return [Call("discord", "create_webhook", (self._hook_channel, self.options.bot_name), ("create",))]
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

    def _should_grow(self) -> bool:
        """One webhook to start with; more (up to the pool size) only while a backlog waits."""
        if len(self.hooks) >= self.options.pool_size or self.others + len(self.hooks) >= MAX_WEBHOOKS:
            return False
        return not self.hooks or len(self.outbox) > 1

    def _send_plain(self, chunk: Chunk) -> list[Effect]:
        prefix = self._prefix(chunk.display_name)
        if len(prefix) + len(chunk.text) > LIMIT:  # cut for a webhook; the prefix needs room too
            self.outbox.split_head(chunk.id, split_message(chunk.text, LIMIT - len(prefix)))
            chunk = self.outbox.find(chunk.id) or chunk
        payload: dict[str, Any] = {"content": prefix + chunk.text}
        if chunk.id.endswith(":0"):
            payload["message_reference"] = {"message_id": str(chunk.trigger_id), "fail_if_not_exists": False}
        return [Call("discord", "create_message", (self.channel_id, payload), ("send", chunk.id, None))]

    def _send_as_bot(self, chunk: Chunk) -> Call:
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
        text = (
            "Personalities cannot use webhooks in this channel (I need the **Manage Webhooks** permission, "
            "and the channel must have fewer than 15 webhooks), so they will speak through me for now."
        )
        return [Save(), Call("discord", "create_message", (self.channel_id, {"content": text}), ("notice",))]

    def _typing_call(self) -> Call:
        return Call("discord", "typing", (self.channel_id,), ("typing",))

    # ---- results ------------------------------------------------------------------------------
    def _done(self, tag: tuple[Any, ...], result: Any, now: float) -> list[Effect]:
        # Every 429 Discord answers is counted here, whatever the request (typing, listing or creating webhooks,
        # sending): counting only sends made the metric miss the 429s that hit anything else.
        effects = self._result(tag, result, now)
        if isinstance(result, Wait) and result.scope not in ("gate", "bucket"):  # those two never reached Discord
            return [Count("discord_429", (result.scope,)), *effects]
        return effects

    def _result(self, tag: tuple[Any, ...], result: Any, now: float) -> list[Effect]:
        what = tag[0]
        if what in ("notice", "typing", "ignore"):
            return []
        if what == "delete":
            return self._deleted(tag[1], tag[2], result, now)
        if what == "purge":
            return self._purge(tag[1], tag[2], result, now)
        if what == "verify":
            return self._verified(tag[1], result, now)
        if what == "list":
            return self._listed(result, now)
        if what == "create":
            return self._created(result, now)
        if what == "send":
            self.sending = None
            return self._sent(tag[1], tag[2], result, now)
        return []

    def _deleted(self, delete: Any, attempt: int, result: Any, now: float) -> list[Effect]:
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
            return self._pump(now)
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
            if chunk.id.endswith(":0"):
                effects.append(WorkDone(chunk.trigger_id, message_id))  # the message has its answer
            if message_id is not None and not chunk.as_bot:
                self._remember(message_id, chunk.name)
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
            return [
                Save(),
                Log("error", "send_refused", f"chunk {chunk_id}: {result.status} {result.message}"),
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
        return self._pump(now)

    def _is_ours(self, webhook: dict[str, Any]) -> bool:
        return webhook.get("name") == self.options.bot_name and bool(webhook.get("token"))


def _why(result: Any) -> str:
    if isinstance(result, Fail):
        return f"{result.status} {result.message}"[:200]
    return f"still rate limited after {SEND_ATTEMPTS} tries" if isinstance(result, Wait) else type(result).__name__
