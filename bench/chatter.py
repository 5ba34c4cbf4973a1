"""chatter: 1,000 messages a second that address nobody, for 10 s; not one may wake an actor.

The Discord emulator injects the messages itself (no HTTP per message) and sends them over the gateway; the
bot's edge parses each and drops it. Measured: messages forwarded to actors during the run (the wake-ups:
target 0), how many the edge dropped as chatter, and the edge process's CPU use while it did.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.measure import cpu_seconds, scratch_dir
from bench.world import crowd
from emulator.discord import actions
from testkit.stack import Stack

RATE, BATCH = 1000, 20


def _inject(emulator: Any, channel_id: int, author_ids: list[int], count: int, seconds: float) -> None:
    async def pump() -> None:
        ctx = emulator.emulator._ctx
        channel = ctx.world.channels[channel_id]
        authors = [ctx.world.users[a] for a in author_ids]
        start = time.monotonic()
        for k in range(0, count, BATCH):
            for j in range(k, min(count, k + BATCH)):
                author = authors[j % len(authors)]
                actions.post_message(ctx, channel, author, {"content": f"just chatting, nothing to see {j}"})
            delay = start + (k + BATCH) * seconds / count - time.monotonic()
            await asyncio.sleep(max(0.0, delay))

    asyncio.run_coroutine_threadsafe(pump(), emulator._loop).result(timeout=seconds + 60)


def run(quick: bool) -> dict[str, Any]:
    seconds = 5.0 if quick else 10.0
    count = int(RATE * seconds)
    world, names, rooms = crowd(50, 1)
    stack = Stack(scratch_dir("chatter"), world, {"TZUROT_LIVE_ACTOR_CAP": "400"}).start()
    try:
        author_ids = [stack.sandbox.user(n) for n in names]
        before = stack.status()["edge"]
        edge = stack.bot.proc.pid
        cpu0, t0 = cpu_seconds(edge), time.monotonic()
        _inject(stack.discord, rooms[0], author_ids, count, seconds)
        injected_s = time.monotonic() - t0
        seen, last_change = 0, time.monotonic()
        while time.monotonic() - last_change < 5.0 and time.monotonic() - t0 < 120:  # until the edge is quiet
            now_seen = stack.status()["edge"]["dropped"].get("chatter", 0) - before["dropped"].get("chatter", 0)
            if now_seen != seen:
                seen, last_change = now_seen, time.monotonic()
            time.sleep(0.5)
        busy_s = last_change - t0
        cpu = cpu_seconds(edge) - cpu0
        after = stack.status()["edge"]
        return {
            "messages": count,
            "injected_in_s": round(injected_s, 2),
            "seen_in_s": round(busy_s, 2),
            "dropped_as_chatter": after["dropped"].get("chatter", 0) - before["dropped"].get("chatter", 0),
            "actor_wakeups": after["forwarded"] - before["forwarded"],
            "edge_cpu_pct": round(100 * cpu / busy_s, 1),
            "edge_cpu_us_per_message": round(cpu / count * 1e6, 1),
        }
    finally:
        stack.stop(strict=False)
