"""The age gate, decided by the user's actor: an age-restricted personality answers in servers only in
age-restricted channels and in DMs only to verified users; the operator may require verification for all DMs."""

from __future__ import annotations

import pytest

from actors.messages import Place
from tests.unit.test_user_flow import ALICE, CAROL, DM, SERVER, World

LOUNGE = Place(502, "text", guild_id=900, nsfw=True, name="lounge", guild_name="Guild")


def gated_world(dm_verification: bool = False) -> World:
    w = World()
    w.options.dm_verification = dm_verification
    w.personality("vamp", nsfw="on")
    w.personality("bob")
    return w


def test_an_age_restricted_personality_does_not_answer_in_an_ordinary_channel() -> None:
    w = gated_world()
    mid = w.send(CAROL, "@vamp hello", SERVER)
    assert mid not in w.answered() and w.ai_calls == []
    assert "age-restricted: it only talks in age-restricted channels" in w.notices(CAROL)[-1].text


def test_an_age_restricted_personality_answers_in_an_age_restricted_channel() -> None:
    w = gated_world()
    mid = w.send(CAROL, "@vamp hello", LOUNGE)
    assert mid in w.answered()


def test_in_dms_an_age_restricted_personality_answers_only_after_verify() -> None:
    w = gated_world()
    first = w.send(CAROL, "@vamp hi", DM)
    assert first not in w.answered() and "first run `!tz verify`" in w.notices(CAROL)[-1].text
    w.send(CAROL, "!tz verify", SERVER)  # not an age-restricted channel: it does not count
    assert not w.user(CAROL).verified
    w.send(CAROL, "!tz verify", LOUNGE)
    again = w.send(CAROL, "@vamp hi again", DM)
    assert again in w.answered()


def test_an_ordinary_personality_answers_in_dms_unless_the_operator_requires_verification() -> None:
    w = gated_world()
    mid = w.send(CAROL, "@bob hi", DM)
    assert mid in w.answered()
    strict = gated_world(dm_verification=True)
    mid = strict.send(CAROL, "@bob hi", DM)
    assert mid not in strict.answered() and "in DMs needs `!tz verify`" in strict.notices(CAROL)[-1].text
    assert strict.send(CAROL, "@bob hi", SERVER) in strict.answered()  # servers are not gated by it


def test_a_refusal_is_told_once_a_minute_not_once_per_message() -> None:
    w = gated_world()
    for _ in range(5):
        w.send(CAROL, "@vamp hello?", SERVER)
    assert sum("age-restricted" in n.text for n in w.notices(CAROL)) == 1


@pytest.mark.parametrize(("place", "allowed"), [(SERVER, False), (LOUNGE, True)])
def test_an_age_restricted_personality_is_activated_only_in_an_age_restricted_channel(place, allowed) -> None:
    w = gated_world()
    w.send(ALICE, "!tz activate vamp", place, perms=frozenset({"manage_messages"}))
    said = [b for b in w.channels if type(b).__name__ in ("CommandFor", "Notify")][-1]
    activated = type(said).__name__ == "CommandFor"
    assert activated is allowed, said


def test_the_answer_length_is_bounded_by_the_operator_unless_the_personality_sets_its_own() -> None:
    w = World()
    w.options.max_tokens = 1024
    w.personality("bob")
    w.send(ALICE, "@bob hi")
    assert w.request()["max_tokens"] == 1024
    w.send(ALICE, "!tz config bob max-tokens 200", DM)
    w.now += 60  # past the user actor's 30 s cache of the personality
    w.send(ALICE, "@bob hi")
    assert w.request()["max_tokens"] == 200
    w.send(ALICE, "!tz config bob max-tokens default", DM)
    w.now += 60
    w.send(ALICE, "@bob hi")
    assert w.request()["max_tokens"] == 1024
