"""Gateway sharding as Discord does it: IDENTIFY's `shard` checked, each guild's events only to the shard that owns
it (`(guild_id >> 22) % shard_count`), DMs only to shard 0, the shard count in `GET /gateway/bot`."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord

from emulator.discord import DiscordEmulator, default_world
from emulator.discord.openapi import load_spec
from emulator.discord.snowflake import SnowflakeGenerator, shard_of
from tests.emulator.helpers import TOKEN, call, discord_bot, post_as, run_raw, running

INTENTS = (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15)  # guilds, guild messages, DMs, message content


async def _frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    return await ws.receive_json(timeout=5)


async def _identify(session: aiohttp.ClientSession, emulator: DiscordEmulator, **extra: Any) -> Any:
    ws = await session.ws_connect(emulator.gateway_url + "?v=10&encoding=json")
    assert (await _frame(ws))["op"] == 10
    await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": INTENTS, "properties": {}, **extra}})
    return ws


async def _closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    message = await ws.receive(timeout=5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
    return ws.close_code


async def _ready(ws: aiohttp.ClientWebSocketResponse) -> tuple[dict[str, Any], list[str]]:
    """READY's payload and the names of the guilds whose GUILD_CREATE follows it."""
    ready = await _frame(ws)
    assert ready["t"] == "READY"
    creates = [await _frame(ws) for _ in ready["d"]["guilds"]]
    assert {c["t"] for c in creates} <= {"GUILD_CREATE"}
    return ready["d"], [c["d"]["name"] for c in creates]


def test_the_default_world_puts_its_two_guilds_on_different_shards_of_two() -> None:
    world = default_world()
    sandbox, annex = world.guilds.values()
    assert (sandbox.name, annex.name) == ("Sandbox", "Annex")
    assert (shard_of(sandbox.id, 2), shard_of(annex.id, 2)) == (0, 1)
    assert shard_of(None, 2) == 0  # DMs
    ids = SnowflakeGenerator(clock=lambda: 1_700_000_000.0)
    picked = [ids.next_on_shard(shard, 3) for shard in (2, 2, 0, 1)]
    assert [shard_of(i, 3) for i in picked] == [2, 2, 0, 1] and picked == sorted(set(picked))


def test_identify_with_a_bad_shard_is_closed_as_discord_does() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        cases: list[tuple[dict[str, Any], int]] = [
            ({}, 4011),  # no shard while two are expected: sharding required
            ({"shard": [0, 1]}, 4011),  # fewer shards than expected
            ({"shard": [2, 2]}, 4010),  # the id must be below the count
            ({"shard": [-1, 2]}, 4010),
            ({"shard": [0, 3]}, 4010),  # more shards than expected (see the gateway module's policy)
            ({"shard": ["0", 2]}, 4010),
            ({"shard": [0]}, 4010),
            ({"shard": [True, 2]}, 4010),
        ]
        for extra, code in cases:
            ws = await _identify(session, emulator, **extra)
            assert await _closed_with(ws) == code, extra
        ok = await _identify(session, emulator, shard=[1, 2])
        ready, guilds = await _ready(ok)
        assert ready["shard"] == [1, 2] and guilds == ["Annex"]
        await ok.close()

    run_raw(scenario, shards=2)


def test_one_shard_expected_takes_no_shard_or_zero_of_one() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        ws = await _identify(session, emulator, shard=[1, 1])
        assert await _closed_with(ws) == 4010
        for extra in ({}, {"shard": [0, 1]}):
            ws = await _identify(session, emulator, **extra)
            _, guilds = await _ready(ws)
            assert guilds == ["Sandbox", "Annex"]
            await ws.close()

    run_raw(scenario)


def test_guild_events_reach_only_their_shard_and_dms_only_shard_zero() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        world = emulator.world
        general, commons = world.channel_named("general").id, world.channel_named("commons").id
        dm = world.dm_for(world.user_named("carol").id)
        assert dm is not None
        zero, one = await _identify(session, emulator, shard=[0, 2]), await _identify(session, emulator, shard=[1, 2])
        (ready0, guilds0), (ready1, guilds1) = await _ready(zero), await _ready(one)
        assert (ready0["shard"], guilds0, ready1["shard"], guilds1) == ([0, 2], ["Sandbox"], [1, 2], ["Annex"])
        assert emulator.gateway_state()["connected_shards"] == [0, 1]

        in_sandbox = await post_as(session, emulator, general, "alice", "hello sandbox")
        in_annex = await post_as(session, emulator, commons, "bob", "hello annex")
        in_dm = await post_as(session, emulator, dm.id, "carol", "psst")
        # Each shard's next frames, in order: nothing of the other guild comes between (or after) them.
        seen0 = [(await _frame(zero))["d"]["id"] for _ in range(2)]
        seen1 = [(await _frame(one))["d"]["id"]]
        assert seen0 == [str(in_sandbox), str(in_dm)] and seen1 == [str(in_annex)]
        await one.send_json({"op": 1, "d": None})
        assert await _frame(one) == {"op": 11}  # the next frame on shard 1 is the heartbeat's ACK: no DM came
        await zero.close()
        await one.close()

    run_raw(scenario, shards=2)


def test_gateway_bot_gives_the_shard_count_as_the_spec_describes_it() -> None:
    spec = load_spec()
    operation = spec.match("GET", ["gateway", "bot"])
    assert not isinstance(operation, int)

    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        answer = await call(session, emulator, "GET", "/gateway/bot")
        assert answer.status == 200 and answer.body["shards"] == 2
        assert answer.body["url"] == emulator.gateway_url
        assert spec.check_response(operation.operation, 200, answer.body) == []

    run_raw(scenario, shards=2)
    # The check is not vacuous: a body without `shards`, or with a text count, breaks the description.
    limit = {"total": 1, "remaining": 1, "reset_after": 1, "max_concurrency": 1}
    assert spec.check_response(operation.operation, 200, {"url": "ws://x", "session_start_limit": limit}) != []
    wrong = {"url": "ws://x", "session_start_limit": limit, "shards": "2"}
    assert spec.check_response(operation.operation, 200, wrong) != []


def test_two_discord_py_clients_as_shards_of_two_each_see_only_their_guilds() -> None:
    async def scenario() -> None:
        async with running(shards=2) as emulator, aiohttp.ClientSession() as session:
            sharded = {"client_class": discord.AutoShardedClient, "shard_count": 2}
            async with discord_bot(emulator, shard_ids=[0], **sharded) as zero, \
                    discord_bot(emulator, shard_ids=[1], **sharded) as one:
                assert [g.name for g in zero.client.guilds] == ["Sandbox"]
                assert [g.name for g in one.client.guilds] == ["Annex"]
                world = emulator.world
                dm = world.dm_for(world.user_named("alice").id)
                assert dm is not None
                posted = {
                    "sandbox": await post_as(session, emulator, world.channel_named("general").id, "alice", "s"),
                    "annex": await post_as(session, emulator, world.channel_named("workshop").id, "carol", "a"),
                    "dm": await post_as(session, emulator, dm.id, "alice", "d"),
                    "annex2": await post_as(session, emulator, world.channel_named("commons").id, "bob", "a2"),
                    "last": await post_as(session, emulator, world.channel_named("lounge").id, "bob", "l"),
                }
                # In the order posted: a message routed to the wrong shard would come between these.
                got0 = [(await zero.next_message()).id for _ in range(3)]
                got1 = [(await one.next_message()).id for _ in range(2)]
                assert got0 == [posted["sandbox"], posted["dm"], posted["last"]]
                assert got1 == [posted["annex"], posted["annex2"]]
                assert emulator.violations() == []

    asyncio.run(scenario())
