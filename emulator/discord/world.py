"""The in-memory Discord: users, guilds, roles, members, channels, webhooks and messages.

Only the emulator's event loop touches a running world; tests build variants before starting it.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace

from .files import FILE_STORE_CAP, FileStore
from .journal import Journal
from .models import Application, Channel, ChannelType, Guild, Member, Message, Overwrite, Role, User, Webhook
from .permissions import BOT_DEFAULT, EVERYONE_DEFAULT
from .snowflake import SnowflakeGenerator

MESSAGES_PER_CHANNEL_CAP = 5_000
"""Oldest messages of a channel are forgotten beyond this many, to keep long runs bounded."""
PLURALKIT_APPLICATION_ID = 466378653216014359


class World:
    """Tables of records keyed by id; a changed record is replaced, so readers never see half an edit."""

    def __init__(
        self,
        bot_name: str = "Tzurot",
        *,
        message_cap: int = MESSAGES_PER_CHANNEL_CAP,
        file_cap: int = FILE_STORE_CAP,
    ) -> None:
        self.ids = SnowflakeGenerator()
        self.journal = Journal()
        self.message_cap = message_cap
        self.files = FileStore(file_cap)
        self.applications: dict[int, Application] = {}
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.roles: dict[int, Role] = {}
        self.members: dict[tuple[int, int], Member] = {}
        self.channels: dict[int, Channel] = {}
        self.webhooks: dict[int, Webhook] = {}
        self._messages: dict[int, OrderedDict[int, Message]] = {}
        self.bot_id = self.add_user(bot_name, bot=True).id

    @property
    def bot(self) -> User:
        return self.users[self.bot_id]

    # --- building -------------------------------------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False, user_id: int | None = None) -> User:
        user = User(id=user_id if user_id is not None else self.ids.next(), username=username, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, owner_id: int, *, on_shard: tuple[int, int] | None = None) -> Guild:
        """A guild with its @everyone role; the bot joins it with a managed role of its own. `on_shard`
        (shard id, shard count) picks an id that gateway shard owns."""
        guild_id = self.ids.next() if on_shard is None else self.ids.next_on_shard(*on_shard)
        guild = Guild(id=guild_id, name=name, owner_id=owner_id)
        self.guilds[guild.id] = guild
        self.roles[guild.id] = Role(id=guild.id, guild_id=guild.id, name="@everyone", permissions=EVERYONE_DEFAULT)
        bot_role = self.add_role(guild.id, self.bot.username, BOT_DEFAULT, managed=True, bot_id=self.bot_id)
        self.add_member(guild.id, owner_id)
        self.add_member(guild.id, self.bot_id, roles=(bot_role.id,))
        return guild

    def add_role(
        self, guild_id: int, name: str, permissions: int, *, managed: bool = False, bot_id: int | None = None
    ) -> Role:
        position = sum(1 for r in self.roles.values() if r.guild_id == guild_id)
        role = Role(self.ids.next(), guild_id, name, permissions, position, managed, bot_id)
        self.roles[role.id] = role
        return role

    def add_member(self, guild_id: int, user_id: int, roles: Iterable[int] = ()) -> Member:
        member = Member(guild_id=guild_id, user_id=user_id, joined_at=time.time(), roles=tuple(roles))
        self.members[(guild_id, user_id)] = member
        return member

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        nsfw: bool = False,
        topic: str | None = None,
        overwrites: Iterable[Overwrite] = (),
    ) -> Channel:
        position = len(self.guild_channels(guild_id))
        channel = Channel(
            id=self.ids.next(),
            type=ChannelType.GUILD_TEXT,
            name=name,
            guild_id=guild_id,
            position=position,
            nsfw=nsfw,
            topic=topic,
            overwrites=tuple(overwrites),
        )
        return self.put_channel(channel)

    def add_thread(self, parent_id: int, name: str, *, owner_id: int | None = None) -> Channel:
        parent = self.channels[parent_id]
        thread = Channel(
            id=self.ids.next(),
            type=ChannelType.PUBLIC_THREAD,
            name=name,
            guild_id=parent.guild_id,
            parent_id=parent_id,
            owner_id=owner_id if owner_id is not None else self.bot_id,
            nsfw=parent.nsfw,
        )
        return self.put_channel(thread)

    def add_dm(self, user_id: int) -> Channel:
        """The DM channel between a user and the bot (one per user, made on first need)."""
        existing = self.dm_for(user_id)
        if existing is not None:
            return existing
        return self.put_channel(Channel(id=self.ids.next(), type=ChannelType.DM, recipient_id=user_id))

    def add_webhook(self, channel_id: int, name: str, *, creator_id: int | None = None) -> Webhook:
        channel = self.channels[channel_id]
        assert channel.guild_id is not None, "DM channels have no webhooks"
        creator = self.users[creator_id if creator_id is not None else self.bot_id]
        webhook = Webhook(
            id=self.ids.next(),
            channel_id=channel_id,
            guild_id=channel.guild_id,
            name=name,
            token=secrets.token_urlsafe(51),
            creator_id=creator.id,
            application_id=creator.id if creator.bot else None,
        )
        self.webhooks[webhook.id] = webhook
        return webhook

    def add_proxy_app(
        self, name: str = "PluralKit", application_id: int = PLURALKIT_APPLICATION_ID
    ) -> Application:
        """Another bot application (PluralKit by default) whose bot user, of the same id, joins every guild
        with a managed role that may manage messages and webhooks; see `DiscordEmulator.proxy_message`.
        Call it before starting the emulator, or on its loop (then clients hear of no new member)."""
        existing = self.applications.get(application_id)
        if existing is not None:
            return existing
        user = self.users.get(application_id) or self.add_user(name, bot=True, user_id=application_id)
        for guild_id in self.guilds:
            if (guild_id, user.id) not in self.members:
                role = self.add_role(guild_id, name, BOT_DEFAULT, managed=True, bot_id=user.id)
                self.add_member(guild_id, user.id, roles=(role.id,))
        application = self.applications[application_id] = Application(application_id, name, user.id)
        return application

    def set_overwrite(self, channel_id: int, overwrite: Overwrite) -> Channel:
        """Add or replace the channel's overwrite for the same role or member."""
        channel = self.channels[channel_id]
        kept = tuple(ow for ow in channel.overwrites if ow.id != overwrite.id)
        return self.put_channel(replace(channel, overwrites=(*kept, overwrite)))

    def put_channel(self, channel: Channel) -> Channel:
        self.channels[channel.id] = channel
        self._messages.setdefault(channel.id, OrderedDict())
        return channel

    def remove_webhook(self, webhook_id: int) -> Webhook | None:
        return self.webhooks.pop(webhook_id, None)

    # --- lookups --------------------------------------------------------------------------------

    def channel_named(self, name: str) -> Channel:
        """The first guild channel or thread with this name (test convenience)."""
        return next(c for c in self.channels.values() if c.name == name)

    def user_named(self, username: str) -> User:
        return next(u for u in self.users.values() if u.username == username)

    def dm_for(self, user_id: int) -> Channel | None:
        return next((c for c in self.channels.values() if c.is_dm and c.recipient_id == user_id), None)

    def guild_channels(self, guild_id: int) -> list[Channel]:
        return [c for c in self.channels.values() if c.guild_id == guild_id and not c.is_thread]

    def guild_threads(self, guild_id: int) -> list[Channel]:
        return [c for c in self.channels.values() if c.guild_id == guild_id and c.is_thread]

    def guild_roles(self, guild_id: int) -> list[Role]:
        return [r for r in self.roles.values() if r.guild_id == guild_id]

    def guild_members(self, guild_id: int) -> list[Member]:
        return [m for (g, _), m in self.members.items() if g == guild_id]

    def webhooks_in(self, channel_id: int) -> list[Webhook]:
        return [w for w in self.webhooks.values() if w.channel_id == channel_id]

    # --- messages -------------------------------------------------------------------------------

    def put_message(self, message: Message) -> None:
        """Store a new or edited message; the oldest falls off past the per-channel cap."""
        log = self._messages.setdefault(message.channel_id, OrderedDict())
        log[message.id] = message
        while len(log) > self.message_cap:
            log.popitem(last=False)

    def remove_message(self, channel_id: int, message_id: int) -> Message | None:
        return self._messages.get(channel_id, OrderedDict()).pop(message_id, None)

    def message(self, channel_id: int, message_id: int) -> Message | None:
        return self._messages.get(channel_id, OrderedDict()).get(message_id)

    def last_message_id(self, channel_id: int) -> int | None:
        log = self._messages.get(channel_id)
        return next(reversed(log)) if log else None

    def message_count(self, channel_id: int) -> int:
        return len(self._messages.get(channel_id, ()))

    def messages(self, channel_id: int) -> list[Message]:
        """All kept messages of a channel, oldest first."""
        return list(self._messages.get(channel_id, OrderedDict()).values())

    def history(
        self, channel_id: int, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> list[Message]:
        """Discord's paging: newest first; with `after`, the `limit` messages right after it."""
        kept = self.messages(channel_id)
        if after is not None:
            return [m for m in kept if m.id > after][:limit][::-1]
        if before is not None:
            kept = [m for m in kept if m.id < before]
        return kept[::-1][:limit]


def default_world() -> World:
    """Guild "Sandbox": #general, age-restricted #lounge, #help with thread "ideas"; guild "Annex": #commons
    and #workshop; alice, bob, carol in both, with DMs to the bot Tzurot, which may manage webhooks everywhere.
    With two gateway shards, Sandbox is on shard 0 and Annex on shard 1 (`(guild_id >> 22) % 2`), so both
    carry traffic."""
    world = World()
    alice, bob, carol = (world.add_user(name) for name in ("alice", "bob", "carol"))
    guild = world.add_guild("Sandbox", owner_id=alice.id, on_shard=(0, 2))
    for user in (bob, carol):
        world.add_member(guild.id, user.id)
    world.add_channel(guild.id, "general", topic="Talk to the personalities here")
    world.add_channel(guild.id, "lounge", nsfw=True, topic="Age-restricted")
    help_channel = world.add_channel(guild.id, "help")
    world.add_thread(help_channel.id, "ideas", owner_id=alice.id)
    annex = world.add_guild("Annex", owner_id=bob.id, on_shard=(1, 2))
    for user in (alice, carol):
        world.add_member(annex.id, user.id)
    world.add_channel(annex.id, "commons", topic="The second guild: another gateway shard")
    world.add_channel(annex.id, "workshop")
    for user in (alice, bob, carol):
        world.add_dm(user.id)
    return world
