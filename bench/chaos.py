"""chaos: 50 users converse while a random actor process (a user's, a channel's, or a shard supervisor) is
killed with SIGKILL every 0.5-2 s. Then wait for quiet and count: every message must have exactly one answer.
Each answer is written over SPREAD_MS (the AI emulator's pace), so with streaming on it is shown and edited while
processes die: `half_answers` counts messages left showing part of an answer (must be 0).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from typing import Any

from bench.measure import scratch_dir
from bench.tally import Talk, summary, turns, wait_for_quiet
from bench.world import crowd
from testkit.stack import Stack

USERS, ROOMS = 50, 5
SPREAD_MS = 1500


def half_answers(stack: Stack, rooms: list[int], since: int) -> int:
    """Bot messages that show part of an answer: each whole one ends as the line it answers did."""
    return sum(1 for room in rooms for m in stack.sandbox.replies(room, since)
               if "heard:" in m["content"] and not m["content"].rstrip().endswith(f"SPREAD:{SPREAD_MS}"))


def _killer(stack: Stack, stop: threading.Event, kills: list[tuple[str, int]]) -> None:
    rng = random.Random(5)
    while not stop.wait(rng.uniform(0.5, 2.0)):
        try:
            status = stack.status()
        except Exception:  # the status call itself can time out while the tree heals
            continue
        targets = [(c["kind"], c["pid"]) for s in status["supervisors"] for c in s["children"]
                   if c["pid"] and c["kind"] in ("user", "channel", "shard")]
        if targets:
            kind, pid = rng.choice(targets)
            try:
                os.kill(pid, signal.SIGKILL)
                kills.append((kind, pid))
            except ProcessLookupError:
                pass


def run(quick: bool) -> dict[str, Any]:
    seconds = 20.0 if quick else 60.0
    world, names, rooms = crowd(USERS, ROOMS)
    env = {"TZUROT_USER_RATE_PER_MIN": "120", "TZUROT_USER_BURST": "10", "TZUROT_LIVENESS_PERIOD_S": "1"}
    stack = Stack(scratch_dir("chaos"), world, env).start()
    try:
        stack.sandbox.command(rooms[0], names[0], "!tz add echo", "Added", timeout=30)
        since = stack.sandbox.post(rooms[0], names[0], "chaos starts")
        talk = Talk(stack, names, rooms, (2.0, 5.0), text=f"@echo {{tag}} SPREAD:{SPREAD_MS}").start()
        stop, kills = threading.Event(), []
        killer = threading.Thread(target=_killer, args=(stack, stop, kills), daemon=True)
        killer.start()
        time.sleep(seconds)  # the benchmark's run time (it measures; it is not a test)
        stop.set()
        killer.join()
        talk.stop()
        counts = wait_for_quiet(stack, rooms, talk.sent, since, 180.0)
        restarts = sum(1 for r in stack.bot.supervisor_log() if r.get("event") == "restarted")
        parked = sum(1 for r in stack.bot.supervisor_log() if r.get("event") == "parked")
        return {**summary(talk.sent, counts, turns(stack, rooms, talk.sent, since)), "kills": len(kills),
                "kills_by_kind": dict(sorted({k: sum(1 for x, _ in kills if x == k) for k, _ in kills}.items())),
                "restarts": restarts, "parked": parked, "seconds": seconds,
                "half_answers": half_answers(stack, rooms, since)}
    finally:
        stack.stop(strict=False)
