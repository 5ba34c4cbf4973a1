"""The UserActor shell on simpleSystemBase with an in-memory store: what it answers and what it persists."""

from __future__ import annotations

from actors.messages import GetUserSettings, Refused, RemoveAlias, SetAlias, SetAutorespond, UserSettings
from actors.user import UserActor
from store import MemoryStore
from tests.harness import ActorHarness


def test_settings_change_is_answered_and_written_through(actor_harness) -> None:
    actor = actor_harness(UserActor, key="42")
    settings = actor.ask(SetAutorespond(42, True))
    assert settings == UserSettings(42, True, ())
    assert actor.store.saves == 1
    stored = actor.store.load("user", "42").state
    assert stored["autorespond"] is True and stored["aliases"] == {}


def test_state_survives_a_new_actor_on_the_same_store() -> None:
    store = MemoryStore()
    with ActorHarness(UserActor, key="7", store=store) as first:
        first.ask(SetAlias(7, "Big Bob", "bob"))
    with ActorHarness(UserActor, key="7", store=store) as second:
        assert second.ask(GetUserSettings(7)).aliases == (("big bob", "bob"),)


def test_bad_alias_is_refused_and_changes_nothing(actor_harness) -> None:
    actor = actor_harness(UserActor, key="9")
    reply = actor.ask(SetAlias(9, "bad!alias", "bob"))
    assert isinstance(reply, Refused) and "letters" in reply.reason
    assert actor.store.saves == 0
    assert actor.ask(GetUserSettings(9)).aliases == ()


def test_repeated_message_is_idempotent(actor_harness) -> None:
    """Thespian redelivers a message once after an exception: the same change twice must save once."""
    actor = actor_harness(UserActor, key="5")
    actor.ask(SetAlias(5, "bobby", "bob"))
    actor.ask(SetAlias(5, "bobby", "bob"))
    assert actor.store.saves == 1
    assert isinstance(actor.ask(RemoveAlias(5, "nobody")), Refused)
