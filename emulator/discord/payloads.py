"""World records rendered as Discord JSON payloads (ids as strings, fields discord.py requires)."""

from __future__ import annotations

from typing import Any

from .models import Attachment, Channel, Guild, Member, Message, Overwrite, Role, User, Webhook
from .snowflake import iso_time, snowflake_iso
from .world import World

Payload = dict[str, Any]
_THREAD_ARCHIVE_MINUTES = 1440
MESSAGE_TYPE_DEFAULT = 0
MESSAGE_TYPE_REPLY = 19
MESSAGE_TYPE_CHAT_INPUT_COMMAND = 20


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def user_payload(user: User, *, webhook: bool = False) -> Payload:
    return {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0000" if webhook else "0",
        "global_name": user.global_name,
        "avatar": user.avatar,
        "bot": user.bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "primary_guild": None,
    }


def member_payload(world: World, member: Member, *, with_user: bool = True) -> Payload:
    payload: Payload = {
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in member.roles],
        "joined_at": iso_time(member.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        payload["user"] = user_payload(world.users[member.user_id])
    return payload


def role_payload(role: Role) -> Payload:
    payload: Payload = {
        "id": str(role.id),
        "name": role.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": False,
        "flags": 0,
    }
    if role.bot_id is not None:
        payload["tags"] = {"bot_id": str(role.bot_id)}
    return payload


def overwrite_payload(overwrite: Overwrite) -> Payload:
    return {
        "id": str(overwrite.id),
        "type": int(overwrite.type),
        "allow": str(overwrite.allow),
        "deny": str(overwrite.deny),
    }


def channel_payload(world: World, channel: Channel) -> Payload:
    payload: Payload = {
        "id": str(channel.id),
        "type": int(channel.type),
        "flags": 0,
        "last_message_id": _sid(world.last_message_id(channel.id)),
    }
    if channel.is_dm:
        assert channel.recipient_id is not None
        payload["recipients"] = [user_payload(world.users[channel.recipient_id])]
        return payload
    payload.update(
        guild_id=_sid(channel.guild_id),
        name=channel.name,
        nsfw=channel.nsfw,
        parent_id=_sid(channel.parent_id),
        rate_limit_per_user=0,
    )
    if channel.is_thread:
        count = world.message_count(channel.id)
        created = snowflake_iso(channel.id)
        payload.update(
            owner_id=_sid(channel.owner_id),
            message_count=count,
            total_message_sent=count,
            member_count=1,
            thread_metadata={
                "archived": channel.archived,
                "auto_archive_duration": _THREAD_ARCHIVE_MINUTES,
                "archive_timestamp": created,
                "locked": channel.locked,
                "create_timestamp": created,
            },
        )
    else:
        payload.update(
            position=channel.position,
            topic=channel.topic,
            permission_overwrites=[overwrite_payload(ow) for ow in channel.overwrites],
        )
    return payload


def guild_payload(world: World, guild: Guild) -> Payload:
    """The full guild object of GUILD_CREATE, with channels, roles, members and active threads."""
    members = world.guild_members(guild.id)
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "vanity_url_code": None,
        "application_id": None,
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [role_payload(r) for r in world.guild_roles(guild.id)],
        "joined_at": iso_time(world.members[(guild.id, world.bot_id)].joined_at),
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "members": [member_payload(world, m) for m in members],
        "channels": [channel_payload(world, c) for c in world.guild_channels(guild.id)],
        "threads": [channel_payload(world, t) for t in world.guild_threads(guild.id) if not t.archived],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def attachment_payload(attachment: Attachment) -> Payload:
    return {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "size": attachment.size,
        "url": attachment.url,
        "proxy_url": attachment.url,
        "content_type": attachment.content_type,
        "description": attachment.description,
    }


def message_payload(world: World, message: Message, *, with_reference: bool = True) -> Payload:
    payload: Payload = {
        "id": str(message.id),
        "type": MESSAGE_TYPE_REPLY if message.reply_to is not None else MESSAGE_TYPE_DEFAULT,
        "channel_id": str(message.channel_id),
        "author": user_payload(message.author, webhook=message.webhook_id is not None),
        "content": message.content,
        "timestamp": snowflake_iso(message.id),
        "edited_timestamp": None if message.edited_at is None else iso_time(message.edited_at),
        "tts": message.tts,
        "mention_everyone": message.mentions.everyone,
        "mentions": [user_payload(world.users[u]) for u in message.mentions.users if u in world.users],
        "mention_roles": [str(r) for r in message.mentions.roles],
        "attachments": [attachment_payload(a) for a in message.attachments],
        "embeds": list(message.embeds),
        "components": [],
        "pinned": False,
        "flags": message.flags,
    }
    if message.guild_id is not None:
        payload["guild_id"] = str(message.guild_id)
    if message.webhook_id is not None:
        payload["webhook_id"] = str(message.webhook_id)
    if message.application_id is not None:
        payload["application_id"] = str(message.application_id)
    if message.nonce is not None:
        payload["nonce"] = message.nonce
    if message.interaction is not None:
        payload["type"] = MESSAGE_TYPE_CHAT_INPUT_COMMAND
        interaction_id, user_id = message.interaction
        payload["interaction_metadata"] = {"id": str(interaction_id), "type": 2, "user": user_payload(
            world.users[user_id]), "authorizing_integration_owners": {}}
    if message.reply_to is not None:
        reference: Payload = {"type": 0, "message_id": str(message.reply_to), "channel_id": str(message.channel_id)}
        if message.guild_id is not None:
            reference["guild_id"] = str(message.guild_id)  # left out in DMs, as Discord does
        payload["message_reference"] = reference
    if message.reply_to is not None and with_reference:
        # As Discord: the replied-to message (one level deep), or null once it was deleted. Discord also leaves
        # the field out when it did not fetch the message; a client must then treat its author as unknown.
        replied = world.message(message.channel_id, message.reply_to)
        payload["referenced_message"] = (
            None if replied is None else message_payload(world, replied, with_reference=False)
        )
    return payload


def webhook_payload(world: World, webhook: Webhook, *, with_user: bool = True) -> Payload:
    """Incoming webhooks come with their token; fetched by token they come without `user`."""
    payload: Payload = {
        "id": str(webhook.id),
        "type": 1,
        "guild_id": str(webhook.guild_id),
        "channel_id": str(webhook.channel_id),
        "name": webhook.name,
        "avatar": webhook.avatar,
        "application_id": _sid(webhook.application_id),
        "token": webhook.token,
    }
    if with_user:
        payload["user"] = user_payload(world.users[webhook.creator_id])
    return payload


def application_payload(world: World) -> Payload:
    """The bot's application; its id equals the bot user's id, as for modern Discord apps."""
    owner = next((u for u in world.users.values() if not u.bot), world.bot)
    return {
        "id": str(world.bot_id),
        "name": world.bot.username,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "owner": user_payload(owner),
        "team": None,
        "bot": user_payload(world.bot),
        "redirect_uris": [],
        "approximate_guild_count": len(world.guilds),
    }


def ready_payload(
    world: World, guild_ids: list[int], session_id: str, resume_url: str, shard: list[int] | None
) -> Payload:
    """READY: the bot user, its guilds as unavailable stubs (GUILD_CREATE follows), and where to resume."""
    payload: Payload = {
        "v": 10,
        "user": user_payload(world.bot),
        "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "application": {"id": str(world.bot_id), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "user_settings": {},
        "geo_ordered_rtc_regions": [],
    }
    if shard is not None:
        payload["shard"] = shard
    return payload
