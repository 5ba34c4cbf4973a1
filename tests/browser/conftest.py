"""Fixtures for the page's tests: a headless Chromium (Debian's, driven by Playwright), the Discord emulator
serving the page, and a tiny fake of the bot's HTTP status/kill contract so the actor-tree panel can be
tested without the real bot.

The browser is `/usr/bin/chromium` from Debian's packages, never one that Playwright would download
(`playwright install` is not used). Tests that need it skip when it is missing.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from emulator.discord import DiscordEmulator
from testkit.stack import in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 860}
EXPECT_TIMEOUT_MS = 10_000


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; never `playwright install`)"
    return None


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    """One headless Chromium per test module, with a fresh user-data directory."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    profile = tempfile.mkdtemp(prefix="tzurot-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport=VIEWPORT,
                device_scale_factor=1,
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A fresh tab; console errors of the page fail the test that opened it."""
    tab = browser_context.new_page()
    tab.set_default_timeout(EXPECT_TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        tab.close()
    assert not errors, f"the page threw: {errors}"


class ServerThread:
    """An aiohttp application on 127.0.0.1 (a free port), served from its own loop in a daemon thread."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-bot-http", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("server thread did not start")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=1)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        self._loop.run_until_complete(start())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class FakeBotHttp:
    """The bot's HTTP contract, faked: `GET /status` (the supervision tree) and `POST /actors/kill {"pid"}`.

    A kill "restarts" the actor at once: a new pid, one more restart, as a supervisor would after backoff.
    Both routes answer with `Access-Control-Allow-Origin: *` and the kill's CORS preflight is answered."""

    def __init__(self, user_ids: list[str], channel_ids: list[str]) -> None:
        self._pids = itertools.count(41_000)
        self.kills: list[int] = []
        child = self._child
        shards = {f"user/{i}": [] for i in range(2)} | {"channel/0": []}
        for n, key in enumerate(user_ids):
            shards[f"user/{n % 2}"].append(child("user", key))
        shards["user/1"].append(child("user", "999", status="parked", pid=None, restarts=6, last_error="boom"))
        shards["channel/0"] = [child("channel", key) for key in channel_ids]
        root_children = [child("registry", "registry"), child("blacklist", "blacklist")]
        root_children += [child("shard", key) for key in shards]
        self.supervisors: list[dict[str, Any]] = [{"key": "root", "pid": 40_000, "children": root_children}]
        for shard in root_children[2:]:
            self.supervisors.append({"key": shard["key"], "pid": shard["pid"], "children": shards[shard["key"]]})
        app = web.Application(middlewares=[self._cors])
        app.router.add_get("/status", self._status)
        app.router.add_post("/actors/kill", self._kill)
        app.router.add_route("OPTIONS", "/actors/kill", self._preflight)
        self._server = ServerThread(app)

    def _child(
        self,
        kind: str,
        key: str,
        *,
        status: str = "live",
        pid: int | None = -1,
        restarts: int = 0,
        last_error: str = "",
    ) -> dict[str, Any]:
        return {
            "key": key,
            "kind": kind,
            "status": status,
            "pid": next(self._pids) if pid == -1 else pid,
            "restarts": restarts,
            "pending": 0,
            "idle_s": 0.0,
            "last_error": last_error,
        }

    @property
    def url(self) -> str:
        return self._server.url

    def child(self, key: str) -> dict[str, Any]:
        return next(c for s in self.supervisors for c in s["children"] if c["key"] == key)

    @web.middleware
    async def _cors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    async def _preflight(self, request: web.Request) -> web.Response:
        return web.Response(
            status=204,
            headers={"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "content-type"},
        )

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"uptime_s": 83.5, "supervisors": self.supervisors, "extra": "ignored"})

    async def _kill(self, request: web.Request) -> web.Response:
        pid = (await request.json()).get("pid")
        for supervisor in self.supervisors:
            for child in supervisor["children"]:
                if child["pid"] == pid and pid is not None:
                    self.kills.append(pid)
                    child["pid"] = next(self._pids)
                    child["restarts"] += 1
                    for sup in self.supervisors:  # a shard's own row follows its new pid
                        if sup["key"] == child["key"]:
                            sup["pid"] = child["pid"]
                    return web.json_response({"killed": pid})
        return web.json_response({"error": f"no actor with pid {pid}"}, status=404)

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def emulator() -> Iterator[Any]:
    """The Discord emulator (default world) serving the page; `page_bot_http` unset (the panel unavailable)."""
    with in_thread(DiscordEmulator()) as thread:
        yield thread


@pytest.fixture
def fake_bot(emulator: Any) -> Iterator[FakeBotHttp]:
    """The fake bot HTTP server, wired into the emulator's `page_bot_http`."""
    world = emulator.emulator.world
    users = emulator.call(lambda: [str(world.user_named(name).id) for name in ("alice", "bob")])
    channels = emulator.call(lambda: [str(world.channel_named("general").id)])
    fake = FakeBotHttp(users, channels)
    emulator.emulator.page_bot_http = fake.url
    try:
        yield fake
    finally:
        fake.stop()
