"""The gateway shards one edge runs, and since when each is connected or lost.

Discord puts a guild's events on shard `(guild_id >> 22) % shard_count` and DMs on shard 0; an edge runs some
of the bot's shards (TZUROT_SHARD_IDS) and answers for those alone: it is healthy only while every one of them
is connected, and after a shard's new session it catches up only the channels that shard carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """Discord's rule: the shard that receives a guild's events; DMs (no guild) are on shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


def guild_id_of(channel: Any) -> int | None:
    """The guild a discord.py channel (or thread) belongs to; None for a DM."""
    guild = getattr(channel, "guild", None)
    return None if guild is None else int(guild.id)


class GatewayShards:
    """Per shard: when it was lost (None while connected), and when it was lost before its current connection
    (where a catch-up after a new session reads back from). Every shard starts lost at `now` (the start)."""

    def __init__(self, shard_ids: Sequence[int], shard_count: int, now: float) -> None:
        self.count = shard_count
        self.ids = tuple(shard_ids)
        self._down: dict[int, float | None] = dict.fromkeys(self.ids, now)
        self._lost: dict[int, float] = dict.fromkeys(self.ids, now)

    def runs(self, shard: int) -> bool:
        return shard in self._down

    def carries(self, guild_id: int | None) -> int | None:
        """The shard of ours that carries this guild (or DMs), or None when another edge's shard does."""
        shard = shard_of(guild_id, self.count)
        return shard if self.runs(shard) else None

    def connected(self, shard: int) -> None:
        down = self._down.get(shard)
        if down is not None:
            self._lost[shard] = down  # a new session reads back from here (its READY comes next)
        if self.runs(shard):
            self._down[shard] = None

    def disconnected(self, shard: int, now: float) -> None:
        if self.runs(shard) and self._down[shard] is None:
            self._down[shard] = now

    def lost_at(self, shard: int) -> float:
        return self._lost[shard]

    def all_connected(self) -> bool:
        return all(down is None for down in self._down.values())

    def down(self) -> list[int]:
        return [shard for shard, down in self._down.items() if down is not None]

    def down_since(self) -> float | None:
        """When the longest-lost shard of ours was lost; None while all are connected."""
        return min((down for down in self._down.values() if down is not None), default=None)

    def view(self, now: float) -> list[dict[str, Any]]:
        """What /status shows: each shard, connected or for how long it has been down."""
        return [{"id": shard, "of": self.count, "connected": down is None,
                 "down_s": None if down is None else round(now - down, 1)} for shard, down in self._down.items()]


REFUSALS = {
    4010: "invalid shard: TZUROT_SHARD_IDS or TZUROT_SHARD_COUNT do not fit the gateway's sharding",
    4011: "sharding required: the bot has more guilds than TZUROT_SHARD_COUNT allows; set it to the count "
          "GET /gateway/bot recommends (the same on every edge)",
}


def refusal(code: int | None, shard: int | None, shard_count: int) -> str | None:
    """What an operator must change when the gateway closed with a sharding close code, or None for others."""
    why = REFUSALS.get(code or 0)
    if why is None:
        return None
    which = "the connection" if shard is None else f"shard {shard} of {shard_count}"
    return f"the gateway refused {which} with close code {code} ({why})"
