"""RegistryState, the personality catalogue: names are bot-wide, unique regardless of case."""

from __future__ import annotations

from typing import Any

import pytest

from actors.effects import Push, Reply, Save, SaveRow
from actors.messages import (
    GetUserSettings,
    ListPersonalities,
    LookupPersonality,
    NotFound,
    PersonalityInfo,
    PersonalityList,
    Refused,
    RegisterPersonality,
    RouteFact,
)
from actors.state.names import DISPLAY_MAX
from actors.state.registry import RegistryState
from store.sqlite import decode, encode

NOW = 1_700_000_000.0
ALICE, BOB = 1001, 1002


def fresh() -> RegistryState:
    return RegistryState.restore("registry", None)


def refused(effects: list[Any]) -> str:
    assert len(effects) == 1 and isinstance(effects[0], Reply), effects
    assert isinstance(effects[0].body, Refused), effects[0].body
    return effects[0].body.reason


def stored(state: RegistryState) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Everything the store holds for the catalogue: its own row, and a row per personality."""
    return state.snapshot(), {key: state.row(key) for key in state.personalities}


def test_register_defaults_the_display_name_to_the_capitalised_name() -> None:
    state = fresh()
    assert state.handle(RegisterPersonality("lilith", ALICE), NOW) == [
        SaveRow("lilith", state.row("lilith")),  # one row: this personality's, not the whole catalogue
        Push(RouteFact("alias", "lilith", "lilith")),  # the edge resolves @lilith from now on
        Reply(PersonalityInfo("lilith", "Lilith", ALICE)),
    ]


def test_register_keeps_a_given_display_name_trimmed() -> None:
    state = fresh()
    effects = state.handle(RegisterPersonality("lilith", ALICE, "  Lady Lilith "), NOW)
    assert effects == [
        SaveRow("lilith", state.row("lilith")),
        Push(RouteFact("alias", "lilith", "lilith")),
        Push(RouteFact("alias", "lady lilith", "lilith")),  # the display name, lower-cased, is an alias
        Reply(PersonalityInfo("lilith", "Lady Lilith", ALICE)),
    ]


def test_a_name_is_unique_across_owners_regardless_of_case() -> None:
    state = fresh()
    state.handle(RegisterPersonality("Lilith", ALICE), NOW)
    before = stored(state)
    for attempt in ["Lilith", "lilith", "LILITH"]:
        reason = refused(state.handle(RegisterPersonality(attempt, BOB), NOW))
        assert "taken" in reason and attempt in reason
    assert stored(state) == before


def test_the_owner_cannot_register_a_case_variant_of_their_own_name() -> None:
    state = fresh()
    state.handle(RegisterPersonality("lilith", ALICE), NOW)
    assert "taken" in refused(state.handle(RegisterPersonality("LiLiTh", ALICE), NOW))


def test_the_same_request_again_answers_the_same_and_saves_nothing() -> None:
    state = fresh()
    first = state.handle(RegisterPersonality("lilith", ALICE), NOW)
    again = state.handle(RegisterPersonality("lilith", ALICE), NOW + 5)
    assert again == [first[-1]]
    assert not [e for e in again if isinstance(e, Save | SaveRow)]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("x", "2 to 50"),
        ("", "2 to 50"),
        ("x" * 51, "2 to 50"),
        ("two words", "spaces"),
        ("tab\there", "spaces"),
        ("bell\x07", "printable"),
        ("zero\u200bwidth", "printable"),
    ],
)
def test_bad_names_are_refused_with_a_reason(name: str, words: str) -> None:
    state = fresh()
    assert words in refused(state.handle(RegisterPersonality(name, ALICE), NOW))
    assert state.personalities == {}


@pytest.mark.parametrize("name", ["xy", "x" * 50, "\U0001f916bot", "l\u00e9a"])
def test_names_at_the_limits_and_beyond_ascii_are_accepted(name: str) -> None:
    assert isinstance(fresh().handle(RegisterPersonality(name, ALICE), NOW)[0], SaveRow)


def test_an_over_long_display_name_is_refused() -> None:
    state = fresh()
    reason = refused(state.handle(RegisterPersonality("lilith", ALICE, "d" * (DISPLAY_MAX + 1)), NOW))
    assert f"at most {DISPLAY_MAX}" in reason
    assert state.personalities == {}
    assert isinstance(state.handle(RegisterPersonality("lilith", ALICE, "d" * DISPLAY_MAX), NOW)[0], SaveRow)


def test_a_blank_display_name_is_refused() -> None:
    state = fresh()
    effects = state.handle(RegisterPersonality("lilith", ALICE, "   "), NOW)
    assert isinstance(effects[-1].body, Refused), effects
    assert state.personalities == {}


def test_a_name_that_looks_identical_to_a_taken_one_is_refused() -> None:
    state = fresh()
    state.handle(RegisterPersonality("caf\u00e9", ALICE), NOW)
    assert "taken" in refused(state.handle(RegisterPersonality("cafe\u0301", BOB), NOW))


def test_lookup_is_case_insensitive_and_answers_the_registered_spelling() -> None:
    state = fresh()
    state.handle(RegisterPersonality("Lilith", ALICE, "Lady L"), NOW)
    for query in ["lilith", "LILITH", "Lilith"]:
        assert state.handle(LookupPersonality(query), NOW) == [Reply(PersonalityInfo("Lilith", "Lady L", ALICE))]


def test_lookup_of_an_unknown_name_is_not_found_naming_it() -> None:
    effects = fresh().handle(LookupPersonality("nobody"), NOW)
    assert len(effects) == 1 and isinstance(effects[0].body, NotFound)
    assert "nobody" in effects[0].body.what


def test_list_gives_only_the_owners_names_sorted() -> None:
    state = fresh()
    for name, owner in [("zed", ALICE), ("bob", BOB), ("Amy", ALICE), ("mia", ALICE), ("cat", BOB)]:
        state.handle(RegisterPersonality(name, owner), NOW)
    assert state.handle(ListPersonalities(ALICE), NOW) == [Reply(PersonalityList(ALICE, ("Amy", "mia", "zed")))]
    assert state.handle(ListPersonalities(BOB), NOW) == [Reply(PersonalityList(BOB, ("bob", "cat")))]
    assert state.handle(ListPersonalities(9999), NOW) == [Reply(PersonalityList(9999, ()))]


def test_an_unknown_message_is_refused_by_name() -> None:
    assert "GetUserSettings" in refused(fresh().handle(GetUserSettings(1), NOW))


def test_snapshot_restore_round_trip_keeps_uniqueness_and_lookups() -> None:
    state = fresh()
    state.handle(RegisterPersonality("Lilith", ALICE, "Lady L"), NOW)
    state.handle(RegisterPersonality("bob", BOB), NOW)
    own, rows = stored(state)
    again = RegistryState.restore("registry", decode(encode(own)))
    assert again.restore_rows({key: decode(encode(row)) for key, row in rows.items()}) == {}
    assert again == state
    assert again.handle(LookupPersonality("LILITH"), NOW) == [Reply(PersonalityInfo("Lilith", "Lady L", ALICE))]
    assert "taken" in refused(again.handle(RegisterPersonality("BOB", ALICE), NOW))
