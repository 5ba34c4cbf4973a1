"""restart: kill -9 every process of the bot (the edge and the whole actor system) mid-load, start it again,
and count answers for the messages of the catch-up window; then check that nothing the users had set up
(personalities, aliases, activation, conversation, key) was lost.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from bench.measure import scratch_dir
from bench.tally import Talk, summary, turns, wait_for_quiet
from bench.world import crowd
from supervision.procs import pid_alive
from testkit.process import wait_for
from testkit.stack import Stack

USERS = 20


def _state_intact(stack: Stack, room: int, dm: int) -> dict[str, bool]:
    sb = stack.sandbox
    checks = {}
    for name, (channel, author, text, expect) in {
        "personality": (room, "u0", "!tz info echo", "**Echo**"),
        "alias": (room, "u0", "!tz info the parrot", "the parrot"),
        "key": (dm, "alice", "!tz auth status", "your own key"),
        "autorespond": (dm, "alice", "!tz autorespond", "Autorespond is on"),
        "conversation": (dm, "alice", "still talking?", "heard: alice: still talking?"),
        "activation": (room, "u1", "anyone here after the restart?", "anyone here after the restart?"),
    }.items():
        t = sb.post(channel, author, text)
        try:
            wait_for(lambda c=channel, t=t, e=expect: [m for m in sb.replies(c, t) if e in m["content"]], 30, name)
            checks[name] = True
        except AssertionError:
            checks[name] = False
    return checks


def run(quick: bool) -> dict[str, Any]:
    before_s, down_s, after_s = (6.0, 3.0, 6.0) if quick else (20.0, 5.0, 20.0)
    world, names, rooms = crowd(USERS, 1)
    env = {"TZUROT_USER_RATE_PER_MIN": "120", "TZUROT_USER_BURST": "10"}
    stack = Stack(scratch_dir("restart"), world, env).start()
    room, dm = rooms[0], stack.sandbox.dm("alice")
    try:
        for place, who, text, answer in (
            (room, "u0", "!tz add echo", "Added"),
            (room, "u0", "!tz alias echo the parrot", "now means"),
            (room, "alice", "!tz activate echo", "now answers every message"),  # the guild owner
            (dm, "alice", "!tz auth key sk-restart-bench-0001", "Your key is saved"),
            (dm, "alice", "!tz autorespond on", "Autorespond is on"),
            (dm, "alice", "@echo hello before", "hello before"),
        ):
            stack.sandbox.command(place, who, text, answer, timeout=30)
        since = stack.sandbox.post(room, "u0", "load starts")
        talk = Talk(stack, names, [room], (1.0, 3.0), text="{tag} says hi").start()
        time.sleep(before_s)
        victims = stack.bot.live_pids()
        for pid in victims:  # everything at once, as a power cut would
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not [p for p in victims if pid_alive(p)], 10, "every bot process to be gone")
        stack.bot.proc.wait()
        time.sleep(down_s)  # users keep talking while the bot is down (a measurement window, not a test wait)
        stack.bot.start()
        time.sleep(after_s)
        talk.stop()
        counts = wait_for_quiet(stack, [room], talk.sent, since, 180.0)
        intact = _state_intact(stack, room, dm)
        return {**summary(talk.sent, counts, turns(stack, [room], talk.sent, since)),
                "killed_processes": len(victims), "state_intact": all(intact.values()),
                "state_checks": intact}
    finally:
        stack.stop(strict=False)
