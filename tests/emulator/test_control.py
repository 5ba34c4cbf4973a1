"""The /_sandbox control API, the thread runner and the standalone command."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import httpx
import pytest

from emulator.discord import DiscordEmulator, World, default_world
from tests.emulator.helpers import call, run_raw, sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_state_describes_the_default_world() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        state = (await sandbox(session, emulator, "GET", "/state")).body
        guild, annex = state["guilds"]
        channels = {c["name"]: c for c in guild["channels"]}
        assert guild["name"] == "Sandbox" and set(channels) == {"general", "lounge", "help", "ideas"}
        assert annex["name"] == "Annex" and {c["name"] for c in annex["channels"]} == {"commons", "workshop"}
        assert channels["lounge"]["nsfw"] and not channels["general"]["nsfw"]
        assert channels["ideas"]["parent_id"] == channels["help"]["id"] and channels["ideas"]["type"] == 11
        users = {u["username"]: u for u in state["users"]}
        assert set(users) == {"Tzurot", "alice", "bob", "carol"} and users["Tzurot"]["bot"]
        dm_users = {d["user_id"] for d in state["dm_channels"]}
        assert dm_users == {users[name]["id"] for name in ("alice", "bob", "carol")}
        assert state["webhooks"] == []
        general = channels["general"]["id"]
        created = await call(session, emulator, "POST", f"/channels/{general}/webhooks", json={"name": "P"})
        state = (await sandbox(session, emulator, "GET", "/state")).body
        assert state["webhooks"] == [{"id": created.body["id"], "channel_id": general, "name": "P"}]

    run_raw(scenario)


def test_posting_as_users_and_listing_messages() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        general = str(emulator.world.channel_named("general").id)

        async def post(**body: object) -> dict:
            reply = await sandbox(session, emulator, "POST", "/messages", json=body)
            return {"status": reply.status, **reply.body}

        first = await post(channel_id=general, author={"id": "4242", "username": "dave"}, content="hi")
        second = await post(
            channel_id=general, author={"id": "4242", "username": "dave"}, content="re", reply_to=first["id"]
        )
        listed = (await sandbox(session, emulator, "GET", f"/channels/{general}/messages")).body
        assert [(m["id"], m["content"], m["reply_to"]) for m in listed] == [
            (first["id"], "hi", None),
            (second["id"], "re", first["id"]),
        ]
        assert listed[0]["author"] == {"id": "4242", "username": "dave", "bot": False}
        assert listed[0]["webhook_id"] is None
        assert emulator.world.users[4242].username == "dave"

        errors = [
            await post(channel_id="1", author={"id": "1", "username": "x"}, content="a"),
            await post(channel_id=general, author={"id": "1", "username": "x"}, content="a", reply_to="999"),
            await post(channel_id=general, author={"username": "x"}, content="a"),
            await post(channel_id=general, author={"id": "1", "username": "x"}),
        ]
        assert [e["status"] for e in errors] == [400] * 4
        assert "unknown channel_id" in errors[0]["error"] and "reply_to 999" in errors[1]["error"]
        dm = emulator.world.dm_for(emulator.world.user_named("alice").id)
        assert dm is not None
        intruder = await post(channel_id=str(dm.id), author={"id": "4242", "username": "dave"}, content="a")
        assert intruder["status"] == 400 and "not the recipient" in intruder["error"]
        missing = await sandbox(session, emulator, "GET", "/channels/1/messages")
        assert missing.status == 400

    run_raw(scenario)


def test_fault_requests_are_validated() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        for body in ({"kind": "explode"}, {"kind": "delete_webhooks"}, {"kind": "rate_limit", "count": -1}):
            reply = await sandbox(session, emulator, "POST", "/faults", json=body)
            assert reply.status == 400 and reply.body["error"]

    run_raw(scenario)


def test_messages_per_channel_are_capped() -> None:
    world = World(message_cap=3)
    guild = world.add_guild("Small", owner_id=world.add_user("ann").id)
    channel = world.add_channel(guild.id, "only")

    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        for n in range(5):
            await call(session, emulator, "POST", f"/channels/{channel.id}/messages", json={"content": str(n)})
        assert [m.content for m in emulator.messages(channel.id)] == ["2", "3", "4"]

    run_raw(scenario, world)


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_thread_runner_serves_synchronous_callers() -> None:
    handle = DiscordEmulator(default_world()).start_in_thread()
    try:
        assert handle.base_url == f"http://127.0.0.1:{handle.port}"
        assert handle.gateway_url == f"ws://127.0.0.1:{handle.port}/gateway"
        me = httpx.get(handle.api_base + "/users/@me", headers={"Authorization": "Bot sandbox-token"})
        assert me.json()["username"] == "Tzurot"
        assert [r.route for r in handle.requests()] == ["/users/@me"]
        assert handle.call(lambda: len(handle.emulator.world.guilds)) == 2
    finally:
        handle.stop()
    assert _port_is_free(handle.port)


def test_standalone_command_prints_its_urls() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.discord", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().split()[-1]
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(base_url + "/_sandbox/state", timeout=5).json()["guilds"][0]["name"] == "Sandbox"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_a_busy_port_fails_the_start_in_the_caller() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            DiscordEmulator(port=taken.getsockname()[1]).start_in_thread()
