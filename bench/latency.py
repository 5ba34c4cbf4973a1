"""latency: 200 users, 20 addressed messages a second, an AI that answers at once.

Measured: the bot's own overhead, from the moment the Discord emulator dispatched a user's message to the
moment the personality's webhook message was created there (both from the messages' snowflake times).
Every user's actor is activated by one warm-up message first, so the figure is the steady state.
"""

from __future__ import annotations

import time
from typing import Any

from bench.measure import percentile, scratch_dir, snowflake_ms
from bench.world import crowd, replies_by_tag
from testkit.process import wait_for
from testkit.stack import Stack

USERS, RATE, CHANNELS = 200, 20.0, 10


def drive(stack: Stack, names: list[str], rooms: list[int], count: int, rate: float, first_tag: int) -> dict:
    """Send `count` addressed messages at `rate` a second, round-robin over users and channels."""
    sent: dict[str, int] = {}
    start = time.monotonic()
    for k in range(count):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        tag = f"tag{first_tag + k}"
        sent[tag] = stack.sandbox.post(rooms[k % len(rooms)], names[k % len(names)], f"@echo {tag}")
    return sent


def run(quick: bool) -> dict[str, Any]:
    world, names, rooms = crowd(USERS, CHANNELS)
    stack = Stack(scratch_dir("latency"), world, {"TZUROT_LIVE_ACTOR_CAP": "1000"}).start()
    try:
        stack.sandbox.command(rooms[0], names[0], "!tz add echo", "Added", timeout=30)
        first = stack.sandbox.post(rooms[0], names[0], "warm-up starts")
        warm = drive(stack, names, rooms, USERS, 40.0, 0)  # one message each: every user actor is live
        wait_for(lambda: len(replies_by_tag(stack, rooms, first)) >= len(warm), 120, "warm-up answers")
        count = int(RATE * (20 if quick else 60))
        mark = stack.sandbox.post(rooms[0], names[0], "measurement starts")
        sent = drive(stack, names, rooms, count, RATE, 10_000)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answers = replies_by_tag(stack, rooms, mark)
            if all(tag in answers for tag in sent):
                break
            time.sleep(0.5)
        latencies = [snowflake_ms(answers[tag]) - snowflake_ms(mid) for tag, mid in sent.items() if tag in answers]
        return {
            "users": USERS,
            "rate_per_s": RATE,
            "sent": len(sent),
            "answered": len(latencies),
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies, default=float("nan")),
        }
    finally:
        stack.stop(strict=False)
