"""latency: 200 users, 20 addressed messages a second, an AI that answers at once.

Measured: the bot's own overhead, from the moment the Discord emulator dispatched a user's message to the
moment the personality's webhook message was created there (both from the messages' snowflake times).
Every user's actor is activated by one warm-up message first, so the figure is the steady state.

Where the time goes, per stage (p50 / p99), from the events log's records of each message (`trigger`): the
emulator's dispatch -> the edge's `received` (gateway, discord.py), -> the user actor's `addressed` (the edge's
hand-off and the actor hops to the user; the channel's context travels with the message), -> `recall` (the
registry, breaker and AI slot), the long-term memory lookup (`recall` -> `ai_call`: the store's full-text search
and building the prompt), the AI call itself (`ai_call` -> `answered`), -> the webhook message created (the hops
to the channel, the webhook POST). And the actor-to-actor sends per answered message
(`tzurot_deliver_sends_total` on `/metrics`, by path, over the measured messages only), plus the edge's one
hand-off each.
"""

from __future__ import annotations

import calendar
import time
from pathlib import Path
from typing import Any

from bench.measure import percentile, scratch_dir, snowflake_ms
from bench.world import crowd, replies_by_tag
from observability import jsonlog
from supervision.metrics import FLUSH_S
from testkit.process import wait_for
from testkit.stack import Stack

USERS, RATE, CHANNELS = 200, 20.0, 10
STAGES = ("dispatch_to_edge", "edge_to_user", "user_to_recall", "recall", "ai_call", "answered_to_webhook")
EVENTS = {"received": 1, "addressed": 2, "recall": 3, "ai_call": 4, "answered": 5}  # event -> its stage boundary


def ts_ms(ts: str) -> float:
    """`2026-11-30T01:02:03.456Z` (the JSON logs' time) in epoch milliseconds."""
    whole, frac = ts.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 1000.0 + int(frac)


def stages(events_log: Path, sent: dict[str, int], answers: dict[str, int]) -> dict[str, float]:
    """Each stage's p50 and p99 over the answered messages, from the events log and the two messages' times."""
    marks: dict[int, dict[int, float]] = {}  # trigger -> boundary -> ms (the first record of each)
    wanted = {mid for tag, mid in sent.items() if tag in answers}
    for record in jsonlog.read(events_log):
        boundary, trigger = EVENTS.get(str(record.get("event"))), record.get("trigger")
        if boundary is not None and trigger in wanted:
            marks.setdefault(int(trigger), {}).setdefault(boundary, ts_ms(str(record["ts"])))
    spans: dict[str, list[float]] = {name: [] for name in STAGES}
    for tag, mid in sent.items():
        if tag not in answers or len(marks.get(mid, {})) < len(EVENTS):
            continue
        times = [snowflake_ms(mid), *(marks[mid][b] for b in sorted(EVENTS.values())), snowflake_ms(answers[tag])]
        for name, start, end in zip(STAGES, times[:-1], times[1:], strict=True):
            spans[name].append(end - start)
    out: dict[str, float] = {}
    for name, values in spans.items():
        out[f"{name}_p50_ms"] = percentile(values, 50)
        out[f"{name}_p99_ms"] = percentile(values, 99)
    return out


def sends(stack: Stack) -> dict[str, float]:
    """`tzurot_deliver_sends_total` by path, as `/metrics` has it now (after the actors' last flush)."""
    time.sleep(FLUSH_S * 1.5)  # actors flush their counts every FLUSH_S: let the last ones arrive
    return stack.counter("tzurot_deliver_sends_total", "path")


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
        before = sends(stack)
        mark = stack.sandbox.post(rooms[0], names[0], "measurement starts")
        sent = drive(stack, names, rooms, count, RATE, 10_000)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answers = replies_by_tag(stack, rooms, mark)
            if all(tag in answers for tag in sent):
                break
            time.sleep(0.5)
        latencies = [snowflake_ms(answers[tag]) - snowflake_ms(mid) for tag, mid in sent.items() if tag in answers]
        after = sends(stack)
        per_path = {path: after.get(path, 0.0) - before.get(path, 0.0) for path in ("direct", "relayed", "forwarded")}
        answered = max(1, len(latencies))
        return {
            "users": USERS,
            "rate_per_s": RATE,
            "sent": len(sent),
            "answered": len(latencies),
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies, default=float("nan")),
            **stages(Path(stack.bot.data_dir) / "events.log", sent, answers),
            # the edge's hand-off (one per message) plus every Deliver sent inside the tree, per answered message
            "hops_per_answer": 1 + sum(per_path.values()) / answered,
            **{f"sends_{path}_per_answer": n / answered for path, n in per_path.items()},
        }
    finally:
        stack.stop(strict=False)
