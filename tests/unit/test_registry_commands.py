"""The personality catalogue's commands, as their authors use them: `CommandFor(Command(...), Origin(...))` in,
notices to the channel, route facts to the edge and `PersonaReply` lookups out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.effects import Save, SaveRow, Tell
from actors.messages import (
    CommandFor,
    LookupPersonality,
    Notify,
    Origin,
    PersonalityInfo,
    PersonaReply,
    PersonaRequest,
    RegisterPersonality,
    RouteFact,
)
from actors.state.commands import Command, parse_command
from actors.state.registry import PAGE, RegistryState
from actors.state.registry_records import EXPORTED, PROMPT_MAX, default_prompt
from testkit.world import pushed

NOW = 1_700_000_000.0
ALICE, BOB, CAROL, OWNER = 1001, 1002, 1003, 1009
CHANNEL = 500


class Catalogue:
    """A registry, and people typing `!tz` commands at it (each with a new trigger id)."""

    def __init__(self) -> None:
        self.state = RegistryState.restore("registry", None)
        self.trigger = 10_000

    def run(self, user: int, text: str, **kw: Any) -> list[Any]:
        parsed = parse_command(text)
        assert isinstance(parsed, Command), parsed
        return self.command(user, parsed, **kw)

    def command(
        self, user: int, cmd: Command, *, trigger: int | None = None, bot_owner: bool = False, attachment: str = "",
        attachment_error: str = "",
    ) -> list[Any]:
        if trigger is None:
            self.trigger += 1
            trigger = self.trigger
        origin = Origin(user, f"user{user}", CHANNEL, trigger, "text", 900, frozenset(), bot_owner)
        return self.state.handle(CommandFor(cmd, origin, attachment, attachment_error), NOW)

    def said(self, user: int, text: str, **kw: Any) -> str:
        """The one notice a command answered with."""
        return only_notice(self.run(user, text, **kw))

    def lookup(self, name: str, user: int = ALICE) -> dict[str, Any] | None:
        effects = self.state.handle(PersonaRequest(name, user, 77), NOW)
        assert len(effects) == 1 and isinstance(effects[0], Tell) and effects[0].kind == "user"
        assert effects[0].key == user
        reply = effects[0].body
        assert isinstance(reply, PersonaReply) and reply.trigger_id == 77 and reply.name == name
        return reply.record


def notices(effects: list[Any]) -> list[Notify]:
    found = [e.body for e in effects if isinstance(e, Tell) and isinstance(e.body, Notify)]
    for e in effects:
        if isinstance(e, Tell) and isinstance(e.body, Notify):
            assert (e.kind, e.key) == ("channel", CHANNEL)
    return found


def only_notice(effects: list[Any]) -> str:
    found = notices(effects)
    assert len(found) == 1, effects
    return found[0].text


@pytest.fixture
def cat() -> Catalogue:
    return Catalogue()


# ---- add -------------------------------------------------------------------------------------------


def test_add_creates_a_personality_with_the_defaults(cat: Catalogue) -> None:
    effects = cat.run(ALICE, "!tz add bob")
    assert Save() in effects
    assert pushed(effects) == [RouteFact("alias", "bob", "bob")]
    text = only_notice(effects)
    assert "Added **Bob** (`bob`)" in text and "`@bob`" in text
    record = cat.lookup("bob")
    assert record is not None
    assert {k: record[k] for k in EXPORTED} == {
        "name": "bob",
        "display_name": "Bob",
        "avatar_url": "",
        "prompt": default_prompt("Bob"),
        "model": "",
        "temperature": None,
        "vision": False,
        "context_line": False,
        "public": True,
        "nsfw": False,
        "max_tokens": None,
        "context": "channel",
    }
    assert record["owner_id"] == ALICE


def test_add_with_an_alias_makes_the_alias_work_at_once(cat: Catalogue) -> None:
    effects = cat.run(ALICE, "!tz add bob Big  Bob")
    assert RouteFact("alias", "big bob", "bob") in pushed(effects)
    assert "`@big bob`" in only_notice(effects)
    assert cat.lookup("big bob")["name"] == "bob"
    assert cat.lookup("BIG BOB")["name"] == "bob"


def test_a_display_name_different_from_the_name_becomes_an_alias(cat: Catalogue) -> None:
    effects = cat.state.handle(RegisterPersonality("rob", ALICE, "Robert Smith"), NOW)
    assert RouteFact("alias", "robert smith", "rob") in pushed(effects)
    assert effects[-1].body == PersonalityInfo("rob", "Robert Smith", ALICE)
    assert cat.lookup("@Robert Smith")["name"] == "rob"


def test_the_same_command_delivered_twice_confirms_once(cat: Catalogue) -> None:
    first = cat.run(ALICE, "!tz add bob", trigger=5)
    again = cat.run(ALICE, "!tz add bob", trigger=5)
    assert len(notices(first)) == 1
    assert again == []  # no duplicate "added" confirmations


def test_adding_the_same_personality_again_changes_nothing(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    before = json.dumps(cat.state.row("bob"), sort_keys=True)
    effects = cat.run(ALICE, "!tz add bob")
    assert pushed(effects) == [] and not [e for e in effects if isinstance(e, SaveRow)]
    assert json.dumps(cat.state.row("bob"), sort_keys=True) == before


@pytest.mark.parametrize("name", ["bob", "BOB", "Bob"])
def test_a_name_taken_by_another_owner_is_refused_whatever_its_case(cat: Catalogue, name: str) -> None:
    cat.run(ALICE, "!tz add bob")
    effects = cat.run(CAROL, f"!tz add {name}")
    assert "is taken" in only_notice(effects)
    assert pushed(effects) == []
    assert cat.lookup("bob")["owner_id"] == ALICE


# ---- remove, alias -----------------------------------------------------------------------------------


def test_the_owner_removes_a_personality_and_its_aliases(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob big bob")
    effects = cat.run(ALICE, "!tz remove bob")
    assert "Removed **Bob**" in only_notice(effects)
    assert set(pushed(effects)) == {RouteFact("alias", "bob", None), RouteFact("alias", "big bob", None)}
    assert cat.lookup("bob") is None and cat.lookup("big bob") is None


def test_the_bot_owner_may_remove_anyones_personality(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    assert "Removed" in cat.said(OWNER, "!tz remove bob", bot_owner=True)
    assert cat.lookup("bob") is None


def test_someone_else_cannot_remove_or_alias_a_personality(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    assert "Only the owner of `bob` can remove it" in cat.said(CAROL, "!tz remove bob")
    assert "Only the owner of `bob` can alias it" in cat.said(CAROL, "!tz alias bob bobby")
    assert cat.lookup("bob") is not None and cat.lookup("bobby") is None


def test_the_owner_and_the_bot_owner_may_add_aliases(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    effects = cat.run(ALICE, "!tz alias bob bobby")
    assert RouteFact("alias", "bobby", "bob") in pushed(effects)
    assert "`@bobby` now means **Bob**" in only_notice(effects)
    assert "now means" in cat.said(OWNER, "!tz alias bob robert", bot_owner=True)
    assert cat.lookup("robert")["name"] == "bob"


def test_an_alias_that_already_means_this_personality_says_so(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob bobby")
    effects = cat.run(ALICE, "!tz alias bob bobby")
    assert "already means **Bob**" in only_notice(effects) and pushed(effects) == []


def test_an_alias_owned_by_another_personality_cannot_be_taken(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob bobby")
    cat.run(CAROL, "!tz add carl")
    effects = cat.run(CAROL, "!tz alias carl bobby")
    assert "already taken by `bob`" in only_notice(effects) and pushed(effects) == []
    assert "already taken by `bob`" in cat.said(CAROL, "!tz alias carl bob")  # a name is taken too
    assert cat.lookup("bobby")["name"] == "bob"


def test_add_cannot_take_another_personalitys_name_as_its_alias(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    effects = cat.run(CAROL, "!tz add carl bob")
    assert not [f for f in pushed(effects) if f.key == "bob"]  # @bob still means bob at the edge
    assert "bob" not in cat.state.aliases


def test_add_cannot_take_over_another_personalitys_alias_as_its_name(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob bobby")
    effects = cat.run(CAROL, "!tz add bobby")
    assert RouteFact("alias", "bobby", "bobby") not in pushed(effects)
    assert cat.lookup("bobby")["name"] == "bob"


def test_unknown_personality_is_answered_plainly(cat: Catalogue) -> None:
    for text in ("!tz remove ghost", "!tz info ghost", "!tz alias ghost spook", "!tz config ghost vision on"):
        assert "I don't know a personality called `ghost`" in cat.said(ALICE, text)


# ---- config ------------------------------------------------------------------------------------------


def test_config_is_for_the_owner_only_even_the_bot_owner_is_refused(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    assert "Only the owner of `bob` can config it" in cat.said(OWNER, "!tz config bob vision on", bot_owner=True)
    assert "Only the owner" in cat.said(CAROL, "!tz config bob vision on")
    assert cat.lookup("bob")["vision"] is False


@pytest.mark.parametrize(
    ("key", "value", "field", "stored"),
    [
        ("display", "Bobby B", "display_name", "Bobby B"),
        ("avatar", "https://cdn.example/bob.png", "avatar_url", "https://cdn.example/bob.png"),
        ("avatar", "none", "avatar_url", ""),
        ("prompt", "You are Bob, a pirate.", "prompt", "You are Bob, a pirate."),
        ("model", "anthropic/claude-3.5-sonnet", "model", "anthropic/claude-3.5-sonnet"),
        ("model", "default", "model", ""),
        ("temperature", "0.7", "temperature", 0.7),
        ("temperature", "2", "temperature", 2.0),
        ("vision", "on", "vision", True),
        ("context-line", "on", "context_line", True),
        ("public", "off", "public", False),
    ],
)
def test_config_sets_each_valid_value(cat: Catalogue, key: str, value: str, field: str, stored: Any) -> None:
    cat.run(ALICE, "!tz add bob")
    effects = cat.run(ALICE, f"!tz config bob {key} {value}")
    assert f"{key} is now" in only_notice(effects)
    assert cat.lookup("bob")[field] == stored


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("display", "   ", "cannot be blank"),
        ("display", "x" * 81, "at most 80"),
        ("avatar", "ftp://example/bob.png", "http(s) URL"),
        ("avatar", "https://a b", "http(s) URL"),
        ("prompt", "p" * (PROMPT_MAX + 1), "1 to 4000"),
        ("model", "not a model!", "model name"),
        ("temperature", "2.5", "between 0 and 2"),
        ("temperature", "-1", "between 0 and 2"),
        ("temperature", "warm", "number between 0 and 2"),
        ("vision", "maybe", "either on or off"),
        ("public", "sometimes", "either on or off"),
        ("colour", "red", "Unknown setting `colour`"),
    ],
)
def test_config_refuses_a_bad_value_and_changes_nothing(cat: Catalogue, key: str, value: str, complaint: str) -> None:
    cat.run(ALICE, "!tz add bob")
    before = dict(cat.lookup("bob"))
    # The registry checks for itself: commands may come from anywhere, not only from the parser.
    text = only_notice(cat.command(ALICE, Command("config", ("bob", key, value))))
    assert complaint in text
    assert cat.lookup("bob") == before


def test_private_personality_is_listed_as_private_and_hidden_from_others(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    cat.run(ALICE, "!tz config bob public off")
    assert "(private)" in cat.said(ALICE, "!tz list")
    assert cat.lookup("bob", user=CAROL) is None  # PersonaRequest by someone else answers None
    assert cat.lookup("bob", user=ALICE)["name"] == "bob"


# ---- list, info ----------------------------------------------------------------------------------------


def test_list_shows_pages_of_ten_of_your_own(cat: Catalogue) -> None:
    for i in range(25):
        cat.run(ALICE, f"!tz add p{i:02d}")
    cat.run(CAROL, "!tz add carl")
    first = cat.said(ALICE, "!tz list").split("\n")
    assert first[0] == "Your personalities (page 1/3, 25 in all):"
    assert len(first) == 1 + PAGE == 11
    assert "`p00`" in first[1] and "`p09`" in first[10]
    last = cat.said(ALICE, "!tz list 3").split("\n")
    assert last[0].startswith("Your personalities (page 3/3")
    assert len(last) == 1 + 5 and "`p24`" in last[-1]
    assert cat.said(ALICE, "!tz list 99").split("\n")[0].startswith("Your personalities (page 3/3")
    assert "carl" not in "".join(first + last)


def test_list_with_nothing_tells_you_how_to_start(cat: Catalogue) -> None:
    assert "no personalities yet" in cat.said(ALICE, "!tz list")


def test_info_describes_a_personality(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob bobby")
    cat.run(ALICE, "!tz config bob model x/y")
    cat.run(ALICE, "!tz config bob vision on")
    text = cat.said(CAROL, "!tz info @BOB")
    assert "**Bob** (`bob`)" in text
    assert f"<@{ALICE}>" in text and "public" in text
    assert "`@bobby`" in text
    assert "Model: x/y" in text and "vision on" in text


def test_info_shows_a_temperature_of_zero(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    cat.run(ALICE, "!tz config bob temperature 0")
    assert cat.lookup("bob")["temperature"] == 0.0
    assert "temperature 0" in cat.said(ALICE, "!tz info bob")


# ---- lookups -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["bob", "@bob", "BOB", "@Bob", "bobby", "@BOBBY", "  bob"])
def test_lookups_ignore_a_leading_at_and_case(cat: Catalogue, written: str) -> None:
    cat.run(ALICE, "!tz add bob bobby")
    record = cat.lookup(written)
    assert record is not None and record["name"] == "bob"
    assert cat.state.handle(LookupPersonality(written), NOW)[0].body == PersonalityInfo("bob", "Bob", ALICE)


def test_unknown_lookup_answers_none(cat: Catalogue) -> None:
    assert cat.lookup("ghost") is None
    assert cat.lookup("@") is None


# ---- export / import -------------------------------------------------------------------------------------


def exported(cat: Catalogue, user: int) -> tuple[Notify, list[dict[str, Any]]]:
    notice = notices(cat.run(user, "!tz export"))
    assert len(notice) == 1
    return notice[0], json.loads(notice[0].file_text)["personalities"]


def test_export_attaches_your_personalities_as_json(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    cat.run(ALICE, "!tz add zed")
    cat.run(CAROL, "!tz add carl")
    notice, records = exported(cat, ALICE)
    assert notice.file_name == "personalities.json"
    assert notice.text == "Your 2 personalities:"
    assert [r["name"] for r in records] == ["bob", "zed"]
    assert all(set(r) == set(EXPORTED) for r in records)


def test_export_with_nothing_says_so(cat: Catalogue) -> None:
    assert "no personalities to export" in cat.said(ALICE, "!tz export")


def test_export_round_trips_through_import_into_a_fresh_registry(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    for setting in (
        "prompt You are Bob.\nYou like boats.",
        "model openai/gpt-4o",
        "temperature 0.3",
        "vision on",
        "context-line on",
        "public off",
        "avatar https://cdn.example/bob.png",
        "display Captain Bob",
    ):
        cat.run(ALICE, f"!tz config bob {setting}")
    cat.run(ALICE, "!tz add zed")
    notice, records = exported(cat, ALICE)

    elsewhere = Catalogue()
    effects = elsewhere.run(CAROL, "!tz import", attachment=notice.file_text)
    assert only_notice(effects) == "Imported 2: bob, zed."
    assert RouteFact("alias", "bob", "bob") in pushed(effects)
    for original in records:
        copy = elsewhere.lookup(original["name"], user=CAROL)
        assert copy is not None
        assert {k: copy[k] for k in EXPORTED} == original
        assert copy["owner_id"] == CAROL  # owned by whoever imported it
    _, again = exported(elsewhere, CAROL)
    assert again == records


@pytest.mark.parametrize(
    "text",
    ["", "   ", "this is not json", "{broken", "[]", '{"personalities": []}', "42", "null", '{"version": 1}'],
)
def test_import_of_garbage_or_nothing_explains_what_to_attach(cat: Catalogue, text: str) -> None:
    effects = cat.run(ALICE, "!tz import", attachment=text)
    assert "Attach the JSON file that `export` gave you" in only_notice(effects)
    assert cat.state.personalities == {}


def test_import_of_a_partly_bad_file_adds_the_good_and_names_the_bad(cat: Catalogue) -> None:
    cat.run(CAROL, "!tz add taken")
    data = {
        "personalities": [
            {"name": "good", "prompt": "You are good."},
            "not a record",
            {"name": "x"},
            {"name": "taken"},
            {"name": "baddisplay", "display_name": ""},
            {"name": "badprompt", "prompt": "p" * (PROMPT_MAX + 1)},
            {"display_name": "No Name"},
        ]
    }
    text = only_notice(cat.run(ALICE, "!tz import", attachment=json.dumps(data)))
    assert text.startswith("Imported 1: good.")
    assert "?: not a personality record" in text
    assert "x: A name must be 2 to 50 characters long." in text
    assert "taken: The name 'taken' is taken." in text
    assert "baddisplay: bad display name" in text
    assert "badprompt: bad prompt" in text
    assert cat.lookup("good")["prompt"] == "You are good."
    assert cat.lookup("taken")["owner_id"] == CAROL
    assert cat.lookup("baddisplay") is None


def test_import_accepts_a_bare_list(cat: Catalogue) -> None:
    text = only_notice(cat.run(ALICE, "!tz import", attachment=json.dumps([{"name": "solo"}])))
    assert text == "Imported 1: solo."
    assert cat.lookup("solo")["owner_id"] == ALICE


# ---- activate (the registry checks the personality, the channel records it) ------------------------------


def test_activate_hands_the_real_name_to_the_channel(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob bobby")
    effects = cat.run(CAROL, "!tz activate @Bobby")
    assert len(effects) == 2 and effects[0] == Save()
    tell = effects[1]
    assert (tell.kind, tell.key) == ("channel", CHANNEL)
    assert tell.body.command == Command("activate", ("bob",))
    assert tell.body.origin.user_id == CAROL


def test_a_private_personality_cannot_be_activated_by_someone_else(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob")
    cat.run(ALICE, "!tz config bob public off")
    assert "`bob` is private" in cat.said(CAROL, "!tz activate bob")


def test_snapshot_round_trips(cat: Catalogue) -> None:
    cat.run(ALICE, "!tz add bob bobby", trigger=3)
    restored = RegistryState.restore("registry", json.loads(json.dumps(cat.state.snapshot())))
    rows = {key: json.loads(json.dumps(cat.state.row(key))) for key in cat.state.personalities}  # a row each
    assert restored.restore_rows(rows) == {}
    assert restored.personalities == cat.state.personalities
    assert restored.aliases == {"bobby": "bob"}
    assert list(restored.seen) == [3]
