"""The gateway protocol spoken by hand: HELLO, heartbeats, close codes, RESUME refusals."""

from __future__ import annotations

from typing import Any

import aiohttp

from emulator.discord import DiscordEmulator
from tests.emulator.helpers import TOKEN, run_raw, sandbox, wait_for


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
        ready, guild, annex = await _frame(ws), await _frame(ws), await _frame(ws)
        assert (ready["t"], ready["s"], guild["t"], guild["s"]) == ("READY", 1, "GUILD_CREATE", 2)
        assert (annex["t"], annex["s"], annex["d"]["name"]) == ("GUILD_CREATE", 3, "Annex")
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


async def _guild_creates(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[str]:
    """Read the `count` GUILD_CREATEs that follow READY; the guilds' names."""
    frames = [await _frame(ws) for _ in range(count)]
    assert [f["t"] for f in frames] == ["GUILD_CREATE"] * count
    return [f["d"]["name"] for f in frames]


async def _identified(
    session: aiohttp.ClientSession, emulator: DiscordEmulator, **identify: Any
) -> tuple[Any, str]:
    """A connection past IDENTIFY: (websocket, session id), READY and its guilds' GUILD_CREATEs read."""
    ws = await _open(session, emulator)
    await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": (1 << 9) | (1 << 15) | (1 << 12),
                                       "properties": {}, **identify}})
    ready = await _frame(ws)
    assert ready["t"] == "READY"
    await _guild_creates(ws, len(ready["d"]["guilds"]))
    return ws, ready["d"]["session_id"]


def test_an_ended_session_cannot_be_resumed() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        ws, session_id = await _identified(session, emulator)
        ended = await sandbox(session, emulator, "POST", "/gateway", json={"action": "end_sessions"})
        assert ended.status == 200 and ended.body["sessions"] == 0
        assert await _frame(ws) == {"op": 9, "d": False}  # not resumable: IDENTIFY anew
        await ws.close()
        again = await _open(session, emulator)
        await again.send_json({"op": 6, "d": {"token": TOKEN, "session_id": session_id, "seq": 2}})
        assert await _frame(again) == {"op": 9, "d": False}
        await again.close()

    run_raw(scenario)


def test_an_outage_ends_sessions_and_holds_identify_until_restored() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        general = emulator.world.channel_named("general").id
        alice = emulator.world.user_named("alice")

        async def post(text: str) -> int:
            body = {"channel_id": str(general), "author": {"id": str(alice.id), "username": "alice"},
                    "content": text}
            return int((await sandbox(session, emulator, "POST", "/messages", json=body)).body["id"])

        ws, first = await _identified(session, emulator)
        down = await sandbox(session, emulator, "POST", "/gateway", json={"action": "outage"})
        assert down.body == {"action": "outage", "down": True, "sessions": 0, "connected": 0, "waiting": 0,
                             "shard_count": 1, "connected_shards": []}
        assert await _close_code(ws) == 4000
        resumed = await _open(session, emulator)  # the client tries to RESUME: the session is gone
        await resumed.send_json({"op": 6, "d": {"token": TOKEN, "session_id": first, "seq": 2}})
        assert await _frame(resumed) == {"op": 9, "d": False}
        await resumed.close()

        fresh = await _open(session, emulator)
        await fresh.send_json({"op": 2, "d": {"token": TOKEN, "intents": (1 << 9) | (1 << 15), "properties": {}}})
        await wait_for(lambda: emulator.gateway_state()["waiting"] == 1)
        await post("said while the gateway was down")
        up = await sandbox(session, emulator, "POST", "/gateway", json={"action": "restore"})
        assert up.body == {"action": "restore", "down": False, "sessions": 1, "connected": 1, "waiting": 0,
                           "shard_count": 1, "connected_shards": [0]}
        ready = await _frame(fresh)
        assert ready["t"] == "READY" and ready["d"]["session_id"] != first and ready["s"] == 1
        assert await _guild_creates(fresh, 2) == ["Sandbox", "Annex"]
        after = await post("said after")
        created = await _frame(fresh)  # the message said while down is never replayed
        assert (created["t"], created["d"]["id"]) == ("MESSAGE_CREATE", str(after))
        await fresh.close()

        wrong = await sandbox(session, emulator, "POST", "/gateway", json={"action": "explode"})
        assert wrong.status == 400 and "end_sessions" in wrong.body["error"]

    run_raw(scenario)
