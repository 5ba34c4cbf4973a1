"""The world's pure parts: snowflakes, permissions, paging, mentions, rate-limit windows."""

from __future__ import annotations

from emulator.discord import Overwrite, OverwriteType, RateLimits, default_world
from emulator.discord.mentions import resolve_mentions
from emulator.discord.models import Message
from emulator.discord.permissions import (
    ALL,
    MANAGE_WEBHOOKS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    channel_permissions,
    has_permission,
)
from emulator.discord.ratelimit import BucketRule, RateLimiter
from emulator.discord.snowflake import SnowflakeGenerator, snowflake_seconds


def test_snowflakes_increase_and_carry_their_time() -> None:
    generator = SnowflakeGenerator(clock=lambda: 1_700_000_000.0)
    ids = [generator.next() for _ in range(5000)]  # more than one millisecond's worth of increments
    assert ids == sorted(set(ids))
    assert abs(snowflake_seconds(ids[0]) - 1_700_000_000.0) < 0.001


def test_bot_may_manage_webhooks_everywhere_by_default_and_overwrites_apply() -> None:
    world = default_world()
    general, lounge, ideas = (world.channel_named(n) for n in ("general", "lounge", "ideas"))
    assert all(has_permission(world, c.id, world.bot_id, MANAGE_WEBHOOKS) for c in (general, lounge, ideas))
    bob = world.user_named("bob").id
    assert not has_permission(world, general.id, bob, MANAGE_WEBHOOKS)
    assert channel_permissions(world, general.id, world.user_named("alice").id) == ALL  # the owner

    world.set_overwrite(general.id, Overwrite(world.bot_id, OverwriteType.MEMBER, deny=MANAGE_WEBHOOKS))
    assert not has_permission(world, general.id, world.bot_id, MANAGE_WEBHOOKS)
    guild_id = general.guild_id
    assert guild_id is not None
    world.set_overwrite(general.id, Overwrite(guild_id, OverwriteType.ROLE, deny=VIEW_CHANNEL))
    assert channel_permissions(world, general.id, bob) == 0
    helper = world.add_role(guild_id, "helper", 0)
    world.add_member(guild_id, bob, roles=[helper.id])
    world.set_overwrite(general.id, Overwrite(helper.id, OverwriteType.ROLE, allow=VIEW_CHANNEL))
    assert has_permission(world, general.id, bob, VIEW_CHANNEL | SEND_MESSAGES)


def test_history_pages_like_discord() -> None:
    world = default_world()
    channel = world.channel_named("general").id
    author = world.user_named("alice")
    ids = []
    for n in range(5):
        message = Message(id=world.ids.next(), channel_id=channel, author=author, content=str(n))
        world.put_message(message)
        ids.append(message.id)
    assert [m.id for m in world.history(channel, limit=2)] == [ids[4], ids[3]]
    assert [m.id for m in world.history(channel, before=ids[2])] == [ids[1], ids[0]]
    assert [m.id for m in world.history(channel, after=ids[1], limit=2)] == [ids[3], ids[2]]


def test_allowed_mentions_filtering() -> None:
    known = {1, 2}
    content = "@here <@1> <@!2> <@3> <@&9>"

    def mentions(allowed: dict | None, everyone: bool = True, replied: int | None = None) -> tuple:
        found = resolve_mentions(
            content,
            allowed,
            known_users=known,
            known_roles={9},
            may_mention_everyone=everyone,
            replied_author=replied,
        )
        return found.users, found.roles, found.everyone

    assert mentions(None) == ((1, 2), (9,), True)
    assert mentions(None, everyone=False) == ((1, 2), (9,), False)
    assert mentions({"parse": []}) == ((), (), False)
    assert mentions({"parse": [], "users": ["2"]}) == ((2,), (), False)
    assert mentions({"parse": ["roles"]}, replied=5) == ((), (9,), False)
    assert mentions({"parse": [], "replied_user": True}, replied=5) == ((5,), (), False)


def test_fixed_windows_reset_after_their_period() -> None:
    now = [100.0]
    limiter = RateLimiter(RateLimits(global_per_second=1000), clock=lambda: now[0])
    rule = BucketRule("test", 2, 1.0)
    results = [limiter.admit("bot", rule, "channel_id=1")[1] for _ in range(3)]
    assert results[:2] == [None, None] and results[2] is not None and results[2].retry_after == 1.0
    assert limiter.admit("bot", rule, "channel_id=2")[1] is None
    now[0] = 101.0
    state, limited = limiter.admit("bot", rule, "channel_id=1")
    assert limited is None and state is not None and state.remaining == 1
