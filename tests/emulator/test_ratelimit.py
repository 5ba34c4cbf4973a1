"""Rate limits and injected faults: real 429s and headers, and a real client that waits them out."""

from __future__ import annotations

import time

import aiohttp
import discord

from emulator.discord import DiscordEmulator, RateLimits
from tests.emulator.helpers import Reply, call, pointed_at, run_raw, sandbox

_BUCKET_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Reset-After")


async def _webhook(session: aiohttp.ClientSession, emulator: DiscordEmulator, channel: str = "general") -> dict:
    channel_id = emulator.world.channel_named(channel).id
    return (await call(session, emulator, "POST", f"/channels/{channel_id}/webhooks", json={"name": "Hook"})).body


async def _execute(session: aiohttp.ClientSession, emulator: DiscordEmulator, webhook: dict) -> Reply:
    path = f"/webhooks/{webhook['id']}/{webhook['token']}"
    return await call(session, emulator, "POST", path, json={"content": "hi"}, auth=False)


def test_every_response_carries_rate_limit_headers_and_exact_json_type() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        reply = await call(session, emulator, "GET", "/users/@me")
        assert reply.headers["Content-Type"] == "application/json"
        assert all(name in reply.headers for name in (*_BUCKET_HEADERS, "X-RateLimit-Bucket", "Via"))

    run_raw(scenario)


def test_sixth_execution_within_two_seconds_gets_a_real_429() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        webhook, other = await _webhook(session, emulator), await _webhook(session, emulator)
        replies = [await _execute(session, emulator, webhook) for _ in range(6)]
        assert [r.status for r in replies] == [204] * 5 + [429]
        assert [r.headers["X-RateLimit-Remaining"] for r in replies[:5]] == ["4", "3", "2", "1", "0"]
        limited = replies[-1]
        assert set(limited.body) == {"message", "retry_after", "global"} and limited.body["global"] is False
        assert 0 < limited.body["retry_after"] <= 2.0
        headers = limited.headers
        assert headers["X-RateLimit-Scope"] == "user" and "X-RateLimit-Global" not in headers
        assert int(headers["Retry-After"]) >= limited.body["retry_after"] and headers["Via"]
        assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Remaining"] == "0"
        assert headers["X-RateLimit-Bucket"] == replies[0].headers["X-RateLimit-Bucket"]
        assert (await _execute(session, emulator, other)).status == 204
        journal = emulator.requests(webhook_id=int(webhook["id"]))
        assert [r.rate_limited for r in journal] == [False] * 5 + [True]

    run_raw(scenario)


def test_channel_message_bucket_limits_sends() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        path = f"/channels/{emulator.world.channel_named('general').id}/messages"
        statuses = [(await call(session, emulator, "POST", path, json={"content": "x"})).status for _ in range(6)]
        assert statuses == [200] * 5 + [429]

    run_raw(scenario)


def test_global_limit_is_per_token_and_per_ip_for_webhook_executions() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        webhook = await _webhook(session, emulator)
        replies = [await call(session, emulator, "GET", "/users/@me") for _ in range(3)]
        assert [r.status for r in replies] == [200, 200, 429]
        limited = replies[-1]
        assert limited.body["global"] is True
        assert limited.headers["X-RateLimit-Global"] == "true" and limited.headers["X-RateLimit-Scope"] == "global"
        assert (await _execute(session, emulator, webhook)).status == 204

    run_raw(scenario, limits=RateLimits(global_per_second=3))


def test_injected_429_is_waited_out_by_discord_py_before_retrying() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        data = await _webhook(session, emulator)
        channel_id = emulator.world.channel_named("general").id
        elsewhere = {"kind": "rate_limit", "channel_id": str(emulator.world.channel_named("help").id), "count": 1}
        here = {"kind": "rate_limit", "channel_id": str(channel_id), "count": 1, "seconds": 0.3}
        for fault in (elsewhere, here):
            assert (await sandbox(session, emulator, "POST", "/faults", json=fault)).status == 200
        with pointed_at(emulator):
            webhook = discord.Webhook.partial(int(data["id"]), data["token"], session=session)
            sent = await webhook.send("after waiting", wait=True)
        assert sent.content == "after waiting"
        refused, accepted = emulator.requests(webhook_id=int(data["id"]))
        assert (refused.status, refused.retry_after, accepted.status) == (429, 0.3, 200)
        assert accepted.at - refused.at >= refused.retry_after

    run_raw(scenario)


def test_server_error_and_latency_faults() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        faults = ({"kind": "server_error", "count": 1}, {"kind": "latency", "seconds": 0.2, "count": 1})
        for fault in faults:
            assert (await sandbox(session, emulator, "POST", "/faults", json=fault)).status == 200
        started = time.monotonic()
        failed = await call(session, emulator, "GET", "/users/@me")
        assert failed.status == 500 and failed.body["code"] == 0
        assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        assert (await call(session, emulator, "GET", "/users/@me")).status == 200
        assert time.monotonic() - started < 0.2

    run_raw(scenario)
