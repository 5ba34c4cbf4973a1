"""Worlds for the scenarios: many users, a few channels, and the personalities they talk to."""

from __future__ import annotations

from typing import Any

from emulator.discord import World, default_world


def crowd(users: int, channels: int) -> tuple[World, list[str], list[int]]:
    """The default world plus `users` members named u0.. and `channels` extra text channels."""
    world = default_world()
    guild_id = next(iter(world.guilds))
    names = []
    for n in range(users):
        user = world.add_user(f"u{n}")
        world.add_member(guild_id, user.id)
        names.append(user.username)
    rooms = [world.add_channel(guild_id, f"room-{n}").id for n in range(channels)]
    return world, names, rooms


def replies_by_tag(stack: Any, channels: list[int], after: int) -> dict[str, int]:
    """For every answer posted after `after`: the tag word in it (`m123`) -> the answer's message id."""
    out: dict[str, int] = {}
    for channel in channels:
        for message in stack.sandbox.replies(channel, after):
            for word in message["content"].split():
                if word.startswith("tag") and word[3:].isdigit():
                    out.setdefault(word, int(message["id"]))
    return out
