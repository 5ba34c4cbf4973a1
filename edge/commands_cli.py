"""`python bot.py commands show|sync`: the slash commands for operators, without starting the bot.

`show` lists them and says whether they changed since the last registration (the bot registers them at its
next start then); `sync` registers them with Discord now (over REST only, no gateway) and records their hash,
so the next start does not register them again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands

from config import Settings
from edge.app_commands import HASH_ROW, define, register, stored_hash
from edge.slash import definitions_hash, describe
from store import open_store


def _tree(client: discord.Client) -> app_commands.CommandTree[Any]:
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    define(tree, None)
    return tree


def run(settings: Settings, action: str) -> int:
    client = discord.Client(intents=discord.Intents.none())
    tree = _tree(client)
    definitions = [c.to_dict(tree) for c in tree.get_commands()]
    digest = definitions_hash(definitions, settings.command_guild)
    where = f"guild {settings.command_guild}" if settings.command_guild else "global"
    store = open_store(settings)
    try:
        stored, version = stored_hash(store)
        if action == "show":
            print("\n".join(describe(definitions)))
            state = ("registered, unchanged" if stored == digest else
                     "changed since the last registration (registered at the next start, or by `commands sync`)")
            print(f"\n{len(definitions)} commands ({where}), hash {digest[:12]}: {state}")
            return 0
        if not settings.discord_token:
            print("commands sync needs DISCORD_TOKEN", flush=True)
            return 2
        count = asyncio.run(_sync(client, tree, settings))
        store.save(*HASH_ROW, {"hash": digest}, version, 1)
        print(f"registered {count} commands ({where}), hash {digest[:12]}")
        return 0
    except discord.HTTPException as exc:
        print(f"Discord refused the registration: {exc.status} {exc.code}")
        return 1
    finally:
        store.close()


async def _sync(client: discord.Client, tree: app_commands.CommandTree[Any], settings: Settings) -> int:
    from edge.client import point_discord_py_at

    point_discord_py_at(settings)
    try:
        await client.login(settings.discord_token)
        return await register(tree, settings.command_guild)
    finally:
        await client.close()
