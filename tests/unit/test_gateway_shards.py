"""The gateway shards one edge runs: Discord's shard rule, per-shard connection state, per-shard catch-up, and how
status and /healthz show them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

from edge.durable import Redelivery
from edge.routing import RoutingTable
from edge.shards import GatewayShards, guild_id_of, refusal, shard_of
from observability.events import EventLog
from observability.status import shards_text
from tests.unit.test_edge_parts import FakeBridge, FakeChannel, FakeNotices, FakeReader, FakeWork

SANDBOX, ANNEX = (1000 << 22) | 5, (1001 << 22) | 5  # on shards 0 and 1 of 2


def test_discord_puts_a_guild_on_shard_id_shifted_22_modulo_the_count_and_dms_on_zero() -> None:
    assert (shard_of(SANDBOX, 2), shard_of(ANNEX, 2)) == (0, 1)
    assert shard_of(None, 7) == 0 and shard_of(5 << 22, 3) == 2 and shard_of(SANDBOX, 1) == 0
    assert guild_id_of(SimpleNamespace(guild=SimpleNamespace(id=9))) == 9
    assert guild_id_of(SimpleNamespace()) is None  # a DM channel has no guild


def test_an_edge_is_connected_only_while_every_shard_it_runs_is() -> None:
    shards = GatewayShards((1, 3), 4, now=100.0)
    assert shards.down() == [1, 3] and shards.down_since() == 100.0 and not shards.all_connected()
    shards.connected(1)
    shards.connected(3)
    assert shards.all_connected() and shards.down_since() is None
    shards.disconnected(3, 250.0)
    shards.disconnected(3, 260.0)  # still the first loss
    shards.disconnected(2, 255.0)  # not ours: ignored
    assert shards.down() == [3] and shards.down_since() == 250.0 and not shards.all_connected()
    assert shards.view(262.0) == [{"id": 1, "of": 4, "connected": True, "down_s": None},
                                  {"id": 3, "of": 4, "connected": False, "down_s": 12.0}]
    assert (shards.lost_at(1), shards.lost_at(3)) == (100.0, 100.0)  # read back from the start
    shards.connected(3)
    assert shards.lost_at(3) == 250.0 and shards.lost_at(1) == 100.0  # only shard 3 lost anything since


def test_an_edge_carries_only_the_guilds_of_its_shards_and_dms_only_with_shard_zero() -> None:
    assert GatewayShards((1,), 2, 0.0).carries(ANNEX) == 1
    assert GatewayShards((1,), 2, 0.0).carries(SANDBOX) is None
    assert GatewayShards((1,), 2, 0.0).carries(None) is None  # another edge's shard 0 has the DMs
    assert GatewayShards((0, 1), 2, 0.0).carries(None) == 0


def test_a_shards_catch_up_reads_back_only_the_channels_that_shard_carries(tmp_path: Path) -> None:
    table = RoutingTable(activated={7: "lilith", 8: "lilith", 9: "lilith"})
    sandbox_channel, annex_channel, dm = FakeChannel([70]), FakeChannel([80]), FakeChannel([90])
    sandbox_channel.guild, annex_channel.guild = SimpleNamespace(id=SANDBOX), SimpleNamespace(id=ANNEX)
    shards = GatewayShards((0, 1), 2, 0.0)
    for shard, expected in ((1, [80]), (0, [70, 90])):
        reader = FakeReader({7: sandbox_channel, 8: annex_channel, 9: dm})
        redelivery = Redelivery(FakeWork([]), FakeBridge(), table, FakeNotices(), EventLog(tmp_path / "e.log"))
        carries = lambda channel, s=shard: shards.carries(guild_id_of(channel)) == s  # noqa: E731
        assert asyncio.run(redelivery.catch_up(reader, time.time() - 5, carries=carries)) == len(expected)
        assert sorted(reader.handled) == expected


def test_status_names_the_shards_of_a_sharded_edge_only() -> None:
    assert shards_text({"gateway_shards": [{"id": 0, "of": 1, "connected": True, "down_s": None}]}) == ""
    assert shards_text({}) == ""
    two = [{"id": 0, "of": 2, "connected": True, "down_s": None}, {"id": 1, "of": 2, "connected": False,
                                                                      "down_s": 12.4}]
    assert shards_text({"gateway_shards": two}) == "  (shards 0/2 up, 1/2 down 12 s)"


def test_a_sharding_close_code_is_told_as_the_setting_to_change() -> None:
    assert refusal(4011, None, 1) == (
        "the gateway refused the connection with close code 4011 (sharding required: the bot has more guilds "
        "than TZUROT_SHARD_COUNT allows; set it to the count GET /gateway/bot recommends (the same on every edge))")
    assert refusal(4010, 2, 3).startswith("the gateway refused shard 2 of 3 with close code 4010 (invalid shard")
    assert refusal(4004, 0, 1) is None and refusal(None, None, 1) is None  # others are not about sharding
