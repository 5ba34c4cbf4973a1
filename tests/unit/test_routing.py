"""The edge's filter: what reaches a channel actor and what is dropped before any actor wakes."""

from __future__ import annotations

import pytest

from actors.messages import RouteFact
from edge.routing import Outline, RoutingTable

BOT, APP, HOOK, OTHER_HOOK = 10, 11, 500, 600
CHANNEL, ALICE, BOB = 100, 1, 2


def table() -> RoutingTable:
    t = RoutingTable(bot_id=BOT, application_id=APP)
    t.apply(RouteFact("webhook", HOOK, True))
    t.apply(RouteFact("alias", "lilith", "lilith"))
    return t


def reply(content: str = "I agree", **to: object) -> Outline:
    """bob replies in a plain channel to a message whose author (and webhook) `to` describes."""
    return Outline(CHANNEL, BOB, content, is_reply=True, **to)  # type: ignore[arg-type]


def to_alice() -> dict[str, object]:
    return {"reply_resolved": True, "reply_author_id": ALICE}


@pytest.mark.parametrize(
    "target",
    [
        to_alice(),  # another human
        {"reply_resolved": True, "reply_author_id": 77, "reply_webhook_id": OTHER_HOOK},  # someone else's webhook
        {"reply_resolved": True, "reply_author_id": 78, "reply_webhook_id": OTHER_HOOK,  # a proxy, not ours
         "reply_application_id": 466378653216014359},
        {"reply_resolved": True, "reply_author_id": 99},  # another bot, speaking as itself
    ],
)
def test_a_reply_to_a_message_that_is_not_ours_is_chatter(target: dict[str, object]) -> None:
    t = table()
    assert t.decide(reply(**target)) == "chatter"
    assert t.dropped["chatter"] == 1 and t.forwarded == 0


@pytest.mark.parametrize(
    "target",
    [
        {"reply_resolved": True, "reply_author_id": HOOK, "reply_webhook_id": HOOK},  # a personality's answer
        {"reply_resolved": True, "reply_author_id": 501, "reply_webhook_id": 501,  # through a webhook of ours
         "reply_application_id": APP},  # deleted since (our application owns it)
        {"reply_resolved": True, "reply_author_id": BOT},  # the bot speaking as itself (`**Lilith:** ...`)
        {"reply_resolved": False},  # Discord did not fetch the replied-to message, or it was deleted
    ],
)
def test_a_reply_to_one_of_our_messages_or_to_an_unknown_one_goes_on(target: dict[str, object]) -> None:
    t = table()
    assert t.decide(reply(**target)) is None
    assert t.forwarded == 1 and not t.dropped


def test_a_reply_to_a_human_still_goes_on_when_something_else_addresses_it() -> None:
    t = table()
    t.apply(RouteFact("activated", 200, "lilith"))
    t.apply(RouteFact("conversation", 300, 2_000_000_000.0))
    addressed = [
        reply("@lilith what do you think", **to_alice()),  # a mention
        reply(f"<@{BOT}> and you?", mentions_bot=True, **to_alice()),
        reply("!tz ping", **to_alice()),  # a command
        Outline(200, BOB, "I agree", is_reply=True, **to_alice()),  # an activated channel
        Outline(300, BOB, "I agree", is_reply=True, **to_alice()),  # a live conversation
        Outline(400, BOB, "I agree", is_reply=True, is_dm=True, **to_alice()),  # a DM
    ]
    assert [t.decide(m, now=1_000_000_000.0) for m in addressed] == [None] * len(addressed)


def test_our_own_messages_and_echoes_are_dropped_before_replies_are_considered() -> None:
    t = table()
    assert t.decide(Outline(CHANNEL, BOT, "hi", is_self=True, is_reply=True)) == "own_message"
    echo = Outline(CHANNEL, HOOK, "hi", author_bot=True, webhook_id=HOOK, is_reply=True)
    assert t.decide(echo) == "own_webhook"


def test_before_login_nothing_is_taken_for_the_bot() -> None:
    """Until the edge knows who it is, a resolved reply by nobody in particular is not mistaken for ours."""
    t = RoutingTable()
    assert t.decide(reply(reply_resolved=True, reply_author_id=None)) == "chatter"
    assert t.decide(reply(reply_resolved=True, reply_author_id=5, reply_webhook_id=9, reply_application_id=None)) \
        == "chatter"
