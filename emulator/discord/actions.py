"""Changes to the world that clients must hear about: each one updates the world, then dispatches its event.

REST handlers and the sandbox control routes both go through here, so a deletion by either
path sends the same WEBHOOKS_UPDATE and a post by either path the same MESSAGE_CREATE.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .context import Context
from .gateway import Intent
from .mentions import resolve_mentions
from .models import Attachment, Channel, Mentions, Message, User, Webhook
from .payloads import channel_payload, member_payload, message_payload
from .permissions import MENTION_EVERYONE, has_permission
from .world import World

_HIDDEN_WITHOUT_CONTENT_INTENT = {"content": "", "embeds": [], "attachments": [], "components": []}


def _mentions(world: World, message: Message, allowed: Mapping[str, Any] | None, channel: Channel) -> Mentions:
    """Mentions of a drafted message; webhooks may ping @everyone, others need the permission."""
    replied = world.message(channel.id, message.reply_to) if message.reply_to is not None else None
    webhook = message.webhook_id is not None
    return resolve_mentions(
        message.content,
        allowed,
        known_users=world.users,
        known_roles=world.roles,
        may_mention_everyone=webhook or has_permission(world, channel.id, message.author.id, MENTION_EVERYONE),
        replied_author=replied.author.id if replied is not None and replied.webhook_id is None else None,
    )


def dispatch_message(ctx: Context, event: str, message: Message) -> None:
    """MESSAGE_CREATE/UPDATE; sessions without the message-content intent get it blanked, as Discord does."""
    world = ctx.world
    payload = message_payload(world, message)
    member = world.members.get((message.guild_id or 0, message.author.id))
    if member is not None and message.webhook_id is None:
        payload["member"] = member_payload(world, member, with_user=False)
    dm = message.guild_id is None
    exempt = dm or message.author.id == world.bot_id or world.bot_id in message.mentions.users
    ctx.gateway.dispatch(
        event,
        payload,
        Intent.DIRECT_MESSAGES if dm else Intent.GUILD_MESSAGES,
        guild_id=message.guild_id,
        redacted=None if exempt else {**payload, **_HIDDEN_WITHOUT_CONTENT_INTENT},
    )


def post_message(
    ctx: Context,
    channel: Channel,
    author: User,
    body: Mapping[str, Any],
    *,
    webhook: Webhook | None = None,
    attachments: Sequence[Attachment] = (),
    reply_to: int | None = None,
    interaction: tuple[int, int] | None = None,
) -> Message:
    """Record a message (mentions resolved through allowed_mentions) and dispatch MESSAGE_CREATE."""
    message = draft_message(ctx, channel, author, body, webhook=webhook, attachments=attachments,
                            reply_to=reply_to, interaction=interaction)
    if channel.is_thread and channel.archived:
        update_channel(ctx, replace(channel, archived=False))
    ctx.world.put_message(message)
    dispatch_message(ctx, "MESSAGE_CREATE", message)
    return message


def draft_message(
    ctx: Context,
    channel: Channel,
    author: User,
    body: Mapping[str, Any],
    *,
    webhook: Webhook | None = None,
    attachments: Sequence[Attachment] = (),
    reply_to: int | None = None,
    interaction: tuple[int, int] | None = None,
) -> Message:
    """A new message as it would be posted (an interaction's answer: `interaction` = (its id, its user)), not
    yet recorded or dispatched: an ephemeral one never is."""
    world = ctx.world
    app_id = world.bot_id if interaction is not None else webhook.application_id if webhook else None
    draft = Message(
        id=world.ids.next(),
        channel_id=channel.id,
        author=author,
        content=str(body.get("content") or ""),
        guild_id=channel.guild_id,
        webhook_id=webhook.id if webhook else world.bot_id if interaction is not None else None,
        application_id=app_id,
        reply_to=reply_to,
        embeds=tuple({"type": "rich", **e} for e in body.get("embeds") or ()),
        attachments=tuple(attachments),
        avatar_url=body.get("avatar_url") if webhook else None,
        tts=bool(body.get("tts")),
        flags=int(body.get("flags") or 0),
        nonce=body.get("nonce"),
        interaction=interaction,
    )
    return replace(draft, mentions=_mentions(world, draft, body.get("allowed_mentions"), channel))


def edit_message(
    ctx: Context, message: Message, body: Mapping[str, Any], attachments: Sequence[Attachment] = ()
) -> Message:
    """Apply the fields present in an edit body and dispatch MESSAGE_UPDATE."""
    updated = edited_message(ctx, message, body, attachments)
    ctx.world.put_message(updated)
    dispatch_message(ctx, "MESSAGE_UPDATE", updated)
    return updated


def edited_message(
    ctx: Context, message: Message, body: Mapping[str, Any], attachments: Sequence[Attachment] = ()
) -> Message:
    """`message` with the fields present in an edit body applied, not yet recorded or dispatched."""
    world = ctx.world
    changes: dict[str, Any] = {"edited_at": time.time()}
    if "content" in body:
        changes["content"] = str(body.get("content") or "")
    if "embeds" in body:
        changes["embeds"] = tuple({"type": "rich", **e} for e in body.get("embeds") or ())
    if "flags" in body and body["flags"] is not None:
        changes["flags"] = int(body["flags"])
    if "attachments" in body or attachments:
        kept_ids = {str(a.get("id")) for a in body.get("attachments") or () if isinstance(a, Mapping)}
        kept = tuple(a for a in message.attachments if str(a.id) in kept_ids)
        changes["attachments"] = kept + tuple(attachments)
    updated = replace(message, **changes)
    if "content" in body or "allowed_mentions" in body:
        channel = world.channels[message.channel_id]
        updated = replace(updated, mentions=_mentions(world, updated, body.get("allowed_mentions"), channel))
    return updated


def delete_message(ctx: Context, message: Message) -> None:
    ctx.world.remove_message(message.channel_id, message.id)
    payload: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel_id)}
    dm = message.guild_id is None
    if not dm:
        payload["guild_id"] = str(message.guild_id)
    intent = Intent.DIRECT_MESSAGES if dm else Intent.GUILD_MESSAGES
    ctx.gateway.dispatch("MESSAGE_DELETE", payload, intent, guild_id=message.guild_id)


def _webhooks_changed(ctx: Context, channel_id: int) -> None:
    channel = ctx.world.channels.get(channel_id)
    if channel is not None and channel.guild_id is not None:
        payload = {"guild_id": str(channel.guild_id), "channel_id": str(channel_id)}
        ctx.gateway.dispatch("WEBHOOKS_UPDATE", payload, Intent.GUILD_WEBHOOKS, guild_id=channel.guild_id)


def create_webhook(
    ctx: Context, channel: Channel, name: str, avatar: str | None = None, *, creator_id: int | None = None
) -> Webhook:
    """A new webhook made by the bot (or `creator_id`, another application's bot user); WEBHOOKS_UPDATE."""
    webhook = ctx.world.add_webhook(channel.id, name, creator_id=creator_id)
    if avatar:
        webhook = ctx.world.webhooks[webhook.id] = replace(webhook, avatar=secrets.token_hex(16))
    _webhooks_changed(ctx, channel.id)
    return webhook


def update_webhook(ctx: Context, webhook: Webhook, **changes: Any) -> Webhook:
    """Rename or move a webhook; both the old and the new channel hear WEBHOOKS_UPDATE."""
    updated = ctx.world.webhooks[webhook.id] = replace(webhook, **changes)
    _webhooks_changed(ctx, webhook.channel_id)
    if updated.channel_id != webhook.channel_id:
        _webhooks_changed(ctx, updated.channel_id)
    return updated


def delete_webhooks(ctx: Context, webhooks: Sequence[Webhook]) -> None:
    """Delete webhooks, one WEBHOOKS_UPDATE per affected channel."""
    for webhook in webhooks:
        ctx.world.remove_webhook(webhook.id)
    for channel_id in dict.fromkeys(w.channel_id for w in webhooks):
        _webhooks_changed(ctx, channel_id)


def update_channel(ctx: Context, channel: Channel) -> None:
    ctx.world.put_channel(channel)
    event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
    ctx.gateway.dispatch(event, channel_payload(ctx.world, channel), Intent.GUILDS, guild_id=channel.guild_id)


def start_typing(ctx: Context, channel: Channel, user_id: int) -> None:
    payload: dict[str, Any] = {"channel_id": str(channel.id), "user_id": str(user_id), "timestamp": int(time.time())}
    member = ctx.world.members.get((channel.guild_id or 0, user_id))
    if member is not None:
        payload["guild_id"] = str(channel.guild_id)
        payload["member"] = member_payload(ctx.world, member)
    intent = Intent.DIRECT_MESSAGE_TYPING if channel.is_dm else Intent.GUILD_MESSAGE_TYPING
    ctx.gateway.dispatch("TYPING_START", payload, intent, guild_id=channel.guild_id)


def ensure_user(ctx: Context, user_id: int, username: str, channel: Channel) -> User:
    """A known user, or a new one who joins the channel's guild (GUILD_MEMBER_ADD)."""
    world = ctx.world
    user = world.users.get(user_id) or world.add_user(username, user_id=user_id)
    if channel.guild_id is not None and (channel.guild_id, user.id) not in world.members:
        member = world.add_member(channel.guild_id, user.id)
        payload = {**member_payload(world, member), "guild_id": str(channel.guild_id)}
        ctx.gateway.dispatch("GUILD_MEMBER_ADD", payload, Intent.GUILD_MEMBERS, guild_id=channel.guild_id)
    return user

