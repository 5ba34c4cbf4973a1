"""Fetch a record or fail the way Discord does (Unknown X, Missing Permissions)."""

from __future__ import annotations

from .errors import (
    INVALID_WEBHOOK_TOKEN,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_MESSAGE,
    UNKNOWN_USER,
    UNKNOWN_WEBHOOK,
)
from .models import Channel, Guild, Message, User, Webhook
from .permissions import VIEW_CHANNEL, channel_permissions
from .world import World


def require_channel(world: World, channel_id: int) -> Channel:
    channel = world.channels.get(channel_id)
    if channel is None:
        raise UNKNOWN_CHANNEL()
    return channel


def require_message(world: World, channel_id: int, message_id: int) -> Message:
    message = world.message(channel_id, message_id)
    if message is None:
        raise UNKNOWN_MESSAGE()
    return message


def require_webhook(world: World, webhook_id: int, token: str | None = None) -> Webhook:
    """The webhook, checking its token when the route carries one."""
    webhook = world.webhooks.get(webhook_id)
    if webhook is None:
        raise UNKNOWN_WEBHOOK()
    if token is not None and token != webhook.token:
        raise INVALID_WEBHOOK_TOKEN()
    return webhook


def require_guild(world: World, guild_id: int) -> Guild:
    guild = world.guilds.get(guild_id)
    if guild is None or (guild_id, world.bot_id) not in world.members:
        raise UNKNOWN_GUILD()
    return guild


def require_user(world: World, user_id: int) -> User:
    user = world.users.get(user_id)
    if user is None:
        raise UNKNOWN_USER()
    return user


def require_permission(world: World, channel: Channel, needed: int) -> None:
    """The bot must hold `needed` here: 50001 when it cannot even see the channel, else 50013."""
    held = channel_permissions(world, channel.id, world.bot_id)
    if not held & VIEW_CHANNEL:
        raise MISSING_ACCESS()
    if held & needed != needed:
        raise MISSING_PERMISSIONS()
