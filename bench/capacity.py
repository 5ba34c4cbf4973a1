"""capacity: how many users can be live at once, and what each costs.

Active users ramp up to 1,000 (`--quick`: 200), each activating its own actor process with one addressed
message. Measured once all are answered: live actors, the bot's total PSS (every process: edge, Thespian's
admin and logger, supervisors and actors), PSS per live actor over the empty tree, how long an activation
takes (spawn -> state loaded, from the supervisor log), and the round trip edge -> Root -> shard -> user
actor -> edge for a live actor (four hops; `hop_p99_ms` is a quarter of its p99).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from bench.latency import drive
from bench.measure import activation_ms, percentile, scratch_dir
from bench.world import crowd, replies_by_tag
from testkit.process import pss_mb
from testkit.stack import Stack

RAMP_PER_S = 10.0  # activations fork from the shards: 2 cores start about this many a second with room to spare


def run(quick: bool) -> dict[str, Any]:
    users = 200 if quick else 1000
    shards = 4 if quick else 8
    world, names, rooms = crowd(users, 10)
    env = {"TZUROT_LIVE_ACTOR_CAP": str(users + 200), "TZUROT_USER_SHARDS": str(shards),
           "TZUROT_USER_BURST": "5", "TZUROT_HTTP_PING": "1"}  # the round trips below use /ping
    stack = Stack(scratch_dir("capacity"), world, env).start()
    try:
        stack.sandbox.command(rooms[0], names[0], "!tz add echo", "Added", timeout=30)
        time.sleep(2.0)  # let the tree settle before the empty-tree baseline (a measurement, not a test)
        empty_mb = pss_mb(stack.bot.live_pids())
        mark = stack.sandbox.post(rooms[0], names[0], "ramp starts")
        sent = drive(stack, names, rooms, users, RAMP_PER_S, 0)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(replies_by_tag(stack, rooms, mark)) < len(sent):
            time.sleep(1.0)
        answered = len(replies_by_tag(stack, rooms, mark))
        status = stack.status()
        live_users = sum(1 for s in status["supervisors"] for c in s["children"] if c["kind"] == "user" and c["pid"])
        total_mb = pss_mb(stack.bot.live_pids())
        url = f"http://127.0.0.1:{stack.http_port}/ping"
        user_ids = [stack.sandbox.user(n) for n in names[: min(200, users)]]
        round_trips = [httpx.get(url, params={"user": uid}, timeout=10).json()["ms"] for uid in user_ids]
        activations = activation_ms(stack)
        return {
            "users": users,
            "user_shards": shards,
            "answered": answered,
            "live_actors": status["live_actors"],
            "live_user_actors": live_users,
            "total_pss_mb": round(total_mb, 1),
            "empty_tree_pss_mb": round(empty_mb, 1),
            "pss_per_live_actor_mb": round((total_mb - empty_mb) / max(1, live_users), 2),
            "activation_p50_ms": percentile(activations, 50),
            "activation_p99_ms": percentile(activations, 99),
            "round_trip_p99_ms": round(percentile(round_trips, 99), 2),
            "hop_p99_ms": round(percentile(round_trips, 99) / 4, 2),
        }
    finally:
        stack.stop(strict=False)
