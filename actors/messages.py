"""Every application message that actors exchange: small, frozen, module-level (Thespian pickles them).

Requests name the id of the actor they are for, so the bridge can route them; replies are what the actor
sends back to the asker. Supervision's own messages are in `supervision/protocol.py`.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

# ---- what a log may show of a message --------------------------------------------------------------


def private(default: Any = MISSING) -> Any:
    """A field that may hold what a user wrote (even a key): a message's repr shows only its size."""
    return field(default=default, metadata={"private": True})


def _shown(value: Any) -> str:
    return f"<{len(value)} chars>" if isinstance(value, str) else f"<{type(value).__name__}>"


_SHAPES: dict[type, tuple[tuple[str, bool], ...]] = {}  # a message class -> (field name, private?) of each field


class Redacted:
    """Base of every message that can carry user text. Thespian logs a message whole when a handler raises, and
    tracebacks and test failures print messages too: a private field never shows its content, only its size.
    (Thespian also formats every message it receives, at any log level: this runs for each one.)"""

    def __repr__(self) -> str:
        shape = _SHAPES.get(type(self))
        if shape is None:
            shape = _SHAPES[type(self)] = tuple((f.name, bool(f.metadata.get("private")))
                                                for f in fields(self))  # type: ignore[arg-type]
        parts = (f"{name}={_shown(getattr(self, name)) if hidden else repr(getattr(self, name))}"
                 for name, hidden in shape)
        return f"{type(self).__name__}({', '.join(parts)})"

# ---- replies shared by every actor ---------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """Bad input or a forbidden request: nothing changed, and `reason` is fit to show the user."""

    reason: str


# ---- UserActor -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetAutorespond:
    user_id: int
    enabled: bool


@dataclass(frozen=True)
class SetAlias:
    """A personal alias: in this user's messages, `alias` means the personality `personality`."""

    user_id: int
    alias: str
    personality: str


@dataclass(frozen=True)
class RemoveAlias:
    user_id: int
    alias: str


@dataclass(frozen=True)
class GetUserSettings:
    user_id: int


@dataclass(frozen=True)
class UserSettings:
    user_id: int
    autorespond: bool
    aliases: tuple[tuple[str, str], ...]  # (alias, personality), sorted by alias


# ---- ChannelActor --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivatePersonality:
    """From now on `personality` answers every plain message in this channel."""

    channel_id: int
    personality: str
    by_user: int


@dataclass(frozen=True)
class DeactivateChannel:
    channel_id: int


@dataclass(frozen=True)
class RecordSent:
    """Remember which personality sent a message, so a reply to it reaches that personality."""

    channel_id: int
    message_id: int
    personality: str


@dataclass(frozen=True)
class LookupReply:
    channel_id: int
    message_id: int


@dataclass(frozen=True)
class ReplyTarget:
    channel_id: int
    message_id: int
    personality: str | None


@dataclass(frozen=True)
class GetChannelInfo:
    channel_id: int


@dataclass(frozen=True)
class ChannelInfo:
    channel_id: int
    activated: str | None
    activated_by: int | None
    remembered_messages: int


# ---- Registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterPersonality:
    name: str
    owner_id: int
    display_name: str | None = None


@dataclass(frozen=True)
class LookupPersonality:
    name: str


@dataclass(frozen=True)
class ListPersonalities:
    owner_id: int


@dataclass(frozen=True)
class PersonalityInfo:
    name: str
    display_name: str
    owner_id: int


@dataclass(frozen=True)
class PersonalityList:
    owner_id: int
    names: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class SuggestNames(Redacted):
    """Edge -> Registry: personalities (names and aliases) starting with `typed` that `user_id` may use, for a
    slash command's autocomplete; `owned_only` for commands only the owner may run (remove, alias, config)."""

    user_id: int
    typed: str = private()
    nsfw_ok: bool = False
    owned_only: bool = False


@dataclass(frozen=True)
class NameSuggestions:
    choices: tuple[tuple[str, str], ...]  # (what the menu shows, the value the option takes), at most 25


@dataclass(frozen=True)
class NotFound:
    what: str


# ---- the conversation path: edge -> ChannelActor -> UserActor -> ChannelActor -> Discord -------------


@dataclass(frozen=True)
class Author:
    id: int
    username: str
    display_name: str = ""
    bot: bool = False


@dataclass(frozen=True)
class Place:
    """Where a message was posted, as the edge saw it. `kind` is text, thread, dm, forum or voice."""

    channel_id: int
    kind: str = "text"
    guild_id: int | None = None
    parent_id: int | None = None  # a thread's channel
    nsfw: bool = False
    name: str = ""
    guild_name: str = ""


@dataclass(frozen=True, repr=False)
class Interaction(Redacted):
    """A slash command's way back: its answer goes to the interaction (deferred by the edge) instead of the
    channel. The token answers it for 15 minutes, so it is shown to no log."""

    application_id: int
    token: str = private()
    ephemeral: bool = True  # how the edge deferred it: only the invoking user sees the answer


@dataclass(frozen=True, repr=False)
class Incoming(Redacted):
    """A Discord message that got past the edge's filter: it may address a personality."""

    message_id: int
    place: Place
    author: Author
    content: str = private()
    mentions_bot: bool = False
    reply_to: int | None = None  # the message this one replies to
    reply_to_webhook: int | None = None  # that message's webhook id, when a webhook posted it
    reply_content: str = private("")
    reply_author: str = ""
    attachments: tuple[str, ...] = ()  # image URLs
    created_at: float = 0.0
    mentioned: tuple[str, ...] = ()  # personality names the edge found as @mentions, longest alias first
    mentioned_alias: str = ""  # the alias text of the first of them, as written
    perms: frozenset[str] = frozenset()  # the author's permissions here: manage_messages, manage_guild, administrator
    attachment_text: str = private("")  # a small text attachment (an import), read by the edge
    attachment_error: str = ""  # why the edge could not read the attachment a command came with
    proxy: bool = False  # a PluralKit/Tupperbox proxy message: the channel finds the real author
    interaction: Interaction | None = None  # a slash command (message_id is the interaction's id): answered there
    audio: tuple[str, ...] = ()  # voice messages and audio attachments (URLs): the user's actor transcribes them
    reply_images: tuple[str, ...] = ()  # image URLs of the message this one replies to
    files: tuple[tuple[str, str], ...] = private(())  # text attachments the edge read: (file name, text)
    linked: tuple[str, ...] = private(())  # messages linked in this one that its author and the bot may read
    notes: tuple[str, ...] = ()  # what in the message could not be used, and why (told with the answer)


@dataclass(frozen=True, repr=False)
class ChannelLine(Redacted):
    """One message of a channel's recent conversation, as its channel actor keeps it for the prompt (the channel's
    context, `actors/state/channel_window.py`): a person's message, or a personality's answer."""

    message_id: int  # a person's message; for an answer, the message it answers
    author_id: int  # the person (for an answer: the user it answered)
    label: str  # who said it, as the model is told: `Alice (alice)`, or the personality's display name
    text: str = private()
    at: float = 0.0
    personality: str = ""  # the personality's name when it is an answer
    reply_to: int | None = None


@dataclass(frozen=True)
class Heard:
    """ChannelActor -> UserActor: an incoming message with what the channel knows about it, and the channel's
    recent conversation before it (`context`, oldest first, bounded)."""

    incoming: Incoming
    activated: str | None
    replied_personality: str | None  # who sent the message it replies to, from the channel's reply map
    context: tuple[ChannelLine, ...] = field(default=(), repr=False)  # up to 40 lines: never formatted for a log


@dataclass(frozen=True)
class Persona:
    """Who speaks: the name the reply map remembers, and what Discord shows."""

    name: str
    display_name: str
    avatar_url: str | None = None


@dataclass(frozen=True, repr=False)
class Speak(Redacted):
    """UserActor -> ChannelActor: say `text` as `persona`; `trigger_id` makes the send idempotent.

    A merged turn's answer names every message it answers in `answers` (in order; its last is `trigger_id`):
    sending it closes the durable work of each of them."""

    channel_id: int
    user_id: int
    persona: Persona
    text: str = private()
    trigger_id: int
    created_at: float = 0.0  # when the turn's first message was posted, for the reply latency metric
    answers: tuple[int, ...] = ()  # every message of a merged turn; () means just `trigger_id`

    @property
    def answered(self) -> tuple[int, ...]:
        return tuple(self.answers) or (self.trigger_id,)


@dataclass(frozen=True, repr=False)
class SpeakPart(Redacted):
    """UserActor -> ChannelActor: a streamed answer so far (TZUROT_STREAMING). The channel shows it early and edits
    it as it grows; only the `Speak` that follows (same `trigger_id`) finishes it and closes the work."""

    channel_id: int
    user_id: int
    persona: Persona
    text: str = private()
    trigger_id: int
    created_at: float = 0.0
    answers: tuple[int, ...] = ()  # the turn's messages, as the final `Speak` will name them


@dataclass(frozen=True)
class TypingFor:
    """UserActor -> ChannelActor: show the typing indicator until an answer for `trigger_id` is spoken."""

    channel_id: int
    user_id: int
    trigger_id: int
    seconds: float = 120.0


@dataclass(frozen=True)
class ForgetUser:
    """UserActor -> ChannelActor (`data delete`): erase this user's words, and the answers to them, from the
    channel's recent conversation."""

    channel_id: int
    user_id: int


@dataclass(frozen=True)
class ForgetOwner:
    """UserActor -> Registry (`data delete`): the personalities `user_id` owns are deleted (`delete`), or kept,
    public, with no owner."""

    user_id: int
    delete: bool


@dataclass(frozen=True)
class OwnedRequest:
    """UserActor -> Registry (`data export`): the records of the personalities `user_id` owns, please."""

    user_id: int
    trigger_id: int


@dataclass(frozen=True)
class OwnedReply:
    trigger_id: int
    records: tuple[dict[str, Any], ...]  # in the export form (`registry_records.export_records`)


@dataclass(frozen=True)
class WebhooksChanged:
    """The edge saw WEBHOOKS_UPDATE: the channel's webhooks changed behind our back."""

    channel_id: int


@dataclass(frozen=True)
class Pump:
    """A channel actor's note to itself: send the next chunk after the messages already waiting."""

    channel_id: int


# ---- facts pushed to the edge (its routing table) ----------------------------------------------------


@dataclass(frozen=True)
class RouteFact:
    """A fact the edge routes by; `value` None removes it. Kinds: webhook (one of ours), activated (channel ->
    personality), conversation (channel -> until), alias (alias -> personality), blacklist (user or
    "guild:user" -> True)."""

    kind: str
    key: int | str
    value: str | float | bool | None


# ---- commands and notices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Who asked, where, and with what rights: what every command's owner needs to decide and to answer."""

    user_id: int
    username: str
    channel_id: int
    trigger_id: int
    place_kind: str = "text"
    guild_id: int | None = None
    perms: frozenset[str] = frozenset()
    bot_owner: bool = False
    nsfw: bool = False


@dataclass(frozen=True, repr=False)
class CommandFor(Redacted):
    """A parsed `!tz` command on its way to the actor that owns what it changes."""

    command: Any  # actors.state.commands.Command
    origin: Origin
    attachment_text: str = private("")
    attachment_error: str = ""  # why the edge could not read the attachment (too big, not text, ...)


@dataclass(frozen=True, repr=False)
class Notify(Redacted):
    """ChannelActor: say `text` as the bot itself (command answers, hints), in reply to `trigger_id`."""

    channel_id: int
    user_id: int
    text: str = private()
    trigger_id: int
    file_name: str = ""  # with file_name, `file_text` goes along as an attachment (export)
    file_text: str = private("")


@dataclass(frozen=True, repr=False)
class DeleteMessage(Redacted):
    """ChannelActor: delete a message (a key someone posted in a server channel), then tell `user_id` the truth:
    `deleted` once Discord confirmed it, `failed` when it could not be deleted (no permission, retries ran out)."""

    channel_id: int
    message_id: int
    user_id: int = 0
    deleted: str = private("")
    failed: str = private("")


@dataclass(frozen=True)
class PersonaRequest:
    """UserActor -> Registry: the record of `name`, if `user_id` may talk to it."""

    name: str
    user_id: int
    trigger_id: int


@dataclass(frozen=True)
class PersonaReply:
    trigger_id: int
    name: str
    record: dict[str, Any] | None  # None: no such personality (or a private one of someone else)


# ---- the operator's AI slots ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotRequest:
    """UserActor -> Slots: one concurrent AI request on the operator's key, please (the line is least served
    first). Sent only when the shared slot file had no free slot for the taking (`store/slot_leases.py`)."""

    user_id: int
    trigger_id: int


@dataclass(frozen=True)
class SlotGranted:
    trigger_id: int


@dataclass(frozen=True)
class SlotRelease:
    """UserActor -> Slots: done with the slot (or no longer waiting for one), and how the call went, which the
    adaptive limit learns from: `outcome` "ok" or the error's kind ("" when no call was made), the call's
    latency, its model, and how long the slot was held (the user's usage, which orders the line)."""

    user_id: int
    trigger_id: int
    outcome: str = ""
    latency_s: float = 0.0
    model: str = ""
    held_s: float = 0.0


@dataclass(frozen=True)
class GetSlots:
    pass


@dataclass(frozen=True)
class SlotsInfo:
    capacity: int  # the limit now (adaptive: what the backend is found to serve at once)
    in_use: int
    waiting: int
    ceiling: int = 0  # TZUROT_AI_SLOTS
