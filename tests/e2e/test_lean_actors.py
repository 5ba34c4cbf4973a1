"""Every actor is a process forked from the one that started the actor system, and holds a copy of whatever
that process had imported as soon as it touches it. `bot.py` starts the tree before the edge imports
discord.py, aiohttp and prometheus-client, so no actor inherits them: asked through the real bot, a live user
actor's own process lists what it has imported."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from testkit.process import wait_for
from testkit.stack import Stack

EDGE_ONLY = ("discord", "aiohttp", "prometheus_client")


def test_a_user_actor_process_holds_none_of_the_edges_libraries(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(env={"TZUROT_HTTP_PING": "1"})
    alice = stack.sandbox.user("alice")
    url = f"http://127.0.0.1:{stack.http_port}/ping"
    found = httpx.get(url, params={"user": alice, "modules": "1"}, timeout=30).json()
    # alice's own actor answered, not a shard or the bot (its shard may learn the pid a moment after the answer)
    wait_for(lambda: stack.actor_pid("user", alice) == found["pid"], 10, "alice's actor listed with that pid")
    assert {"thespian", "actors", "httpx"} <= set(found["modules"])  # it does list what it imported
    assert [name for name in EDGE_ONLY if name in found["modules"]] == []
