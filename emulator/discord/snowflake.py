"""Snowflake ids laid out as Discord's, so ids sort by creation time and carry their timestamp."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000
_INCREMENT_BITS = 12
_TIMESTAMP_SHIFT = 22


class SnowflakeGenerator:
    """Hands out strictly increasing snowflakes; clients rely on id order matching time order."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last_ms = 0
        self._increment = 0

    def next(self) -> int:
        """Return a new id; within one millisecond the increment keeps ids unique and ordered."""
        now_ms = int(self._clock() * 1000)
        if now_ms > self._last_ms:
            self._last_ms, self._increment = now_ms, 0
        else:
            self._increment += 1
            if self._increment >= 1 << _INCREMENT_BITS:
                # Borrow the next millisecond rather than wrap, so order is never broken.
                self._last_ms, self._increment = self._last_ms + 1, 0
        return ((self._last_ms - DISCORD_EPOCH_MS) << _TIMESTAMP_SHIFT) | self._increment

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A new id that Discord's shard formula, `(id >> 22) % shard_count`, puts on `shard_id`: the clock
        part moves forward by at most `shard_count - 1` ms, so order is kept (for a guild on a chosen shard)."""
        candidate = self.next()
        skip = (shard_id - (candidate >> _TIMESTAMP_SHIFT)) % shard_count
        if skip == 0:
            return candidate
        self._last_ms, self._increment = self._last_ms + skip, 0
        return (self._last_ms - DISCORD_EPOCH_MS) << _TIMESTAMP_SHIFT


def shard_of(snowflake: int | None, shard_count: int) -> int:
    """The gateway shard that receives a guild's events (Discord's formula); DMs (no guild) go to shard 0."""
    return 0 if snowflake is None else (snowflake >> _TIMESTAMP_SHIFT) % shard_count


def snowflake_seconds(snowflake: int) -> float:
    """Unix time (seconds) at which the snowflake was made."""
    return ((snowflake >> _TIMESTAMP_SHIFT) + DISCORD_EPOCH_MS) / 1000


def iso_time(seconds: float) -> str:
    """ISO 8601 with offset, the timestamp format Discord payloads use."""
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def snowflake_iso(snowflake: int) -> str:
    """Creation time of a snowflake as an ISO 8601 timestamp."""
    return iso_time(snowflake_seconds(snowflake))
