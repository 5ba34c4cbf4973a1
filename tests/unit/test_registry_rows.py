"""The catalogue's bounds and its storage: a row per personality (a command writes one small row, not the whole
catalogue), a cap per user and per personality's aliases, and an import that refuses any bad file clearly."""

from __future__ import annotations

import json

from actors.effects import SaveRow
from actors.messages import LookupPersonality, PersonalityInfo, RegisterPersonality
from actors.registry_actor import RegistryActor
from actors.state.registry import ALIASES_CAP, RegistryState
from store import SqlStore
from store.sqlite import encode
from tests.harness import ActorHarness
from tests.unit.test_registry_commands import ALICE, CAROL, Catalogue, only_notice


def test_a_user_cannot_own_more_than_the_cap_and_is_told_why() -> None:
    cat = Catalogue()
    cat.state.per_user_cap = 3
    for name in ("one", "two", "three"):
        assert "Added" in cat.said(ALICE, f"!tz add {name}")
    assert "You already have 3 personalities" in cat.said(ALICE, "!tz add four")
    assert cat.lookup("four") is None
    assert "Added" in cat.said(CAROL, "!tz add four")  # the cap is per user


def test_an_import_past_the_cap_adds_up_to_it_and_says_what_it_skipped() -> None:
    cat = Catalogue()
    cat.state.per_user_cap = 2
    records = json.dumps([{"name": f"p{i}"} for i in range(5)])
    text = only_notice(cat.run(ALICE, "!tz import", attachment=records))
    assert text.startswith("Imported 2: p0, p1.") and "p2: You already have 2 personalities" in text
    assert [cat.lookup(f"p{i}") is not None for i in range(5)] == [True, True, False, False, False]


def test_a_personality_has_at_most_the_documented_number_of_aliases() -> None:
    cat = Catalogue()
    cat.run(ALICE, "!tz add bob")
    for i in range(ALIASES_CAP):
        assert "now means" in cat.said(ALICE, f"!tz alias bob nick{i}")
    assert f"already has {ALIASES_CAP} aliases" in cat.said(ALICE, "!tz alias bob onemore")
    assert "onemore" not in cat.state.aliases


def test_a_deeply_nested_or_malformed_import_gets_a_clear_answer_and_changes_nothing() -> None:
    cat = Catalogue()
    for attachment, expected in [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("{not json", "not a JSON file I can read"),
        ('[{"name": "bob", "display_name": {"a": [1]}}]', "display_name is not a plain value"),
        ('[{"name": "bob", "prompt": ' + "[" * 500 + "]" * 500 + "}]", "prompt is not a plain value"),
    ]:
        assert expected in only_notice(cat.run(ALICE, "!tz import", attachment=attachment))
    assert cat.state.personalities == {}


def test_an_attachment_the_edge_could_not_read_is_named_in_the_answer() -> None:
    cat = Catalogue()
    text = only_notice(cat.run(ALICE, "!tz import", attachment_error="it is not a .json or .txt file"))
    assert "couldn't read that attachment: it is not a .json or .txt file" in text


def test_a_command_writes_only_the_row_of_the_personality_it_changes() -> None:
    cat = Catalogue()
    for i in range(50):
        cat.run(ALICE, f"!tz add p{i}")
    effects = cat.run(ALICE, "!tz config p7 prompt You are seven.")
    rows = [e for e in effects if isinstance(e, SaveRow)]
    assert [r.key for r in rows] == ["p7"] and rows[0].data["prompt"] == "You are seven."
    assert len(encode(rows[0].data)) < 1_000 and len(encode(cat.state.snapshot())) < 1_000  # not the catalogue


def test_the_catalogue_survives_a_restart_one_row_per_personality(sql_store: SqlStore) -> None:
    store = sql_store  # SQLite and PostgreSQL
    with ActorHarness(RegistryActor, key="registry", store=store) as actor:
        for name in ("lilith", "bob"):
            assert isinstance(actor.ask(RegisterPersonality(name, ALICE)), PersonalityInfo)
    assert sorted(store.keys("personality")) == ["bob", "lilith"]
    with ActorHarness(RegistryActor, key="registry", store=store) as actor:
        assert actor.ask(LookupPersonality("Lilith")) == PersonalityInfo("lilith", "Lilith", ALICE)
    store.close()


def test_a_catalogue_saved_as_one_row_is_written_out_as_rows_at_start(sql_store: SqlStore) -> None:
    """Schema 2 kept every personality in the registry's own row."""
    old = RegistryState()
    old.handle(RegisterPersonality("lilith", ALICE, "Lady Lilith"), 0.0)
    store = sql_store
    store.save("registry", "registry", {"personalities": old.personalities, "aliases": old.aliases, "seen": [1]},
               0, 2)
    with ActorHarness(RegistryActor, key="registry", store=store) as actor:
        assert actor.ask(LookupPersonality("lady lilith")) == PersonalityInfo("lilith", "Lady Lilith", ALICE)
    assert store.keys("personality") == ["lilith"]
    assert store.load("personality", "lilith").state["aliases"] == ["lady lilith"]
    assert "personalities" not in store.load("registry", "registry").state
    store.close()


def test_a_personality_row_that_is_not_one_is_quarantined_and_the_rest_load(sql_store: SqlStore) -> None:
    store = sql_store  # SQLite and PostgreSQL
    good = RegistryState()
    good.handle(RegisterPersonality("lilith", ALICE), 0.0)
    store.save("personality", "lilith", good.row("lilith"), 0, 3)
    store.save("personality", "ghost", {"name": "someone-else", "owner_id": 1}, 0, 3)
    with ActorHarness(RegistryActor, key="registry", store=store) as actor:
        assert isinstance(actor.ask(LookupPersonality("lilith")), PersonalityInfo)
    assert [(k, key) for k, key, _ in store.quarantined()] == [("personality", "ghost")]
    store.close()
