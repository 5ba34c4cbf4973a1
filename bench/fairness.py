"""fairness: does one user's volume or slowness hurt anyone else?

One user floods (10 messages a second), one user's answers take 30 s (their personality's model is slow),
twenty light users each send every 10 s (random phase); the AI answers in 1 s and serves at most 8 requests
at once, the rest waiting in its queue as a rate-limited provider's do. The same light users then run alone
(the baseline). `ratio` is the light users' p99 latency over the baseline's: 1.0 means nobody noticed.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from bench.measure import percentile, scratch_dir, snowflake_ms
from bench.world import crowd, replies_by_tag
from testkit.stack import Stack

LIGHT, PERIOD_S = 20, 10.0
FLOOD_PER_S, SLOW_AI_S, AI_S, BACKEND_SLOTS = 10.0, 30.0, 1.0, 8


def _light_user(stack: Stack, name: str, room: int, until: float, phase: float, tags: dict, base: int) -> None:
    time.sleep(phase)
    k = 0
    while time.monotonic() < until:
        tag = f"tag{base + k}"
        tags[tag] = stack.sandbox.post(room, name, f"@quick {tag}")
        k += 1
        time.sleep(PERIOD_S)


def _loop(stack: Stack, name: str, room: int, until: float, every: float, text: str, sent: list[int]) -> None:
    while time.monotonic() < until:
        sent.append(stack.sandbox.post(room, name, text))
        time.sleep(every)


def one_run(seconds: float, with_noise: bool) -> dict[str, Any]:
    world, names, rooms = crowd(LIGHT + 2, 4)
    stack = Stack(scratch_dir("fairness"), world, ai_max_concurrent=BACKEND_SLOTS).start()
    try:
        stack.ai.add_fault(model="slow-model", latency_s=SLOW_AI_S)
        stack.ai.add_fault(latency_s=AI_S)
        stack.sandbox.command(rooms[0], names[0], "!tz add quick", "Added", timeout=30)
        stack.sandbox.command(rooms[0], names[0], "!tz add sloth", "Added", timeout=30)
        stack.sandbox.command(rooms[0], names[0], "!tz config sloth model slow-model", "model is now", timeout=30)
        mark = stack.sandbox.post(rooms[0], names[0], "measurement starts")
        until = time.monotonic() + seconds
        rng = random.Random(11)
        tags: dict[str, int] = {}
        flood: list[int] = []
        threads = [
            threading.Thread(target=_light_user, args=(stack, names[n], rooms[n % 4], until,
                                                       rng.uniform(0, PERIOD_S), tags, n * 1000))
            for n in range(LIGHT)
        ]
        flooder, slow = names[LIGHT], names[LIGHT + 1]
        if with_noise:
            threads.append(threading.Thread(target=_loop, args=(stack, flooder, rooms[0], until, 1 / FLOOD_PER_S,
                                                                "@quick flood", flood)))
            threads.append(threading.Thread(target=_loop, args=(stack, slow, rooms[1], until, 5.0,
                                                                "@sloth take your time", [])))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(t in replies_by_tag(stack, rooms, mark) for t in tags):
            time.sleep(0.5)
        answers = replies_by_tag(stack, rooms, mark)
        latencies = [snowflake_ms(answers[t]) - snowflake_ms(m) for t, m in tags.items() if t in answers]
        flood_ids = set(flood)
        room0 = [m for m in stack.sandbox.messages(rooms[0]) if m["author"]["bot"]]
        replied_to_flood = [m for m in room0 if m.get("reply_to") and int(m["reply_to"]) in flood_ids]
        return {
            "light_sent": len(tags),
            "light_answered": len(latencies),
            "light_p99_ms": percentile(latencies, 99),
            "flooder_sent": len(flood),
            "flooder_notices": sum("faster than I can answer" in m["content"] for m in replied_to_flood),
            "flooder_answered": sum(1 for m in room0 if m["webhook_id"] and "flood" in m["content"]),
        }
    finally:
        stack.stop(strict=False)


def run(quick: bool) -> dict[str, Any]:
    seconds = 25.0 if quick else 60.0
    loaded = one_run(seconds, with_noise=True)
    alone = one_run(seconds, with_noise=False)
    return {
        "light_p99_ms": loaded["light_p99_ms"],
        "light_p99_ms_baseline": alone["light_p99_ms"],
        "ratio": round(loaded["light_p99_ms"] / alone["light_p99_ms"], 3),
        "light_answered": f"{loaded['light_answered']}/{loaded['light_sent']}",
        "flooder_sent": loaded["flooder_sent"],
        "flooder_notices": loaded["flooder_notices"],
        "flooder_answered": loaded["flooder_answered"],
    }
