"""Discord's rules as the emulator enforces them, driven over plain HTTP."""

from __future__ import annotations

from dataclasses import replace

import aiohttp

from emulator.discord import DiscordEmulator, Overwrite, OverwriteType, Webhook, World, default_world
from emulator.discord.permissions import MANAGE_WEBHOOKS
from tests.emulator.helpers import Reply, call, run_raw, sandbox


async def _create_webhook(session: aiohttp.ClientSession, emulator: DiscordEmulator, channel: str, name: str) -> Reply:
    channel_id = emulator.world.channel_named(channel).id
    return await call(session, emulator, "POST", f"/channels/{channel_id}/webhooks", json={"name": name})


async def _execute(
    session: aiohttp.ClientSession, emulator: DiscordEmulator, webhook: dict[str, str], body: dict, **params: str
) -> Reply:
    path = f"/webhooks/{webhook['id']}/{webhook['token']}"
    return await call(session, emulator, "POST", path, json=body, auth=False, params={"wait": "true", **params})


def _form_error(reply: Reply, field: str) -> str:
    """The first Discord error code reported for `field` in a 50035 answer."""
    assert reply.status == 400 and reply.body["code"] == 50035, reply.body
    return reply.body["errors"][field]["_errors"][0]["code"]


def test_content_over_2000_characters_is_refused() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        general = emulator.world.channel_named("general").id
        path = f"/channels/{general}/messages"
        too_long = await call(session, emulator, "POST", path, json={"content": "x" * 2001})
        assert _form_error(too_long, "content") == "BASE_TYPE_MAX_LENGTH"
        assert (await call(session, emulator, "POST", path, json={"content": "x" * 2000})).status == 200
        webhook = (await _create_webhook(session, emulator, "general", "Persona")).body
        assert _form_error(await _execute(session, emulator, webhook, {"content": "y" * 2001}), "content")
        empty = await _execute(session, emulator, webhook, {"content": ""})
        assert (empty.status, empty.body["code"]) == (400, 50006)
        # The channel route's schema allows 4000 (Discord's docs say 2000); the webhook schema says 2000.
        problems = [v.problem for v in emulator.violations()]
        assert problems == [f"{where}.content: Must be 2000 or fewer in length." for where in ("rule", "body")]

    run_raw(scenario)


def test_webhook_names_and_overrides_follow_discord_rules() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        for bad in ("Clyde", "my DISCORD hook", "x" * 81):
            assert _form_error(await _create_webhook(session, emulator, "general", bad), "name")
        webhook = (await _create_webhook(session, emulator, "general", "Persona")).body
        for username in ("everyone", "not clyde", "a#b"):
            assert _form_error(
                await _execute(session, emulator, webhook, {"content": "hi", "username": username}), "username"
            )
        long_avatar = {"content": "hi", "avatar_url": "https://e.x/" + "a" * 2040}
        assert _form_error(await _execute(session, emulator, webhook, long_avatar), "avatar_url")
        fine = await _execute(session, emulator, webhook, {"content": "hi", "username": "Lilith"})
        assert fine.status == 200 and fine.body["author"]["username"] == "Lilith"
        assert fine.body["webhook_id"] == webhook["id"]

    run_raw(scenario)


def test_sixteenth_webhook_in_a_channel_is_refused() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        for n in range(15):
            assert (await _create_webhook(session, emulator, "general", f"Hook {n}")).status == 200
        refused = await _create_webhook(session, emulator, "general", "Hook 16")
        assert (refused.status, refused.body["code"]) == (400, 30007)
        assert (await _create_webhook(session, emulator, "lounge", "Elsewhere")).status == 200

    run_raw(scenario)


def test_other_bots_webhooks_count_and_are_listed() -> None:
    world = default_world()
    general = world.channel_named("general")
    other = world.add_user("OtherBot", bot=True)
    for n in range(15):
        world.add_webhook(general.id, f"Other {n}", creator_id=other.id)

    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        listed = await call(session, emulator, "GET", f"/channels/{general.id}/webhooks")
        assert {w["user"]["username"] for w in listed.body} == {"OtherBot"} and len(listed.body) == 15
        assert (await _create_webhook(session, emulator, "general", "Mine")).body["code"] == 30007

    run_raw(scenario, world)


def test_deleted_webhook_answers_unknown_webhook() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        webhook = (await _create_webhook(session, emulator, "general", "Persona")).body
        assert (await call(session, emulator, "DELETE", f"/webhooks/{webhook['id']}")).status == 204
        gone = await _execute(session, emulator, webhook, {"content": "hello?"})
        assert (gone.status, gone.body["code"]) == (404, 10015)

    run_raw(scenario)


def test_webhook_token_and_bot_token_are_checked() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        webhook = (await _create_webhook(session, emulator, "general", "Persona")).body
        forged = await _execute(session, emulator, {**webhook, "token": "forged"}, {"content": "x"})
        assert (forged.status, forged.body["code"]) == (401, 50027)
        assert (await call(session, emulator, "GET", "/users/@me", auth=False)).status == 401
        headers = {"Authorization": "Bot wrong"}
        async with session.get(emulator.api_base + "/users/@me", headers=headers) as response:
            assert response.status == 401

    run_raw(scenario)


def _without_manage_webhooks_in_lounge() -> World:
    world = default_world()
    lounge = world.channel_named("lounge")
    world.set_overwrite(lounge.id, Overwrite(world.bot_id, OverwriteType.MEMBER, deny=MANAGE_WEBHOOKS))
    return world


def test_manage_webhooks_permission_is_required() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        refused = await _create_webhook(session, emulator, "lounge", "Persona")
        assert (refused.status, refused.body) == (403, {"message": "Missing Permissions", "code": 50013})
        lounge = emulator.world.channel_named("lounge").id
        assert (await call(session, emulator, "GET", f"/channels/{lounge}/webhooks")).status == 403
        assert (await _create_webhook(session, emulator, "general", "Persona")).status == 200

    run_raw(scenario, _without_manage_webhooks_in_lounge())


def test_dm_channels_have_no_webhooks() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        dm = emulator.world.dm_for(emulator.world.user_named("alice").id)
        assert dm is not None
        refused = await call(session, emulator, "POST", f"/channels/{dm.id}/webhooks", json={"name": "Persona"})
        assert (refused.status, refused.body["code"]) == (403, 50003)

    run_raw(scenario)


def test_thread_posts_go_through_the_parents_webhook() -> None:
    world = default_world()
    ideas = world.channel_named("ideas")
    world.put_channel(replace(ideas, archived=True))

    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        webhook = (await _create_webhook(session, emulator, "help", "Persona")).body
        posted = await _execute(session, emulator, webhook, {"content": "in thread"}, thread_id=str(ideas.id))
        assert posted.status == 200 and posted.body["channel_id"] == str(ideas.id)
        assert not emulator.world.channels[ideas.id].archived
        listed = await sandbox(session, emulator, "GET", f"/channels/{ideas.id}/messages")
        assert [(m["content"], m["webhook_id"]) for m in listed.body] == [("in thread", webhook["id"])]
        general_hook = (await _create_webhook(session, emulator, "general", "Persona")).body
        foreign = await _execute(session, emulator, general_hook, {"content": "x"}, thread_id=str(ideas.id))
        assert (foreign.status, foreign.body["code"]) == (404, 10003)

    run_raw(scenario, world)


def test_allowed_mentions_decide_who_is_pinged() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        alice = emulator.world.user_named("alice").id
        webhook = (await _create_webhook(session, emulator, "general", "Persona")).body
        content = f"@everyone look, <@{alice}>"
        for allowed, everyone, users in (
            ({"parse": []}, False, []),
            ({"parse": ["users"]}, False, [str(alice)]),
            (None, True, [str(alice)]),
        ):
            body = {"content": content} if allowed is None else {"content": content, "allowed_mentions": allowed}
            posted = await _execute(session, emulator, webhook, body)
            assert posted.body["mention_everyone"] is everyone
            assert [u["id"] for u in posted.body["mentions"]] == users

    run_raw(scenario)


def test_messages_are_edited_deleted_and_paged() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        general = emulator.world.channel_named("general").id
        path = f"/channels/{general}/messages"
        ids = [(await call(session, emulator, "POST", path, json={"content": f"m{n}"})).body["id"] for n in range(4)]
        newest_first = await call(session, emulator, "GET", path, params={"limit": "2"})
        assert [m["id"] for m in newest_first.body] == ids[:1:-1]
        after = await call(session, emulator, "GET", path, params={"after": ids[0], "limit": "2"})
        assert [m["id"] for m in after.body] == [ids[2], ids[1]]
        before = await call(session, emulator, "GET", path, params={"before": ids[2]})
        assert [m["id"] for m in before.body] == [ids[1], ids[0]]
        edited = await call(session, emulator, "PATCH", f"{path}/{ids[0]}", json={"content": "changed"})
        assert edited.body["content"] == "changed" and edited.body["edited_timestamp"]
        assert (await call(session, emulator, "DELETE", f"{path}/{ids[1]}")).status == 204
        missing = await call(session, emulator, "GET", f"{path}/{ids[1]}")
        assert (missing.status, missing.body["code"]) == (404, 10008)

    run_raw(scenario)


def test_webhook_messages_are_edited_with_the_webhook_token() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        webhook = (await _create_webhook(session, emulator, "general", "Persona")).body
        posted = (await _execute(session, emulator, webhook, {"content": "draft"})).body
        path = f"/webhooks/{webhook['id']}/{webhook['token']}/messages/{posted['id']}"
        edited = await call(session, emulator, "PATCH", path, json={"content": "final"}, auth=False)
        assert edited.status == 200 and edited.body["content"] == "final"
        too_long = await call(session, emulator, "PATCH", path, json={"content": "z" * 2001}, auth=False)
        assert _form_error(too_long, "content")
        stored: Webhook = emulator.world.webhooks[int(webhook["id"])]
        assert [m.content for m in emulator.messages(stored.channel_id)] == ["final"]

    run_raw(scenario)
