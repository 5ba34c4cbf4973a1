"""`tzurot_discord_429_total` counts every 429 Discord answers the channel actor, whatever the request."""

from __future__ import annotations

from actors.effects import Count
from actors.messages import TypingFor
from discord_rest.client import Wait
from tests.unit.test_channel_pool import ALICE, CID, FakeDiscord, channel, speak


def counted(effects: list) -> list[tuple[str, ...]]:
    return sorted(e.labels for e in effects if isinstance(e, Count) and e.name == "discord_429")


def test_429s_on_typing_listing_creating_and_sending_are_all_counted_by_scope() -> None:
    discord = (FakeDiscord()
               .then("typing", Wait(0.3, "user"))
               .then("list_webhooks", Wait(0.3, "user"), Wait(0.3, "shared"))
               .then("create_webhook", Wait(0.3, "user"))
               .then("execute_webhook", Wait(1.0, "global")))
    d = channel(discord=discord)
    d.deliver(TypingFor(CID, ALICE, 900), speak("Hello there."))
    d.drain()
    assert [p.content for p in discord.said()] == ["Hello there."]  # each 429 was waited out, nothing lost
    assert counted(d.effects) == [("global",), ("shared",), ("user",), ("user",), ("user",)]


def test_waits_of_our_own_making_are_not_discord_429s() -> None:
    """The shared request budget (`gate`) and a bucket known to be empty (`bucket`) never reached Discord."""
    discord = FakeDiscord().then("list_webhooks", Wait(0.2, "gate")).then("execute_webhook", Wait(0.2, "bucket"))
    d = channel(discord=discord)
    d.deliver(speak("Hello there."))
    d.drain()
    assert [p.content for p in discord.said()] == ["Hello there."] and counted(d.effects) == []
