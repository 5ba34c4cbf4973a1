"""The HTTP probes against a real tree whose Root has stopped answering (SIGSTOP): each answers within its
budget, and no bridge thread is still waiting on the actors once it has answered."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from typing import Any

import aiohttp
import pytest

from bridge import Bridge
from edge.http import HttpServer
from edge.routing import RoutingTable
from observability.activity import Activity
from observability.live import LiveStatus
from observability.metrics import Metrics


def every_thread_free(bridge: Bridge) -> bool:
    """True when every bridge thread can run a call right now (they all meet at a barrier at once)."""
    assert bridge.pool is not None
    barrier = threading.Barrier(bridge.threads, timeout=1.0)
    calls: list[Future[Any]] = [bridge.pool.submit(barrier.wait) for _ in range(bridge.threads)]
    wait_all(calls, timeout=3.0)
    return all(c.done() and c.exception() is None for c in calls)


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, float]:
    started = time.monotonic()
    async with session.get(url) as response:
        return response.status, await response.text(), time.monotonic() - started


@pytest.mark.slow  # 15-20 s: runs in .ci/run (make test-slow), keeping make test under 8 minutes
def test_probes_answer_in_time_and_free_the_bridge_when_root_does_not_answer(make_tree) -> None:
    tree = make_tree()
    bridge = tree.bridge
    root_pid = bridge.status()[0].pid
    tree.pids.add(root_pid)

    async def main() -> dict[str, Any]:
        settings, metrics = tree.settings, Metrics()
        # no gateway here: only the actors count
        live = LiveStatus(bridge, settings, metrics, RoutingTable(prefix=settings.command_prefix), Activity(),
                          gateway_up=lambda: True)
        server = HttpServer(settings, bridge, live, metrics, "127.0.0.1", 0)
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        got: dict[str, Any] = {}
        try:
            async with aiohttp.ClientSession() as session:
                got["healthy"] = await get(session, f"{base}/healthz")
                os.kill(root_pid, signal.SIGSTOP)
                try:
                    for path in ("/healthz", "/status", "/metrics"):
                        code, body, took = await get(session, base + path)
                        free = await asyncio.to_thread(every_thread_free, bridge)
                        got[path] = (code, body, took, free)
                finally:
                    os.kill(root_pid, signal.SIGCONT)
                got["recovered"] = await get(session, f"{base}/healthz")
        finally:
            await server.stop()
        return got

    got = asyncio.run(main())
    assert got["healthy"][0] == 200, got["healthy"]
    code, body, took, free = got["/healthz"]
    assert code == 503 and "actor system: not answering" in body and "gateway" not in body
    assert took < 3.6 and free, (took, free)
    code, body, took, free = got["/status"]
    assert code == 503 and took < 10.6 and free, (code, body, took, free)
    code, body, took, free = got["/metrics"]
    assert code == 200 and "tzurot_messages_received_total" in body  # a scrape still gets its counters
    assert took < 5.6 and free, (took, free)
    assert got["recovered"][0] == 200, got["recovered"]
