"""Running the bot: the real one against Discord, or the sandbox with its own Discord and AI emulators.

Order matters: the actor system forks, so it starts (`edge/launch.py`, from `bot.py`) before this module is
imported and before any thread exists (asyncio's executor, discord.py, the emulators); then the event loop runs
the edge (and, in the sandbox, the emulators) over the tree already running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import discord

from config import Settings
from edge.client import Edge, make_edge, point_discord_py_at
from edge.http import HttpServer
from edge.launch import SANDBOX_TOKEN, Tree
from edge.shards import refusal
from observability.metrics import Metrics

log = logging.getLogger("tzurot.edge")


async def serve(settings: Settings, tree: Tree, ready_line: str, sandbox: bool = False) -> None:
    """Run the discord.py edge until SIGINT/SIGTERM; print `ready_line` once the gateway is up."""
    bridge, table = tree.bridge, tree.table
    metrics = Metrics()
    tree.metrics.attach(metrics)
    point_discord_py_at(settings)
    edge = make_edge(bridge, settings, table, metrics)
    tree.for_edge.attach(edge, asyncio.get_running_loop())
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
            try:
                runner.result()  # raises the login or connection error
            except discord.ConnectionClosed as exc:  # a sharding refusal says which setting to change
                why = refusal(exc.code, exc.shard_id, edge.shard_state.count)
                if why is None:
                    raise
                raise RuntimeError(why) from None
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
    """WARNING `gateway_disconnected` once a gateway shard has been down for `after_s`, and again when all are back."""
    warned = False
    while True:
        await asyncio.sleep(5.0)
        down = edge.shard_state.down_since()
        if down is not None and time.time() - down > after_s and not warned:
            log.warning("gateway_disconnected: no gateway connection for %.0f s (shard %s)", time.time() - down,
                        ",".join(map(str, edge.shard_state.down())))
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
        discord_emulator = DiscordEmulator(token=SANDBOX_TOKEN, host="127.0.0.1", port=port,
                                           shards=settings.shard_count)
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


def run_sandbox(settings: Settings, tree: Tree, port: int, ai_port: int | None) -> int:
    """The edge and the emulators over a started tree (settings from `edge.launch.sandbox_settings`)."""

    async def main() -> None:
        async with emulators(settings, port, ai_port):
            ai = "the local AI emulator (set AI_BASE_URL for a real one)" if ai_port is not None else "AI_BASE_URL"
            print(f"AI: {ai}; data: {settings.data_dir}; status: `python bot.py status`", flush=True)
            ready = f"sandbox ready: http://127.0.0.1:{port}  (open it in a browser; Ctrl-C stops it)"
            await serve(settings, tree, ready, sandbox=True)

    asyncio.run(main())
    return 0


def run_bot(settings: Settings, tree: Tree) -> int:
    """The edge against Discord over a started tree (settings checked by `edge.launch.require_bot_settings`)."""
    asyncio.run(serve(settings, tree, "bot ready: connected to the gateway (Ctrl-C stops it)"))
    return 0
