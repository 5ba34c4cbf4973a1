"""A discord.py message, read into our own types: the `Outline` the filter decides on, then the `Incoming` that
goes to the channel's actor. Pure reads of discord.py objects, no I/O.

The outline is built once per message: the filter reads it, and the incoming message takes what it already
knows (mentions, whether it is a reply, whether it came through a proxy) from it.
"""

from __future__ import annotations

from typing import Any

import discord

from actors.messages import Author, Incoming, Place
from edge.routing import Outline, RoutingTable

PERMISSIONS = ("manage_messages", "manage_guild", "administrator")


def utf8(text: str) -> str:
    """`text` as UTF-8 can carry it. JSON lets the gateway deliver a lone surrogate (`\\ud83d`), and one of those
    would fail every later save of the user's actor (the store, the AI request and Discord all need UTF-8)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def place_of(channel: Any) -> Place:
    guild = getattr(channel, "guild", None)
    if isinstance(channel, discord.DMChannel):
        kind = "dm"
    elif isinstance(channel, discord.Thread):
        kind = "thread"
    elif isinstance(channel, discord.ForumChannel):
        kind = "forum"
    elif isinstance(channel, discord.VoiceChannel):
        kind = "voice"
    else:
        kind = "text"
    parent_id = getattr(channel, "parent_id", None) if kind == "thread" else None
    nsfw = bool(channel.is_nsfw()) if hasattr(channel, "is_nsfw") else False
    return Place(
        channel.id,
        kind,
        guild.id if guild else None,
        parent_id,
        nsfw,
        utf8(getattr(channel, "name", "") or ""),
        utf8(guild.name) if guild else "",
    )


def replied_to(message: discord.Message) -> tuple[bool, discord.Message | None]:
    """Is `message` a reply, and the message it replies to when the gateway sent it (`referenced_message`).

    Only a reply counts: pins, thread starters and forwards carry a `message_reference` too."""
    ref = message.reference
    if ref is None or ref.message_id is None or message.type is not discord.MessageType.reply:
        return False, None
    return True, ref.resolved if isinstance(ref.resolved, discord.Message) else None


def outline_of(message: discord.Message, me: discord.ClientUser) -> Outline:
    """What the filter decides on (`RoutingTable.decide`)."""
    is_reply, resolved = replied_to(message) if message.reference is not None else (False, None)
    return Outline(
        channel_id=message.channel.id,
        author_id=message.author.id,
        content=message.content,
        is_self=message.author.id == me.id,
        author_bot=message.author.bot,
        webhook_id=message.webhook_id,
        application_id=message.application_id,
        is_dm=isinstance(message.channel, discord.DMChannel),
        mentions_bot=any(u.id == me.id for u in message.mentions),
        parent_id=getattr(message.channel, "parent_id", None) if isinstance(message.channel, discord.Thread) else None,
        is_reply=is_reply,
        reply_resolved=resolved is not None,
        reply_author_id=resolved.author.id if resolved is not None else None,
        reply_webhook_id=resolved.webhook_id if resolved is not None else None,
        reply_application_id=resolved.application_id if resolved is not None else None,
        guild_id=message.guild.id if message.guild is not None else None,
    )


def perms_of(message: discord.Message) -> frozenset[str]:
    """The author's rights in this channel that commands check (none in DMs)."""
    if message.guild is None or not isinstance(message.author, discord.Member):
        return frozenset()
    granted = message.channel.permissions_for(message.author)
    return frozenset(name for name in PERMISSIONS if getattr(granted, name, False))


def incoming_of(
    message: discord.Message, outline: Outline, table: RoutingTable, attachment_text: str = "",
    attachment_error: str = "",
) -> Incoming:
    """The message for the channel's actor, from `message` and the `outline` the filter let through."""
    resolved = replied_to(message)[1] if outline.is_reply else None
    author = message.author
    images = tuple(utf8(a.url) for a in message.attachments if (a.content_type or "").startswith("image/"))
    found = table.mentioned(message.content)
    return Incoming(
        message_id=message.id,
        place=place_of(message.channel),
        author=Author(author.id, utf8(author.name), utf8(getattr(author, "display_name", author.name)), author.bot),
        content=utf8(message.content),
        mentions_bot=outline.mentions_bot,
        reply_to=message.reference.message_id if outline.is_reply and message.reference is not None else None,
        # Only our webhooks speak as personalities: a reply to another webhook (a proxy, another bot) is not
        # one to a personality of that name.
        reply_to_webhook=resolved.webhook_id if resolved is not None and table.ours(
            resolved.webhook_id, resolved.application_id) else None,
        reply_content=utf8(resolved.content) if resolved is not None else "",
        reply_author=utf8(resolved.author.display_name) if resolved is not None else "",
        attachments=images,
        created_at=message.created_at.timestamp(),
        mentioned=tuple(name for _, name in found),
        mentioned_alias=found[0][0] if found else "",
        perms=perms_of(message),
        attachment_text=attachment_text,
        attachment_error=attachment_error,
        proxy=outline.is_proxy,
    )
