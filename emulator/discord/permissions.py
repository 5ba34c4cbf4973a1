"""Discord's permission bits and its overwrite algorithm, so the server enforces what clients compute."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import OverwriteType

if TYPE_CHECKING:
    from .world import World

CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CHANGE_NICKNAME = 1 << 26
MANAGE_WEBHOOKS = 1 << 29
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL = (1 << 51) - 1

EVERYONE_DEFAULT = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | USE_EXTERNAL_EMOJIS
    | CHANGE_NICKNAME
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_DEFAULT = EVERYONE_DEFAULT | MANAGE_MESSAGES | MANAGE_WEBHOOKS | MANAGE_THREADS
DM_PERMISSIONS = ADD_REACTIONS | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY


def guild_permissions(world: World, guild_id: int, user_id: int) -> int:
    """Base permissions from the member's roles; owners and administrators get everything."""
    guild = world.guilds[guild_id]
    member = world.members.get((guild_id, user_id))
    if member is None:
        return 0
    if user_id == guild.owner_id:
        return ALL
    perms = world.roles[guild_id].permissions
    for role_id in member.roles:
        role = world.roles.get(role_id)
        perms |= role.permissions if role else 0
    return ALL if perms & ADMINISTRATOR else perms


def channel_permissions(world: World, channel_id: int, user_id: int) -> int:
    """Permissions in a channel: @everyone, then role, then member overwrites; threads use their parent."""
    channel = world.channels[channel_id]
    if channel.is_dm:
        return DM_PERMISSIONS if user_id in (channel.recipient_id, world.bot_id) else 0
    if channel.is_thread and channel.parent_id is not None:
        channel = world.channels[channel.parent_id]
    assert channel.guild_id is not None
    member = world.members.get((channel.guild_id, user_id))
    if member is None:
        return 0
    perms = guild_permissions(world, channel.guild_id, user_id)
    if perms == ALL:
        return ALL
    overwrites = {ow.id: ow for ow in channel.overwrites}
    everyone = overwrites.get(channel.guild_id)
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for ow in channel.overwrites:
        if ow.type == OverwriteType.ROLE and ow.id in member.roles:
            allow, deny = allow | ow.allow, deny | ow.deny
    perms = (perms & ~deny) | allow
    own = overwrites.get(user_id)
    if own is not None and own.type == OverwriteType.MEMBER:
        perms = (perms & ~own.deny) | own.allow
    # A channel one cannot see grants nothing else either.
    return perms if perms & VIEW_CHANNEL else 0


def has_permission(world: World, channel_id: int, user_id: int, needed: int) -> bool:
    """True when the user holds every bit of `needed` in the channel."""
    return channel_permissions(world, channel_id, user_id) & needed == needed
