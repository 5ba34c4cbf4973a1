"""The bot's own HTTP server, on loopback: `/healthz`, `/metrics`, `/status`, and (sandbox only) a kill switch.

It runs on the edge's event loop; anything that asks the actors runs on the bridge's thread pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Any

from aiohttp import web

from actors.messages import GetUserSettings
from store import SqliteStore

log = logging.getLogger("tzurot.http")
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "content-type"}


class HttpServer:
    def __init__(self, edge: Any, host: str, port: int, sandbox: bool = False) -> None:
        self.edge = edge
        self.host, self.port, self.sandbox = host, port, sandbox
        self.started = time.time()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/status", self.status)
        app.router.add_get("/ping", self.ping)
        app.router.add_route("OPTIONS", "/{tail:.*}", self.preflight)
        app.router.add_post("/actors/kill", self.kill)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1] if self.port == 0 else self.port  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- handlers -------------------------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        failing = []
        if not self.edge.connected():
            failing.append("gateway: not connected")
        try:
            await asyncio.wait_for(self.in_pool(self.edge.bridge.directory), 3.0)
        except Exception as exc:  # noqa: BLE001 - any failure means "not answering"
            failing.append(f"actor system: not answering ({type(exc).__name__})")
        try:
            await self.in_pool(store_writable, self.edge.settings)
        except Exception as exc:  # noqa: BLE001
            failing.append(f"store: not writable ({type(exc).__name__}: {str(exc)[:80]})")
        if failing:
            return web.json_response({"ok": False, "failing": failing}, status=503)
        return web.json_response({"ok": True})

    async def metrics(self, request: web.Request) -> web.Response:
        await self.edge.refresh_gauges()
        body = self.edge.metrics.render()
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def status(self, request: web.Request) -> web.Response:
        try:
            status = await asyncio.wait_for(self.edge.status(), 10.0)
        except Exception as exc:  # noqa: BLE001
            return web.json_response({"error": f"actor system not answering: {type(exc).__name__}"}, status=503,
                                     headers=CORS)
        return web.json_response(status, headers=CORS)

    async def ping(self, request: web.Request) -> web.Response:
        """Round trip edge -> Root -> shard -> user actor -> edge, in ms (activates the actor if needed)."""
        try:
            user = int(request.query["user"])
        except (KeyError, ValueError):
            return web.json_response({"error": "GET /ping?user=<user id>"}, status=400)
        started = time.perf_counter()
        await self.edge.bridge.ask_async("user", user, GetUserSettings(user))
        return web.json_response({"ms": round((time.perf_counter() - started) * 1000, 3)})

    async def preflight(self, request: web.Request) -> web.Response:
        return web.Response(headers={**CORS, "Access-Control-Allow-Methods": "GET, POST, OPTIONS"})

    async def kill(self, request: web.Request) -> web.Response:
        """Sandbox only: SIGKILL one actor process of this tree, so a person can watch supervision heal it."""
        if not self.sandbox:
            return web.json_response({"error": "only in the sandbox"}, status=403, headers=CORS)
        try:
            pid = int((await request.json())["pid"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "send {\"pid\": <actor pid>}"}, status=400, headers=CORS)
        status = await self.edge.status()
        ours = {c["pid"] for s in status["supervisors"] for c in s["children"] if c["pid"]}
        if pid not in ours:
            return web.json_response({"error": f"{pid} is not an actor of this bot"}, status=404, headers=CORS)
        os.kill(pid, signal.SIGKILL)
        log.warning("killed actor pid %d on request (sandbox)", pid)
        return web.json_response({"killed": pid}, headers=CORS)

    async def in_pool(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.edge.bridge.pool, fn, *args)


def store_writable(settings: Any) -> None:
    store = SqliteStore(settings.store_path, busy_timeout_s=2.0)
    try:
        store.conn.execute("BEGIN IMMEDIATE")
        store.conn.execute("ROLLBACK")
    finally:
        store.close()
