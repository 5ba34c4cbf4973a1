"""Running the bot: the real one against Discord, or the sandbox with its own Discord and AI emulators.

Order matters: the actor system forks, so it starts before any thread exists (before asyncio's executor,
discord.py, or the emulators); then the event loop runs the edge (and, in the sandbox, the emulators).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from actors.messages import RouteFact
from bridge import Bridge
from config import Settings
from edge.client import Edge, point_discord_py_at
from edge.http import HttpServer
from edge.routing import RoutingTable
from observability.metrics import Metrics
from supervision.metrics import MetricsDelta
from supervision.protocol import Undelivered

log = logging.getLogger("tzurot.edge")
SANDBOX_TOKEN = "sandbox-token"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ForTheEdge:
    """Facts only the edge can act on (it speaks through discord.py, on its event loop) that may arrive before
    the edge exists: held, bounded, until `attach`, then handed to the edge's loop from the listener thread."""

    def __init__(self, cap: int = 1_000) -> None:
        self._held: deque[Any] = deque(maxlen=cap)
        self._target: tuple[Edge, asyncio.AbstractEventLoop] | None = None
        self._lock = threading.Lock()

    def put(self, fact: Any) -> None:
        with self._lock:
            if self._target is None:
                self._held.append(fact)
                return
            edge, loop = self._target
        loop.call_soon_threadsafe(edge.notices.on_undelivered, fact)

    def attach(self, edge: Edge, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._target = (edge, loop)
            held, self._held = list(self._held), deque(maxlen=self._held.maxlen)
        for fact in held:
            loop.call_soon_threadsafe(edge.notices.on_undelivered, fact)


def start_tree(settings: Settings) -> tuple[Bridge, RoutingTable, Metrics, ForTheEdge]:
    """The actor system and the routing table the edge filters with, loaded with the persisted facts.

    Facts pushed later are applied from the bridge's listener thread: each is one set or dict operation,
    atomic under the GIL, and the event loop only reads the table.
    """
    table = RoutingTable(prefix=settings.command_prefix)
    metrics = Metrics()
    for_edge = ForTheEdge()

    def on_fact(fact: object) -> None:
        if isinstance(fact, RouteFact):
            table.apply(fact)
        elif isinstance(fact, MetricsDelta):
            metrics.apply(fact)
        elif isinstance(fact, Undelivered):
            for_edge.put(fact)

    bridge = Bridge(settings).start(on_fact=on_fact)
    bridge.load_facts(table.apply)
    return bridge, table, metrics, for_edge


async def serve(
    settings: Settings, tree: tuple[Bridge, RoutingTable, Metrics, ForTheEdge], ready_line: str,
    sandbox: bool = False,
) -> None:
    """Run the discord.py edge until SIGINT/SIGTERM; print `ready_line` once the gateway is up."""
    bridge, table, metrics, for_edge = tree
    point_discord_py_at(settings)
    edge = Edge(bridge, settings, table, metrics)
    for_edge.attach(edge, asyncio.get_running_loop())
    http = HttpServer(settings, bridge, edge.live_status, metrics, settings.http_host, settings.http_port,
                      sandbox=sandbox)
    await http.start()
    watchdog = asyncio.create_task(watch_gateway(edge))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(edge.start(settings.discord_token))
    try:
        ready = asyncio.create_task(edge.ready_once.wait())
        done, _ = await asyncio.wait(
            {runner, ready, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if runner in done:
            runner.result()  # raises the login or connection error
            return
        if ready in done:
            print(ready_line, flush=True)
            await asyncio.wait({runner, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watchdog.cancel()
        await edge.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
        await http.stop()


async def watch_gateway(edge: Edge, after_s: float = 30.0) -> None:
    """WARNING `gateway_disconnected` once the gateway has been down for `after_s`, and again when back."""
    warned = False
    while True:
        await asyncio.sleep(5.0)
        down = edge.disconnected_at
        if down is not None and time.time() - down > after_s and not warned:
            log.warning("gateway_disconnected: no gateway connection for %.0f s", time.time() - down)
            warned = True
        elif down is None and warned:
            log.warning("gateway_reconnected")
            warned = False


@contextlib.asynccontextmanager
async def emulators(settings: Settings, port: int, ai_port: int | None) -> AsyncIterator[list[Any]]:
    from emulator.ai import AIEmulator
    from emulator.discord import DiscordEmulator

    started: list[Any] = []
    try:
        discord_emulator = DiscordEmulator(token=SANDBOX_TOKEN, host="127.0.0.1", port=port)
        discord_emulator.page_bot_http = f"http://{settings.http_host}:{settings.http_port}"  # the page's tree panel
        await discord_emulator.start()
        started.append(discord_emulator)
        if ai_port is not None:
            ai = AIEmulator(host="127.0.0.1", port=ai_port)
            await ai.start()
            started.append(ai)
        yield started
    finally:
        for server in reversed(started):
            await server.stop()


def sandbox_settings(settings: Settings, port: int) -> tuple[Settings, int | None]:
    ai_port = None if settings.ai_base_url else free_port()
    base = f"http://127.0.0.1:{port}"
    return dataclasses.replace(
        settings,
        discord_token=SANDBOX_TOKEN,
        discord_api_base=f"{base}/api/v10",
        discord_gateway_url=f"ws://127.0.0.1:{port}/gateway",
        ai_base_url=settings.ai_base_url or f"http://127.0.0.1:{ai_port}/v1",
        ai_model=settings.ai_model if settings.ai_base_url else "sandbox-model",
    ), ai_port


def run_sandbox(settings: Settings, port: int) -> int:
    settings, ai_port = sandbox_settings(settings, port)
    tree = start_tree(settings)
    bridge = tree[0]

    async def main() -> None:
        async with emulators(settings, port, ai_port):
            ai = "the local AI emulator (set AI_BASE_URL for a real one)" if ai_port is not None else "AI_BASE_URL"
            print(f"AI: {ai}; data: {settings.data_dir}; status: `python bot.py status`", flush=True)
            ready = f"sandbox ready: http://127.0.0.1:{port}  (open it in a browser; Ctrl-C stops it)"
            await serve(settings, tree, ready, sandbox=True)

    try:
        asyncio.run(main())
    finally:
        bridge.stop()
    return 0


def run_bot(settings: Settings) -> int:
    if not settings.discord_token:
        raise RuntimeError("DISCORD_TOKEN is not set (run `python bot.py sandbox` to try it without Discord)")
    if not settings.ai_base_url:
        raise RuntimeError("AI_BASE_URL is not set: point it at an OpenAI-compatible server")
    tree = start_tree(settings)
    bridge = tree[0]
    try:
        asyncio.run(serve(settings, tree, "bot ready: connected to the gateway (Ctrl-C stops it)"))
    finally:
        bridge.stop()
    return 0
