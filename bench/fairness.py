"""fairness: does one user's volume or slowness hurt anyone else?

Plain: one user floods (10 messages a second), one user's answers take 30 s (their personality's model is
slow), twenty light users each send every 10 s (random phase); the AI answers in 1 s and serves at most 8
requests at once, the rest waiting in its queue as a rate-limited provider's do. The same light users then
run alone (the baseline). `ratio` is the light users' p99 latency over the baseline's: 1.0 means nobody noticed.

`--saturated`: the backend is full. It serves 4 requests at once (fewer than TZUROT_AI_SLOTS, 8) in 2 s each,
so 2 a second, and the twenty light users alone offer exactly that (one message each every 10 s). The slow
user's model is served by its own deployment (its own queue at the provider, 2 at once), as a different model
is. After a warm-up, the flooder and the slow user join; only light messages sent after they joined are
measured, in both runs. `light_refused` counts light messages answered with a notice or an error instead of
the AI's answer. Without our own line, the flooder's requests would sit in the provider's FIFO ahead of
everyone's; with it, the queue forms in our scheduler, least served first.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.measure import percentile, scratch_dir, snowflake_ms
from bench.world import crowd, replies_by_tag
from testkit.stack import Stack

FLOOD_PER_S, SLOW_AI_S = 10.0, 30.0


@dataclass(frozen=True)
class Setup:
    light: int = 20
    period_s: float = 10.0
    ai_s: float = 1.0
    backend_slots: int = 8  # what the AI backend serves at once (every model but the slow one, when it has its own)
    slow_model_slots: int | None = None  # the slow model's own capacity at the provider (None: it shares)
    warmup_s: float = 0.0  # light users alone before the noise joins (not measured)


PLAIN = Setup()
SATURATED = Setup(light=20, period_s=10.0, ai_s=2.0, backend_slots=4, slow_model_slots=2, warmup_s=15.0)


def _light_user(stack: Stack, name: str, room: int, until: float, phase: float, sent: list, base: int,
                setup: Setup) -> None:
    time.sleep(phase)
    k = 0
    while time.monotonic() < until:
        tag = f"tag{base + k}"
        sent.append((tag, stack.sandbox.post(room, name, f"@quick {tag}"), time.monotonic()))
        k += 1
        time.sleep(setup.period_s)


def _loop(stack: Stack, name: str, room: int, start: float, until: float, every: float, text: str,
          sent: list[int]) -> None:
    time.sleep(max(0.0, start - time.monotonic()))
    while time.monotonic() < until:
        sent.append(stack.sandbox.post(room, name, text))
        time.sleep(every)


def one_run(seconds: float, with_noise: bool, setup: Setup = PLAIN) -> dict[str, Any]:
    world, names, rooms = crowd(setup.light + 2, 4)
    stack = Stack(scratch_dir("fairness"), world, ai_max_concurrent=setup.backend_slots).start()
    try:
        if setup.slow_model_slots is not None:
            stack.ai.set_capacity(setup.slow_model_slots, model="slow-model")
        stack.ai.add_fault(model="slow-model", latency_s=SLOW_AI_S)
        stack.ai.add_fault(latency_s=setup.ai_s)
        stack.sandbox.command(rooms[0], names[0], "!tz add quick", "Added", timeout=30)
        stack.sandbox.command(rooms[0], names[0], "!tz add sloth", "Added", timeout=30)
        stack.sandbox.command(rooms[0], names[0], "!tz config sloth model slow-model", "model is now", timeout=30)
        mark = stack.sandbox.post(rooms[0], names[0], "measurement starts")
        begin = time.monotonic()
        joined, until = begin + setup.warmup_s, begin + setup.warmup_s + seconds
        rng = random.Random(11)
        sent: list[tuple[str, int, float]] = []  # (tag, message id, when sent)
        flood: list[int] = []
        threads = [
            threading.Thread(target=_light_user, args=(stack, names[n], rooms[n % 4], until,
                                                       rng.uniform(0, setup.period_s), sent, n * 1000, setup))
            for n in range(setup.light)
        ]
        flooder, slow = names[setup.light], names[setup.light + 1]
        if with_noise:
            threads.append(threading.Thread(target=_loop, args=(stack, flooder, rooms[0], joined, until,
                                                                1 / FLOOD_PER_S, "@quick flood", flood)))
            threads.append(threading.Thread(target=_loop, args=(stack, slow, rooms[1], joined, until, 5.0,
                                                                "@sloth take your time", [])))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        tags = {tag: mid for tag, mid, at in sent if at >= joined}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(t in replies_by_tag(stack, rooms, mark) for t in tags):
            time.sleep(0.5)
        answers = replies_by_tag(stack, rooms, mark)
        latencies = [snowflake_ms(answers[t]) - snowflake_ms(m) for t, m in tags.items() if t in answers]
        bot_messages = [m for room in rooms for m in stack.sandbox.replies(room, mark)]
        light_ids = set(tags.values())
        flood_ids = set(flood)
        refused_light = {int(m["reply_to"]) for m in bot_messages
                         if m.get("reply_to") and int(m["reply_to"]) in light_ids and "tag" not in m["content"]}
        replied_to_flood = [m for m in bot_messages if m.get("reply_to") and int(m["reply_to"]) in flood_ids]
        return {
            "light_sent": len(tags),
            "light_answered": len(latencies),
            "light_refused": len(refused_light),
            "light_p99_ms": percentile(latencies, 99),
            "flooder_sent": len(flood),
            "flooder_notices": sum("faster than I can answer" in m["content"] for m in replied_to_flood),
            "flooder_answered": sum(1 for m in bot_messages if m["webhook_id"] and "flood" in m["content"]),
            "ai": {k: v for k, v in stack.ai.stats().items() if k in ("requests", "max_in_flight", "by_outcome")},
        }
    finally:
        stack.stop(strict=False)


def run(quick: bool, saturated: bool = False) -> dict[str, Any]:
    setup = SATURATED if saturated else PLAIN
    seconds = (30.0 if saturated else 25.0) if quick else (90.0 if saturated else 60.0)
    loaded = one_run(seconds, with_noise=True, setup=setup)
    alone = one_run(seconds, with_noise=False, setup=setup)
    return {
        "light_p99_ms": loaded["light_p99_ms"],
        "light_p99_ms_baseline": alone["light_p99_ms"],
        "ratio": round(loaded["light_p99_ms"] / alone["light_p99_ms"], 3),
        "light_answered": f"{loaded['light_answered']}/{loaded['light_sent']}",
        "light_refused": loaded["light_refused"],
        "light_refused_baseline": alone["light_refused"],
        "flooder_sent": loaded["flooder_sent"],
        "flooder_notices": loaded["flooder_notices"],
        "flooder_answered": loaded["flooder_answered"],
        "ai_max_in_flight": loaded["ai"].get("max_in_flight"),
    }
