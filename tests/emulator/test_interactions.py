"""Slash commands in the emulator: registration, INTERACTION_CREATE, callbacks, follow-ups and edits, the 3-second
and 15-minute windows, ephemeral answers, with a real discord.py CommandTree and with raw requests."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
from discord import app_commands

from emulator.discord import DiscordEmulator
from emulator.discord.interactions import INITIAL_WINDOW_S, TOKEN_WINDOW_S
from tests.emulator.helpers import call, discord_bot, running, sandbox

NAMES = ["lilith", "lily", "bob-the-bot"]


class Secret(discord.ui.Modal, title="Your key"):
    key: discord.ui.TextInput[Secret] = discord.ui.TextInput(label="Key", custom_id="key")
    got: asyncio.Future[str]

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.got.set_result(self.key.value)
        await interaction.response.send_message("saved", ephemeral=True)


def build_tree(client: discord.Client, modal_values: asyncio.Future[str]) -> app_commands.CommandTree[Any]:
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    group = app_commands.Group(name="tz", description="Tzurot")

    @group.command(name="info", description="one personality")
    async def info(interaction: discord.Interaction, personality: str) -> None:
        await interaction.response.send_message(f"about {personality}", ephemeral=True)

    @info.autocomplete("personality")
    async def names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in NAMES if n.startswith(current)]

    @group.command(name="slow", description="takes a while")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("done at last")

    @group.command(name="key", description="set a key")
    async def key(interaction: discord.Interaction) -> None:
        modal = Secret()
        modal.got = modal_values
        await interaction.response.send_modal(modal)

    tree.add_command(group)

    @tree.command(name="activate", description="moderators only")
    @app_commands.default_permissions(manage_messages=True)
    async def activate(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("activated")

    return tree


def test_discord_py_command_tree_end_to_end() -> None:
    async def main() -> None:
        async with running() as emulator, aiohttp.ClientSession() as session:
            world = emulator.world
            general = world.channel_named("general")
            alice, bob = world.user_named("alice"), world.user_named("bob")
            async with discord_bot(emulator) as bot:
                typed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
                tree = build_tree(bot.client, typed)
                guild = discord.Object(general.guild_id or 0)
                tree.copy_global_to(guild=guild)
                synced = await tree.sync(guild=guild)
                assert sorted(c.name for c in synced) == ["activate", "tz"]

                async def invoke(**body: Any) -> dict[str, Any]:
                    reply = await sandbox(session, emulator, "POST", "/interactions", json=body)
                    assert reply.status == 200, reply.body
                    return reply.body

                who = {"channel_id": str(general.id), "user_id": str(alice.id)}
                hints = await invoke(**who, command="tz info", options={"personality": "li"}, focused="personality")
                assert hints["response"] == 8 and [c["name"] for c in hints["choices"]] == ["lilith", "lily"]

                answered = await invoke(**who, command="tz info", options={"personality": "lilith"})
                assert answered["response"] == 4 and answered["original"]["content"] == "about lilith"
                assert answered["original"]["ephemeral"]
                seen_by_bob = await sandbox(session, emulator, "GET", f"/channels/{general.id}/messages",
                                            params={"as": str(bob.id)})
                seen_by_alice = await sandbox(session, emulator, "GET", f"/channels/{general.id}/messages",
                                              params={"as": str(alice.id)})
                assert "about lilith" not in [m["content"] for m in seen_by_bob.body]
                assert "about lilith" in [m["content"] for m in seen_by_alice.body]

                deferred = await invoke(**who, command="tz slow")
                assert deferred["response"] == 5

                async def finished() -> bool:
                    view = await sandbox(session, emulator, "GET", f"/interactions/{deferred['id']}")
                    return view.body["original"]["content"] == "done at last" and not view.body["original"]["loading"]

                await _until(finished)

                opened = await invoke(**who, command="tz key")
                assert opened["response"] == 9 and opened["modal"]["title"] == "Your key"
                submitted = await invoke(modal_of=opened["id"], values={"key": "sk-very-secret"})
                assert submitted["type"] == 5 and submitted["original"]["content"] == "saved"
                assert await asyncio.wait_for(typed, 5) == "sk-very-secret"

                refused = await sandbox(session, emulator, "POST", "/interactions",
                                        json={**who, "user_id": str(bob.id), "command": "activate"})
                assert refused.status == 403 and "lacks the permissions /activate needs" in refused.body["error"]
                owner = await invoke(**who, command="activate")  # alice owns the server
                assert owner["original"]["content"] == "activated" and not owner["original"]["ephemeral"]
            assert emulator.violations() == []

    asyncio.run(main())


async def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


COMMANDS = [{"name": "tz", "description": "Tzurot", "options": [
    {"type": 1, "name": "ping", "description": "liveness"},
    {"type": 1, "name": "list", "description": "yours", "options": [
        {"type": 4, "name": "page", "description": "page", "required": False}]}]}]


async def _registered(session: aiohttp.ClientSession, emulator: DiscordEmulator) -> str:
    app = emulator.world.bot_id
    put = await call(session, emulator, "PUT", f"/applications/{app}/commands", json=COMMANDS)
    assert put.status == 200 and put.body[0]["name"] == "tz", put.body
    again = await call(session, emulator, "PUT", f"/applications/{app}/commands", json=COMMANDS)
    assert again.body[0]["id"] == put.body[0]["id"]  # an overwrite keeps a command's id
    listed = await call(session, emulator, "GET", f"/applications/{app}/commands")
    assert [c["name"] for c in listed.body] == ["tz"]
    return str(app)


def test_raw_windows_and_rules() -> None:
    async def main() -> None:
        async with running() as emulator, aiohttp.ClientSession() as session:
            world = emulator.world
            app = await _registered(session, emulator)
            bad = await call(session, emulator, "PUT", f"/applications/{app}/commands",
                             json=[{"name": "Bad Name", "description": "x"}])
            assert bad.status == 400 and bad.body["code"] == 50035
            general, alice = world.channel_named("general"), world.user_named("alice")
            body = {"channel_id": str(general.id), "user_id": str(alice.id), "command": "tz list",
                    "options": {"page": "2"}}
            wrong = await sandbox(session, emulator, "POST", "/interactions", json={**body, "options": {"pg": 1}})
            assert wrong.status == 400 and "unknown option" in wrong.body["error"]
            book = emulator._ctx.interactions  # noqa: SLF001 - the emulator's windows, shortened or reached
            book.initial_window_s = 0.2  # nobody answers the next one: no need to wait Discord's 3 s for that
            late = await sandbox(session, emulator, "POST", "/interactions", json=body)  # no bot: nobody answers
            assert late.body["response"] is None and late.body["expired"]
            interaction = book.live[int(late.body["id"])]
            assert interaction.data["options"][0]["options"][0]["value"] == 2
            route = f"/interactions/{interaction.id}/{interaction.token}/callback"
            too_late = await call(session, emulator, "POST", route, json={"type": 4, "data": {"content": "hi"}},
                                  auth=False)
            assert too_late.status == 404 and too_late.body["code"] == 10062

            book.initial_window_s = INITIAL_WINDOW_S
            fresh = book.open(world.ids.next(), interaction.type, alice.id, general.id, general.guild_id, {})
            route = f"/interactions/{fresh.id}/{fresh.token}/callback"
            first = await call(session, emulator, "POST", route, json={"type": 5, "data": {"flags": 64}}, auth=False)
            second = await call(session, emulator, "POST", route, json={"type": 4, "data": {"content": "x"}},
                                auth=False)
            assert first.status == 204 and second.status == 400 and second.body["code"] == 40060
            hook = f"/webhooks/{app}/{fresh.token}"
            edited = await call(session, emulator, "PATCH", hook + "/messages/@original", json={"content": "answer"},
                                auth=False)
            assert edited.status == 200 and edited.body["content"] == "answer" and edited.body["type"] == 20
            extra = await call(session, emulator, "POST", hook, json={"content": "more", "flags": 64}, auth=False)
            assert extra.status == 200
            everyone = [m.content for m in world.messages(general.id)]
            assert "answer" not in everyone and "more" not in everyone  # both ephemeral: nobody else sees them
            book.now = lambda: fresh.created + TOKEN_WINDOW_S + 1
            expired = await call(session, emulator, "POST", hook, json={"content": "late"}, auth=False)
            assert expired.status == 401 and expired.body["code"] == 50027
            # The one request that broke a rule is the bad name; everything else was valid for the spec.
            assert [v.problem for v in emulator.violations()] == ["rule.0.name: Command name is invalid: Bad Name"]

    asyncio.run(main())
