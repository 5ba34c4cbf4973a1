"""The bot's own HTTP server (loopback by default): `/healthz`, `/metrics`, `/status`; in the sandbox a kill switch.

It runs on the edge's event loop; anything that asks the actors runs on the bridge's thread pool, and every
probe passes its remaining budget down, so no bridge thread is still waiting on the actors after it answered.
Production sends no CORS headers and starts no actor on request (`/ping` only with `TZUROT_HTTP_PING=1`);
the sandbox allows its own page's origin and no other. With `TZUROT_HTTP_TOKEN` set, everything but
`/healthz` and `/metrics` needs `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
import time
from concurrent.futures import Executor
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from actors.kinds import Kind
from actors.messages import GetUserSettings
from config import Settings
from discord_rest.invalid import FILE_NAME, read_invalid
from observability.metrics import Metrics
from store import check_writable
from store.cells import open_cell
from supervision.protocol import ModulesRequest

log = logging.getLogger("tzurot.http")
OPEN_PATHS = frozenset({"/healthz", "/metrics"})  # probes and scrapers carry no token
HEALTHZ_BUDGET_S, STATUS_BUDGET_S, METRICS_BUDGET_S = 3.0, 10.0, 5.0
GRACE_S = 0.5  # past its budget a bounded call has already returned: this only guards against a bug


def page_origins(discord_api_base: str) -> frozenset[str]:
    """The sandbox page's origins: it is served by the Discord emulator the sandbox points the bot at."""
    url = urlsplit(discord_api_base)
    if not url.port:
        return frozenset()
    return frozenset({f"{url.scheme}://127.0.0.1:{url.port}", f"{url.scheme}://localhost:{url.port}"})


def authorized(header: str, token: str) -> bool:
    """`Bearer <token>`, compared in constant time."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class Actors(Protocol):
    """The actor tree as the probes reach it (the bridge)."""

    @property
    def pool(self) -> Executor | None: ...

    def directory(self, timeout: float | None = None) -> Any: ...

    async def ask_async(self, kind: str, key: int | str, body: Any, timeout: float | None = None) -> Any: ...


class StatusSource(Protocol):
    """What the bot says of itself (observability/live.py's LiveStatus)."""

    def connected(self) -> bool: ...

    def gateway_shards(self) -> list[dict[str, Any]]: ...

    async def status(self, max_age_s: float = 1.0, deadline: float | None = None) -> dict[str, Any]: ...

    async def refresh_gauges(self, deadline: float | None = None) -> None: ...


class HttpServer:
    def __init__(self, settings: Settings, actors: Actors, live_status: StatusSource, metrics: Metrics, host: str,
                 port: int, sandbox: bool = False) -> None:
        self.settings, self.actors, self.live_status, self.counters = settings, actors, live_status, metrics
        self.host, self.port, self.sandbox = host, port, sandbox
        self.token: str = settings.http_token
        self.origins = page_origins(settings.discord_api_base) if sandbox else frozenset()
        self.started = time.time()
        self._runner: web.AppRunner | None = None
        self.invalid = open_cell(settings, FILE_NAME)  # the bot-wide invalid-request window, for /metrics

    async def start(self) -> None:
        app = web.Application(middlewares=[self.guard])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/status", self.status)
        if self.settings.http_ping:
            app.router.add_get("/ping", self.ping)
        if self.sandbox:
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

    @web.middleware
    async def guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """The token (a browser's preflight carries none), then the sandbox page's CORS headers."""
        preflight = request.method == "OPTIONS" and self.sandbox
        if self.token and not preflight and request.path not in OPEN_PATHS and not authorized(
                request.headers.get("Authorization", ""), self.token):
            return web.json_response({"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"})
        response = await handler(request)
        origin = request.headers.get("Origin", "")
        if origin in self.origins:  # empty outside the sandbox: production sends no CORS header at all
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    # ---- handlers -------------------------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        deadline = time.monotonic() + HEALTHZ_BUDGET_S
        failing = []
        if not self.live_status.connected():
            down = [str(s["id"]) for s in self.live_status.gateway_shards() if not s["connected"]]
            failing.append("gateway: not connected" + (f" (shard {', '.join(down)})" if down else ""))
        actors, store = await asyncio.gather(
            self.bounded(deadline, lambda left: self.actors.directory(timeout=left)),
            self.bounded(deadline, lambda left: store_writable(self.settings, left)),
            return_exceptions=True,
        )
        if isinstance(actors, BaseException):
            failing.append(f"actor system: not answering ({type(actors).__name__})")
        if isinstance(store, BaseException):
            failing.append(f"store: not writable ({type(store).__name__}: {str(store)[:80]})")
        if failing:
            return web.json_response({"ok": False, "failing": failing}, status=503)
        return web.json_response({"ok": True})

    async def metrics(self, request: web.Request) -> web.Response:
        """Always answers: when the actors do not answer within the budget, the gauges keep their last values."""
        deadline = time.monotonic() + METRICS_BUDGET_S
        try:
            await asyncio.wait_for(self.live_status.refresh_gauges(deadline), METRICS_BUDGET_S + GRACE_S)
        except Exception as exc:  # noqa: BLE001 - a scrape must still get the counters
            log.info("metrics: live-actor gauges not refreshed (%s)", type(exc).__name__)
        try:  # the invalid-request window lives in the database with PostgreSQL: bounded like the rest
            read = asyncio.get_running_loop().run_in_executor(self.actors.pool, read_invalid, self.invalid)
            self.counters.observe_invalid(await asyncio.wait_for(read, max(1.0, deadline - time.monotonic())))
        except Exception as exc:  # noqa: BLE001 - the counters are still served
            log.info("metrics: invalid-request window not read (%s)", type(exc).__name__)
        body = self.counters.render()
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def status(self, request: web.Request) -> web.Response:
        deadline = time.monotonic() + STATUS_BUDGET_S
        try:
            status = await asyncio.wait_for(self.live_status.status(deadline=deadline), STATUS_BUDGET_S + GRACE_S)
        except Exception as exc:  # noqa: BLE001
            return web.json_response({"error": f"actor system not answering: {type(exc).__name__}"}, status=503)
        return web.json_response(status)

    async def ping(self, request: web.Request) -> web.Response:
        """Only with TZUROT_HTTP_PING=1 (the capacity benchmark): the round trip edge -> shard -> user actor ->
        edge, in ms; with `&modules=1`, that actor's pid and the packages its process has imported. It starts
        that user's actor, which is why production does not serve it."""
        try:
            user = int(request.query["user"])
        except (KeyError, ValueError):
            return web.json_response({"error": "GET /ping?user=<user id>"}, status=400)
        if request.query.get("modules"):  # what that actor's process has imported (tests, the benchmark)
            found = await self.actors.ask_async(Kind.USER, user, ModulesRequest())
            return web.json_response({"pid": found.pid, "modules": list(found.names)})
        started = time.perf_counter()
        await self.actors.ask_async(Kind.USER, user, GetUserSettings(user))
        return web.json_response({"ms": round((time.perf_counter() - started) * 1000, 3)})

    async def preflight(self, request: web.Request) -> web.Response:
        """Sandbox only; the guard adds the origin when it is the page's."""
        return web.Response(status=204, headers={"Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                                                 "Access-Control-Allow-Headers": "content-type"})

    async def kill(self, request: web.Request) -> web.Response:
        """Sandbox only: SIGKILL one actor process of this tree, so a person can watch supervision heal it."""
        try:
            pid = int((await request.json())["pid"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "send {\"pid\": <actor pid>}"}, status=400)
        status = await self.live_status.status()
        ours = {c["pid"] for s in status["supervisors"] for c in s["children"] if c["pid"]}
        if pid not in ours:
            return web.json_response({"error": f"{pid} is not an actor of this bot"}, status=404)
        os.kill(pid, signal.SIGKILL)
        log.warning("killed actor pid %d on request (sandbox)", pid)
        return web.json_response({"killed": pid})

    async def bounded(self, deadline: float, call: Any) -> Any:
        """`call(seconds_left)` on the bridge's pool; the time left is measured when a thread takes it, and the
        call must end by then, so the thread is free again when this returns."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self.actors.pool, lambda: call(max(0.0, deadline - time.monotonic())))
        return await asyncio.wait_for(work, max(0.0, deadline - time.monotonic()) + GRACE_S)


def store_writable(settings: Settings, timeout: float = 2.0) -> None:
    """The store can take a write within `timeout` (nothing created or migrated); raises when it cannot."""
    if timeout <= 0:
        raise TimeoutError("no time left to check the store")
    check_writable(settings, min(2.0, timeout))
