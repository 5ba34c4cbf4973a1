"""Immutable records of the emulated Discord world; changes replace a record, never mutate it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class ChannelType(IntEnum):
    """The channel types the emulator models (Discord's numbering)."""

    GUILD_TEXT = 0
    DM = 1
    GUILD_CATEGORY = 4
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12


THREAD_TYPES = frozenset({ChannelType.ANNOUNCEMENT_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD})


class OverwriteType(IntEnum):
    """Whether a permission overwrite targets a role or a member."""

    ROLE = 0
    MEMBER = 1


@dataclass(frozen=True)
class User:
    """A Discord user (human or bot)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    avatar: str | None = None


@dataclass(frozen=True)
class Guild:
    """A guild; its roles, members and channels live in the world's tables keyed by guild id."""

    id: int
    name: str
    owner_id: int


@dataclass(frozen=True)
class Role:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None


@dataclass(frozen=True)
class Member:
    """A user's membership of a guild."""

    guild_id: int
    user_id: int
    joined_at: float
    roles: tuple[int, ...] = ()
    nick: str | None = None


@dataclass(frozen=True)
class Overwrite:
    """A channel permission overwrite."""

    id: int
    type: OverwriteType
    allow: int = 0
    deny: int = 0


@dataclass(frozen=True)
class Channel:
    """A guild channel, a thread (parent_id set) or a DM channel (recipient_id set)."""

    id: int
    type: ChannelType
    name: str | None = None
    guild_id: int | None = None
    position: int = 0
    nsfw: bool = False
    topic: str | None = None
    parent_id: int | None = None
    overwrites: tuple[Overwrite, ...] = ()
    recipient_id: int | None = None
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_dm(self) -> bool:
        return self.type == ChannelType.DM


@dataclass(frozen=True)
class Webhook:
    """An incoming webhook; executing it needs only its id and token."""

    id: int
    channel_id: int
    guild_id: int
    name: str
    token: str
    creator_id: int
    avatar: str | None = None
    application_id: int | None = None


@dataclass(frozen=True)
class Application:
    """Another application in the world (a proxy bot such as PluralKit); its bot user has the same id."""

    id: int
    name: str
    bot_id: int


@dataclass(frozen=True)
class Attachment:
    """An uploaded file; its bytes live in the world's file store, served at `url`, until evicted."""

    id: int
    filename: str
    size: int
    url: str
    content_type: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Mentions:
    """Who a message actually pings, after allowed_mentions was applied."""

    users: tuple[int, ...] = ()
    roles: tuple[int, ...] = ()
    everyone: bool = False


@dataclass(frozen=True)
class Message:
    """A message; for webhook posts `author` is the webhook's synthetic user with any override applied,
    and `application_id` the id of the application that owns the webhook (if one does)."""

    id: int
    channel_id: int
    author: User
    content: str = ""
    guild_id: int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    reply_to: int | None = None
    mentions: Mentions = Mentions()
    embeds: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    attachments: tuple[Attachment, ...] = ()
    avatar_url: str | None = None
    tts: bool = False
    flags: int = 0
    nonce: str | int | None = None
    edited_at: float | None = None
    interaction: tuple[int, int] | None = None  # an interaction's answer: (the interaction's id, its user's id)
