"""UserState, the pure decision side of a user's actor: what a user's settings requests answer and persist."""

from __future__ import annotations

from typing import Any

import pytest

from actors.effects import Push, Reply, Save
from actors.messages import (
    GetChannelInfo,
    GetUserSettings,
    Refused,
    RemoveAlias,
    RouteFact,
    SetAlias,
    SetAutorespond,
    UserSettings,
)
from actors.state.user import MAX_ALIASES, UserState
from store.sqlite import decode, encode

NOW = 1_700_000_000.0
UID = 42


def fresh() -> UserState:
    return UserState.restore(str(UID), None)


def refused(effects: list[Any]) -> str:
    """The reason of a refusal; fails the test unless `effects` is exactly one Refused reply."""
    assert len(effects) == 1 and isinstance(effects[0], Reply), effects
    body = effects[0].body
    assert isinstance(body, Refused), body
    return body.reason


# ---- restore -------------------------------------------------------------------------------------


def test_restore_from_nothing_is_a_new_user_with_defaults() -> None:
    state = UserState.restore("42", None)
    assert state.user_id == 42
    assert state.handle(GetUserSettings(42), NOW) == [Reply(UserSettings(42, False, ()))]


def test_restore_from_a_snapshot_brings_back_settings() -> None:
    state = UserState.restore("42", {"autorespond": True, "aliases": {"bobby": "bob", "al": "alice"}})
    assert state.handle(GetUserSettings(42), NOW) == [
        Reply(UserSettings(42, True, (("al", "alice"), ("bobby", "bob"))))
    ]


def test_restore_from_an_empty_snapshot_is_defaults() -> None:
    assert UserState.restore("42", {}).view() == UserSettings(42, False, ())


# ---- autorespond ---------------------------------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
def test_set_autorespond_saves_and_answers_with_settings(enabled: bool) -> None:
    state = fresh()
    state.autorespond = not enabled
    effects = state.handle(SetAutorespond(UID, enabled), NOW)
    assert effects == [Save(), Reply(UserSettings(UID, enabled, ()))]


def test_set_autorespond_to_its_current_value_answers_without_saving() -> None:
    state = fresh()
    assert state.handle(SetAutorespond(UID, True), NOW)[0] == Save()
    assert state.handle(SetAutorespond(UID, True), NOW) == [Reply(UserSettings(UID, True, ()))]
    # and off again is a real change
    assert state.handle(SetAutorespond(UID, False), NOW) == [Save(), Reply(UserSettings(UID, False, ()))]
    assert state.handle(SetAutorespond(UID, False), NOW) == [Reply(UserSettings(UID, False, ()))]


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_set_autorespond_to_a_non_boolean_is_refused(value: Any) -> None:
    state = fresh()
    reason = refused(state.handle(SetAutorespond(UID, value), NOW))
    assert "on or off" in reason
    assert state.autorespond is False


# ---- aliases -------------------------------------------------------------------------------------


def test_set_alias_normalizes_case_and_spaces() -> None:
    state = fresh()
    effects = state.handle(SetAlias(UID, "Big  Bob", "bob"), NOW)
    assert effects == [
        Save(),
        Reply(UserSettings(UID, False, (("big bob", "bob"),))),
        Push(RouteFact("personal", "big bob", True)),  # so the edge forwards "@big bob" to this user's actor
    ]
    # the same alias in another spelling is the same alias: nothing to save
    assert state.handle(SetAlias(UID, "  BIG bob ", "bob"), NOW) == [
        Reply(UserSettings(UID, False, (("big bob", "bob"),)))
    ]


def test_set_alias_again_to_another_personality_repoints_it() -> None:
    state = fresh()
    state.handle(SetAlias(UID, "buddy", "bob"), NOW)
    effects = state.handle(SetAlias(UID, "Buddy", "alice"), NOW)
    assert effects == [
        Save(),
        Reply(UserSettings(UID, False, (("buddy", "alice"),))),
        Push(RouteFact("personal", "buddy", True)),
    ]


@pytest.mark.parametrize(
    ("alias", "personality", "words"),
    [
        ("bad!alias", "bob", "letters a-z"),
        ("caf\u00e9", "bob", "letters a-z"),
        ("bob\u200b", "bob", "letters a-z"),  # a zero-width space is not an invisible duplicate of "bob"
        ("", "bob", "empty"),
        ("   ", "bob", "empty"),
        ("x" * 51, "bob", "at most 50"),
        ("bobby", "b", "2 to 50"),
        ("bobby", "bad name", "spaces"),
        ("bobby", "bo\u200bb", "printable"),
    ],
)
def test_bad_alias_or_personality_is_refused_with_a_reason_and_changes_nothing(
    alias: str, personality: str, words: str
) -> None:
    state = UserState.restore(str(UID), {"autorespond": True, "aliases": {"al": "alice"}})
    before = state.snapshot()
    reason = refused(state.handle(SetAlias(UID, alias, personality), NOW))
    assert words in reason
    assert reason.endswith(".")  # a sentence fit to show the user, not an exception text
    assert state.snapshot() == before


def test_an_alias_of_exactly_50_characters_is_accepted() -> None:
    state = fresh()
    assert state.handle(SetAlias(UID, "x" * 50, "bob"), NOW)[0] == Save()


def full_state() -> UserState:
    return UserState.restore(str(UID), {"aliases": {f"alias{i}": "bob" for i in range(MAX_ALIASES)}})


def test_the_alias_over_the_cap_is_refused() -> None:
    assert MAX_ALIASES == 50
    state = full_state()
    before = state.snapshot()
    reason = refused(state.handle(SetAlias(UID, "one too many", "bob"), NOW))
    assert f"{MAX_ALIASES} aliases" in reason and "remove one" in reason
    assert state.snapshot() == before


def test_at_the_cap_an_existing_alias_can_still_be_repointed() -> None:
    state = full_state()
    assert state.handle(SetAlias(UID, "alias7", "alice"), NOW)[0] == Save()
    assert state.aliases["alias7"] == "alice"
    assert len(state.aliases) == MAX_ALIASES


def test_at_the_cap_removing_one_makes_room() -> None:
    state = full_state()
    assert state.handle(RemoveAlias(UID, "alias0"), NOW)[0] == Save()
    assert state.handle(SetAlias(UID, "newcomer", "bob"), NOW)[0] == Save()
    assert len(state.aliases) == MAX_ALIASES


def test_remove_alias_normalizes_and_saves() -> None:
    state = fresh()
    state.handle(SetAlias(UID, "big bob", "bob"), NOW)
    state.handle(SetAlias(UID, "al", "alice"), NOW)
    effects = state.handle(RemoveAlias(UID, "BIG   Bob"), NOW)
    assert effects == [Save(), Reply(UserSettings(UID, False, (("al", "alice"),)))]


def test_remove_a_missing_alias_is_refused_and_changes_nothing() -> None:
    state = UserState.restore(str(UID), {"aliases": {"al": "alice"}})
    reason = refused(state.handle(RemoveAlias(UID, "Nobody"), NOW))
    assert "'nobody'" in reason
    assert state.aliases == {"al": "alice"}


def test_an_unknown_message_is_refused_by_name() -> None:
    state = fresh()
    before = state.snapshot()
    reason = refused(state.handle(GetChannelInfo(1), NOW))
    assert "GetChannelInfo" in reason
    assert state.snapshot() == before


# ---- persistence ---------------------------------------------------------------------------------


def test_snapshot_restore_round_trip_through_the_store_encoding() -> None:
    state = fresh()
    state.handle(SetAutorespond(UID, True), NOW)
    state.handle(SetAlias(UID, "Big Bob", "bob"), NOW)
    state.handle(SetAlias(UID, "al", "alice"), NOW)
    again = UserState.restore(str(UID), decode(encode(state.snapshot())))
    assert again == state
    assert again.view() == UserSettings(UID, True, (("al", "alice"), ("big bob", "bob")))


def test_a_later_change_does_not_alter_a_snapshot_already_taken() -> None:
    """Snapshots are handed to the store: a later change must not alter one already taken."""
    state = fresh()
    state.handle(SetAlias(UID, "al", "alice"), NOW)
    taken = state.snapshot()
    copy = decode(encode(taken))
    state.handle(SetAlias(UID, "bobby", "bob"), NOW)
    state.handle(RemoveAlias(UID, "al"), NOW)
    assert taken == copy
