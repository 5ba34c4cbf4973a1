"""The page's routes without a browser: the page and its assets, its config, and its event stream
(`GET /_page/events`): what the stream carries, and that it stays bounded.

These need no Chromium, so they run everywhere.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
import pytest

from emulator.discord import DiscordEmulator
from emulator.discord import page as page_module
from emulator.discord.server import DEFAULT_TOKEN


async def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        await asyncio.sleep(0.01)
    return value


class Stream:
    """An open SSE response, read event by event."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next_event(self, timeout: float = 5.0) -> tuple[str, Any]:
        name, data = None, None
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.response.content.readline()).decode()
                if not line:
                    raise EOFError("the stream ended")
                line = line.rstrip("\n")
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                elif line == "" and name is not None:
                    return name, data

    async def event(self, wanted: str) -> Any:
        while True:
            name, data = await self.next_event()
            if name == wanted:
                return data


def run(scenario: Callable[[DiscordEmulator, aiohttp.ClientSession], Awaitable[None]]) -> None:
    async def main() -> None:
        emulator = DiscordEmulator()
        await emulator.start()
        try:
            async with aiohttp.ClientSession() as session:
                await scenario(emulator, session)
        finally:
            await emulator.stop()

    asyncio.run(main())


async def open_stream(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> Stream:
    response = await session.get(emulator.base_url + "/_page/events")
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    assert (await response.content.readline()).startswith(b"retry: ")
    return Stream(response)


def test_the_stream_carries_messages_edits_deletions_and_typing_for_every_channel() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        world = emulator.world
        stream = await open_stream(emulator, session)
        assert emulator.page.subscribers == 1
        lounge, alice = world.channel_named("lounge"), world.user_named("alice")
        body = {"channel_id": str(lounge.id), "author": {"id": str(alice.id), "username": "alice"}, "content": "hi"}
        async with session.post(emulator.base_url + "/_sandbox/messages", json=body) as response:
            posted = (await response.json())["id"]
        created = await stream.event("message_create")
        async with session.get(emulator.base_url + f"/_sandbox/channels/{lounge.id}/messages") as response:
            listed = await response.json()
        assert created == listed[0]  # exactly what the listing shows
        assert created["id"] == posted and created["timestamp"] and created["avatar_url"] is None

        bot = {"Authorization": f"Bot {DEFAULT_TOKEN}"}
        async with session.post(emulator.api_base + f"/channels/{lounge.id}/typing", headers=bot) as response:
            assert response.status == 204
        assert await stream.event("typing_start") == {
            "channel_id": str(lounge.id), "user_id": str(world.bot_id), "username": "Tzurot",
        }

        async with session.post(emulator.api_base + f"/channels/{lounge.id}/webhooks", json={"name": "Tzurot"},
                                headers=bot) as response:
            hook = await response.json()
        execute = emulator.api_base + f"/webhooks/{hook['id']}/{hook['token']}"
        spoken = {"content": "I am Lilith", "username": "Lilith", "avatar_url": "http://127.0.0.1:9/lilith.png"}
        async with session.post(execute, params={"wait": "true"}, json=spoken) as response:
            message = await response.json()
        said = await stream.event("message_create")
        assert said["author"]["username"] == "Lilith" and said["webhook_id"] == hook["id"]
        assert said["avatar_url"] == "http://127.0.0.1:9/lilith.png"
        async with session.patch(execute + f"/messages/{message['id']}", json={"content": "edited"}) as response:
            assert response.status == 200
        edited = await stream.event("message_update")
        assert edited["content"] == "edited" and edited["edited"]
        async with session.delete(execute + f"/messages/{message['id']}") as response:
            assert response.status == 204
        assert await stream.event("message_delete") == {"id": message["id"], "channel_id": str(lounge.id)}
        stream.response.close()

    run(scenario)


def test_a_subscriber_that_falls_behind_is_dropped_and_a_closed_tab_is_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(page_module, "SUBSCRIBER_QUEUE", 3)

    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        page = emulator.page
        slow = await open_stream(emulator, session)
        for n in range(10):  # in one go, before the stream's writer gets a turn: its queue overflows
            page.publish("message_delete", {"id": str(n), "channel_id": "1"})
        assert page.subscribers == 0 and page.dropped == 1
        with pytest.raises(EOFError):  # its stream ends at once (the browser reconnects and reloads)
            while True:
                await slow.next_event()

        gone = await open_stream(emulator, session)
        assert page.subscribers == 1
        gone.response.close()  # the tab is closed: the next write fails and the subscriber goes

        def forgotten() -> bool:
            page.publish("message_delete", {"id": "0", "channel_id": "1"})
            return page.subscribers == 0

        await wait_until(forgotten)

    run(scenario)


def test_streams_are_capped_and_do_not_hold_up_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_module, "SUBSCRIBERS_CAP", 2)

    async def main() -> None:
        emulator = DiscordEmulator()
        await emulator.start()
        async with aiohttp.ClientSession() as session:
            streams = [await open_stream(emulator, session) for _ in range(2)]
            async with session.get(emulator.base_url + "/_page/events") as refused:
                assert refused.status == 503
            started = time.monotonic()
            await emulator.stop()
            assert time.monotonic() - started < 1.5  # open streams are ended, not waited for
            assert emulator.page.subscribers == 0
            for stream in streams:
                with pytest.raises(EOFError):
                    while True:
                        await stream.next_event()

    asyncio.run(main())


def test_the_page_and_its_assets_are_served_locally(emulator: Any) -> None:
    with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
        index = http.get("/")
        assert index.status_code == 200 and "text/html" in index.headers["content-type"]
        for asset in re.findall(r'(?:src|href)="([^"]+)"', index.text):
            assert asset.startswith("/_page/static/"), f"every asset is served by the emulator: {asset}"
            assert http.get(asset).status_code == 200
        assert http.get("/_page/config").json() == {"bot_http": None}
        emulator.emulator.page_bot_http = "http://127.0.0.1:9"
        assert http.get("/_page/config").json() == {"bot_http": "http://127.0.0.1:9"}
