"""capacity: how many users can be live at once, and what each costs.

Active users ramp up to 1,000 (`--quick`: 200; `--users N`: N), each activating its own actor process with one
addressed message. Measured once all are answered: live actors, the bot's total PSS (every process: edge,
Thespian's admin and logger, supervisors and actors), PSS per live actor over the empty tree, one user actor
process's own PSS and private memory (median over the live ones), what that process has imported, how long
an activation takes (spawn -> state loaded, from the supervisor log), and the round trip edge -> shard -> user
actor -> edge for a live actor (`hop_p99_ms` is a quarter of its p99).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from bench import connections
from bench.latency import drive
from bench.measure import activation_ms, percentile, scratch_dir
from bench.world import crowd, replies_by_tag
from testkit.process import pss_mb
from testkit.stack import Stack

RAMP_PER_S = 10.0  # activations fork from the shards: 2 cores start about this many a second with room to spare
IDLE_WAIT_S = 15.0  # TZUROT_DATABASE_IDLE_S (10 s) and a release timer's slack
HEAVY = ("discord", "aiohttp", "prometheus_client")  # the edge's libraries: an actor process needs none of them


def smaps_mb(pid: int) -> dict[str, float]:
    """One process's PSS and private (unshared) memory, in MB, from /proc/<pid>/smaps_rollup."""
    out = {"pss": 0.0, "private": 0.0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                field, _, rest = line.partition(":")
                if field == "Pss":
                    out["pss"] += int(rest.split()[0]) / 1024
                elif field in ("Private_Clean", "Private_Dirty"):
                    out["private"] += int(rest.split()[0]) / 1024
    except OSError:
        pass
    return out


def run(quick: bool, users: int | None = None) -> dict[str, Any]:
    users = users or (200 if quick else 1000)
    shards = 4 if users <= 200 else 8
    world, names, rooms = crowd(users, 10)
    env = {
        # The cap is split evenly over every shard (user and channel), and keys hash unevenly: twice the users
        # keeps every user live, so PSS is measured over all of them and nobody is passivated mid-run.
        "TZUROT_LIVE_ACTOR_CAP": str(2 * users + 200), "TZUROT_USER_SHARDS": str(shards),
        # The AI emulator answers at once: on a CPU-bound machine the adaptive limit would read the CPU's
        # queueing as the backend's and shrink the slots, and the ramp's answers would crawl (this measures
        # actors, not the AI scheduler: see `fairness --saturated`).
        "TZUROT_AI_SLOTS_ADAPTIVE": "0",
        "TZUROT_USER_BURST": "5", "TZUROT_HTTP_PING": "1",  # the round trips below use /ping
    }
    began = time.monotonic()
    stack = Stack(scratch_dir("capacity"), world, env).start()
    try:
        stack.sandbox.command(rooms[0], names[0], "!tz add echo", "Added", timeout=30)
        time.sleep(2.0)  # let the tree settle before the empty-tree baseline (a measurement, not a test)
        empty_mb = pss_mb(stack.bot.live_pids())
        direct = connections.DIRECT.get("url")
        sampler = connections.Sampler(direct).start() if direct else None
        mark = stack.sandbox.post(rooms[0], names[0], "ramp starts")
        sent = drive(stack, names, rooms, users, RAMP_PER_S, 0)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(replies_by_tag(stack, rooms, mark)) < len(sent):
            time.sleep(1.0)
        answered = len(replies_by_tag(stack, rooms, mark))
        status = stack.status()
        user_pids = [c["pid"] for s in status["supervisors"] for c in s["children"] if c["kind"] == "user" and c["pid"]]
        total_mb = pss_mb(stack.bot.live_pids())
        each = [smaps_mb(pid) for pid in user_pids]
        url = f"http://127.0.0.1:{stack.http_port}/ping"
        user_ids = [stack.sandbox.user(n) for n in names[: min(200, users)]]
        round_trips = [httpx.get(url, params={"user": uid}, timeout=10).json()["ms"] for uid in user_ids]
        modules = httpx.get(url, params={"user": user_ids[0], "modules": "1"}, timeout=10).json()["modules"]
        activations = activation_ms(stack)
        pg: dict[str, Any] = {}
        if sampler is not None and direct:
            busy = connections.count(direct)
            time.sleep(IDLE_WAIT_S)  # every actor idle: their connections are released (TZUROT_DATABASE_IDLE_S)
            sampler.stop()
            pg = connections.figures(sampler, busy, connections.count(direct), len(user_pids))
        return {
            "users": users,
            "user_shards": shards,
            "answered": answered,
            "live_actors": status["live_actors"],
            "live_user_actors": len(user_pids),
            "total_pss_mb": round(total_mb, 1),
            "empty_tree_pss_mb": round(empty_mb, 1),
            "pss_per_live_actor_mb": round((total_mb - empty_mb) / max(1, len(user_pids)), 2),
            "user_actor_pss_mb": round(statistics.median(e["pss"] for e in each), 2) if each else float("nan"),
            "user_actor_private_mb": round(statistics.median(e["private"] for e in each), 2) if each else float("nan"),
            "user_actor_packages": len(modules),
            "user_actor_heavy_packages": ",".join(m for m in HEAVY if m in modules) or "none",
            "activation_p50_ms": percentile(activations, 50),
            "activation_p99_ms": percentile(activations, 99),
            "round_trip_p99_ms": round(percentile(round_trips, 99), 2),
            "hop_p99_ms": round(percentile(round_trips, 99) / 4, 2),
            "elapsed_s": round(time.monotonic() - began, 1),
            **pg,
        }
    finally:
        stack.stop(strict=False)
