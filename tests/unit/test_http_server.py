"""The bot's HTTP server (`edge/http.py`) as a browser, a scraper and an operator meet it, with a fake edge.

Production (`bot.py run`) sends no CORS headers and starts no actor on request; the sandbox allows its own
page's origin only; a bearer token, when set, guards everything but `/healthz` and `/metrics`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import bot
from config import Settings
from edge.http import HttpServer
from observability.metrics import Metrics
from store import SqliteStore

TOKEN = "s3cret-token-0123456789"
PAGE = "http://127.0.0.1:8080"  # the sandbox page's origin: the Discord emulator's base


class FakeBridge:
    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="fake-bridge")
        self.asked: list[Any] = []

    def directory(self, timeout: float | None = None) -> object:
        return object()

    async def ask_async(self, kind: str, key: Any, body: Any, timeout: float | None = None) -> Any:
        self.asked.append((kind, key))
        return body


class FakeEdge:
    """The server's collaborators: the settings, the actors (a fake bridge), the counters and a live status."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bridge = FakeBridge()
        self.metrics = Metrics()

    def connected(self) -> bool:
        return True

    def gateway_shards(self) -> list[dict[str, Any]]:
        return [{"id": 0, "of": 1, "connected": True, "down_s": None}]

    async def status(self, *_: Any, **__: Any) -> dict[str, Any]:
        return {"supervisors": [], "uptime_s": 1.0}

    async def refresh_gauges(self, *_: Any, **__: Any) -> None:
        return None

    def server(self, sandbox: bool = False) -> HttpServer:
        """The server on a free loopback port, with this edge's parts."""
        return HttpServer(self.settings, self.bridge, self, self.metrics, "127.0.0.1", 0, sandbox=sandbox)


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    """Settings of a bot whose store exists (the real bot creates it before the server starts)."""
    base = Settings(data_dir=tmp_path, discord_api_base=f"{PAGE}/api/v10")
    store = SqliteStore(base.store_path)
    assert store.conn is not None
    store.close()
    return dataclasses.replace(base, **changes)


def serve(settings: Settings, sandbox: bool, scenario: Any) -> Any:
    """Run the server on a free loopback port and `scenario(session, base_url)` against it."""

    async def main() -> Any:
        server = FakeEdge(settings).server(sandbox=sandbox)
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                return await scenario(session, f"http://127.0.0.1:{server.port}")
        finally:
            await server.stop()

    return asyncio.run(main())


async def fetch(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, dict[str, str], str]:
    async with session.request(method, url, **kw) as response:
        return response.status, dict(response.headers), await response.text()


# ---- CORS --------------------------------------------------------------------------------------------


def test_production_sends_no_cors_headers_on_status_nor_on_a_preflight(tmp_path: Path) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> list[tuple[int, dict[str, str], str]]:
        origin = {"Origin": "https://evil.example"}
        preflight = {**origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"}
        return [
            await fetch(session, "GET", f"{base}/status", headers=origin),
            await fetch(session, "OPTIONS", f"{base}/status", headers=preflight),
            await fetch(session, "OPTIONS", f"{base}/actors/kill", headers=preflight),
        ]

    status, *preflights = serve(settings_for(tmp_path), False, scenario)
    assert status[0] == 200
    for code, headers, _ in (status, *preflights):
        assert not [h for h in headers if h.lower().startswith("access-control-")], (code, headers)


def test_the_sandbox_allows_its_own_page_only_never_any_origin(tmp_path: Path) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        return {
            "page": await fetch(session, "GET", f"{base}/status", headers={"Origin": PAGE}),
            "page_preflight": await fetch(session, "OPTIONS", f"{base}/actors/kill",
                                          headers={"Origin": PAGE, **preflight}),
            "other": await fetch(session, "GET", f"{base}/status", headers={"Origin": "https://evil.example"}),
            "other_preflight": await fetch(session, "OPTIONS", f"{base}/actors/kill",
                                           headers={"Origin": "https://evil.example", **preflight}),
        }

    got = serve(settings_for(tmp_path), True, scenario)
    assert got["page"][1].get("Access-Control-Allow-Origin") == PAGE
    allowed = got["page_preflight"][1]
    assert allowed.get("Access-Control-Allow-Origin") == PAGE
    assert "POST" in allowed.get("Access-Control-Allow-Methods", "")
    assert "content-type" in allowed.get("Access-Control-Allow-Headers", "").lower()
    for name in ("other", "other_preflight"):
        assert "Access-Control-Allow-Origin" not in got[name][1], got[name]


# ---- /ping -------------------------------------------------------------------------------------------


def test_ping_starts_no_actor_in_production_unless_the_benchmark_opts_in(tmp_path: Path) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> tuple[int, dict[str, str], str]:
        return await fetch(session, "GET", f"{base}/ping", params={"user": "42"})

    code, _, _ = serve(settings_for(tmp_path), False, scenario)
    assert code in (403, 404)
    code, _, body = serve(settings_for(tmp_path, http_ping=1), False, scenario)  # TZUROT_HTTP_PING=1
    assert code == 200 and "ms" in body


# ---- the token ---------------------------------------------------------------------------------------


def test_with_a_token_everything_but_healthz_and_metrics_needs_it(tmp_path: Path) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> dict[str, tuple[int, dict[str, str], str]]:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        return {
            "status": await fetch(session, "GET", f"{base}/status"),
            "status_wrong": await fetch(session, "GET", f"{base}/status", headers={"Authorization": "Bearer nope"}),
            "status_basic": await fetch(session, "GET", f"{base}/status", headers={"Authorization": TOKEN}),
            "status_ok": await fetch(session, "GET", f"{base}/status", headers=bearer),
            "ping": await fetch(session, "GET", f"{base}/ping", params={"user": "42"}),
            "ping_ok": await fetch(session, "GET", f"{base}/ping", params={"user": "42"}, headers=bearer),
            "healthz": await fetch(session, "GET", f"{base}/healthz"),
            "metrics": await fetch(session, "GET", f"{base}/metrics"),
        }

    got = serve(settings_for(tmp_path, http_token=TOKEN, http_ping=1), False, scenario)
    for name in ("status", "status_wrong", "status_basic", "ping"):
        code, headers, body = got[name]
        assert code == 401, (name, code, body)
        assert headers["Content-Type"].startswith("application/json") and len(body) < 60
        assert TOKEN not in body
    assert got["status_ok"][0] == 200 and got["ping_ok"][0] == 200
    assert got["healthz"][0] == 200 and got["metrics"][0] == 200


def test_the_token_never_shows_in_the_settings_repr(tmp_path: Path) -> None:
    assert TOKEN not in repr(settings_for(tmp_path, http_token=TOKEN))


# ---- bot.py status -----------------------------------------------------------------------------------


@pytest.fixture
def running_server(tmp_path: Path) -> Iterator[Any]:
    """The server with a token, on a loop in another thread, for the synchronous `bot.py status`."""
    settings = settings_for(tmp_path, http_token=TOKEN)
    loop = asyncio.new_event_loop()
    server = FakeEdge(settings).server(sandbox=False)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield dataclasses.replace(settings, http_port=server.port)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_bot_py_status_sends_the_configured_token(running_server: Settings, capsys: pytest.CaptureFixture) -> None:
    assert bot.show_status(running_server, as_json=True) == 0
    assert '"uptime_s"' in capsys.readouterr().out

    wrong = dataclasses.replace(running_server, http_token="another-token-0123456789")
    assert bot.show_status(wrong, as_json=True) == 1
    err = capsys.readouterr().err
    assert "401" in err and "TZUROT_HTTP_TOKEN" in err
    assert TOKEN not in err and "another-token" not in err


# ---- probes ------------------------------------------------------------------------------------------


class StuckBridge(FakeBridge):
    """An actor system that never answers: `directory` waits out whatever time it is given (else 10 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0

    def directory(self, timeout: float | None = None) -> object:
        self.in_flight += 1
        try:
            time.sleep(10.0 if timeout is None else timeout)
            raise TimeoutError("no directory")
        finally:
            self.in_flight -= 1


def test_healthz_answers_within_its_budget_and_holds_no_bridge_thread_after(tmp_path: Path) -> None:
    edge = FakeEdge(settings_for(tmp_path))
    edge.bridge = stuck = StuckBridge()

    async def main() -> tuple[int, str, float, int]:
        server = edge.server()
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                started = time.monotonic()
                code, _, body = await fetch(session, "GET", f"http://127.0.0.1:{server.port}/healthz")
                return code, body, time.monotonic() - started, stuck.in_flight
        finally:
            await server.stop()

    try:
        code, body, took, in_flight = asyncio.run(main())
    finally:
        stuck.pool.shutdown(wait=False, cancel_futures=True)
    assert code == 503 and "actor system" in body
    assert took < 3.6
    assert in_flight == 0  # nothing still waits on the actors once the probe has answered
