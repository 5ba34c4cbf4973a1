"""The running bot's status and live-actor gauges: what `bot.py status`, `GET /status` and `GET /metrics` show.

Gathered from the actor tree (through the bridge), the edge's own counters and the files every actor process
shares (the AI breaker, Discord's invalid-request window). Gathering asks every supervisor, so a status is kept
for a moment; every ask ends by the caller's deadline, so no bridge thread still waits on the actors after a
probe has answered. `observability/status.py` shapes and renders what is gathered here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from actors.kinds import Kind
from actors.messages import GetSlots, SlotsInfo
from ai.breaker import SharedBreaker, breaker_name
from config import Settings
from discord_rest.invalid import FILE_NAME, read_invalid
from observability.activity import Activity
from observability.metrics import Metrics
from observability.status import collect, live_by_kind
from store import size_bytes
from store.cells import open_cell

LIVE_KINDS = ("shard", *Kind)  # the live_actors gauge's labels


class Tree(Protocol):
    """The actor tree as status reads it (the bridge)."""

    @property
    def pool(self) -> Executor | None: ...

    def status(self, timeout: float | None = None) -> list[Any]: ...

    def ask(self, kind: str, key: int | str, body: Any, timeout: float | None = None) -> Any: ...


class Counted(Protocol):
    """What the edge counts of its filter (the routing table)."""

    def summary(self) -> dict[str, Any]: ...


class LiveStatus:
    def __init__(self, tree: Tree, settings: Settings, metrics: Metrics, routing: Counted, usage: Activity,
                 gateway_up: Callable[[], bool], started: float | None = None,
                 gateway_shards: Callable[[], list[dict[str, Any]]] = list) -> None:
        self.tree, self.settings, self.metrics, self.routing, self.usage = tree, settings, metrics, routing, usage
        self._gateway_up = gateway_up
        self.gateway_shards = gateway_shards  # the edge's shards: id, of, connected, down_s
        self.started = time.time() if started is None else started
        self.breaker = SharedBreaker(open_cell(settings, breaker_name(settings.ai_model)),
                                     settings.ai_breaker_failures,
                                     settings.ai_breaker_cooldown_s)  # the default model's: read for status only
        self.invalid = open_cell(settings, FILE_NAME)
        self._cache: tuple[float, dict[str, Any]] | None = None

    def connected(self) -> bool:
        """Is the gateway connected (the edge's discord.py client says)."""
        return self._gateway_up()

    async def status(self, max_age_s: float = 1.0, deadline: float | None = None) -> dict[str, Any]:
        """Everything `bot.py status` shows; asks every supervisor, so cached for a moment. Every ask ends by
        `deadline` (time.monotonic(); default: the ask timeout from now), so no bridge thread outlives it."""
        loop = asyncio.get_running_loop()
        # A cell read (with PostgreSQL, a query: off the event loop), never from the cache.
        fresh = {"discord_invalid": await loop.run_in_executor(self.tree.pool, read_invalid, self.invalid)}
        if self._cache is not None and time.time() - self._cache[0] < max_age_s:
            return {**self._cache[1], **fresh}
        deadline = time.monotonic() + self.settings.ask_timeout_s if deadline is None else deadline

        def left(cap: float = float("inf")) -> float:  # measured when the bridge thread starts, not before
            return max(0.0, min(cap, deadline - time.monotonic()))

        statuses = await loop.run_in_executor(self.tree.pool, lambda: self.tree.status(timeout=left()))
        extra = {
            "uptime_s": round(time.time() - self.started, 1),
            "gateway_connected": self.connected(),
            "gateway_shards": self.gateway_shards(),
            "edge": self.routing.summary(),
            "outboxes": self.metrics.deepest("channel_depth"),
            "inboxes": self.metrics.deepest("user_depth"),
            "top_users": self.usage.top(),
            "ai_slots": await self.slots_view(left),
            "breaker": await loop.run_in_executor(self.tree.pool, self.breaker_state),
            "store_bytes": await loop.run_in_executor(self.tree.pool, size_bytes, self.settings),
        }
        status = collect(statuses, extra, self.settings.data_dir)
        self._cache = (time.time(), status)
        return {**status, **fresh}

    async def slots_view(self, left: Callable[[float], float] = lambda cap: cap) -> dict[str, int]:
        """The operator's AI slots (the adaptive limit now, its ceiling, in use, waiting), or {} while the slots
        actor does not answer within 3 s or what `left` says remains."""
        loop = asyncio.get_running_loop()
        try:
            info = await loop.run_in_executor(
                self.tree.pool, lambda: self.tree.ask(Kind.SLOTS, Kind.SLOTS, GetSlots(), timeout=max(1e-3, left(3.0))))
        except Exception:  # noqa: BLE001 - status must still answer; the screen shows "?"
            return {}
        if not isinstance(info, SlotsInfo):
            return {}
        return {"capacity": info.capacity, "ceiling": info.ceiling, "in_use": info.in_use, "waiting": info.waiting}

    def breaker_state(self) -> str:
        """The operator's AI breaker as every actor process sees it: closed, open or half-open."""
        return self.breaker.state()

    async def refresh_gauges(self, deadline: float | None = None) -> None:
        """The live-actor gauges, from a status at most 2 s old."""
        counts = live_by_kind(await self.status(max_age_s=2.0, deadline=deadline))
        for kind in LIVE_KINDS:
            self.metrics.live_actors.labels(kind).set(counts.get(kind, 0))
