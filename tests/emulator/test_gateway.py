"""The gateway protocol spoken by hand: HELLO, heartbeats, close codes, RESUME refusals."""

from __future__ import annotations

from typing import Any

import aiohttp

from emulator.discord import DiscordEmulator
from tests.emulator.helpers import TOKEN, run_raw


async def _frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    return await ws.receive_json(timeout=5)


async def _open(session: aiohttp.ClientSession, emulator: DiscordEmulator) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(emulator.gateway_url + "?v=10&encoding=json&compress=zlib-stream")
    hello = await _frame(ws)
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
    return ws


async def _close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    message = await ws.receive(timeout=5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    return ws.close_code


def test_identify_heartbeat_and_close_codes() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        ws = await _open(session, emulator)
        await ws.send_json({"op": 1, "d": None})
        assert (await _frame(ws))["op"] == 11
        await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": 1, "properties": {}}})
        ready, guild = await _frame(ws), await _frame(ws)
        assert (ready["t"], ready["s"], guild["t"], guild["s"]) == ("READY", 1, "GUILD_CREATE", 2)
        assert ready["d"]["resume_gateway_url"] == emulator.gateway_url
        members = guild["d"]["members"]
        assert all("flags" in m for m in members) and len(members) == 4
        assert all("permission_overwrites" in c for c in guild["d"]["channels"])
        await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": 1}})
        assert await _close_code(ws) == 4005

        wrong_token, members_first, unknown_first = {"op": 2, "d": {"token": "x"}}, {"op": 8, "d": {}}, {"op": 99}
        for first, code in ((wrong_token, 4004), (members_first, 4003), (unknown_first, 4003)):
            ws = await _open(session, emulator)
            await ws.send_json(first)
            assert await _close_code(ws) == code

    run_raw(scenario)


def test_resume_of_an_unknown_session_is_refused() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        ws = await _open(session, emulator)
        await ws.send_json({"op": 6, "d": {"token": TOKEN, "session_id": "nope", "seq": 3}})
        assert await _frame(ws) == {"op": 9, "d": False}
        await ws.close()

    run_raw(scenario)
