"""The UserActor shell on simpleSystemBase with an in-memory store: what it answers and what it persists."""

from __future__ import annotations

import logging
import sqlite3

from actors.messages import (
    Author,
    GetUserSettings,
    Heard,
    Incoming,
    Place,
    Refused,
    RemoveAlias,
    SetAlias,
    SetAutorespond,
    UserSettings,
)
from actors.user_actor import UserActor
from observability.jsonlog import read
from store import MemoryStore
from supervision.protocol import Failed
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


class FailingStore(MemoryStore):
    """A store whose disk is full while `broken` (sqlite3's own error, as SqliteStore would raise it)."""

    broken = False

    def save(self, *args: object, **kw: object) -> int:
        if self.broken:
            raise sqlite3.OperationalError("database or disk is full")
        return super().save(*args, **kw)  # type: ignore[arg-type]


def test_a_failing_store_is_logged_once_as_store_failed_until_a_save_succeeds(actor_harness) -> None:
    store = FailingStore()
    actor = actor_harness(UserActor, key="42", store=store)
    events = actor.settings.data_dir / "events.log"
    store.broken = True

    actor.ask(SetAutorespond(42, True))  # raised in the handler (and tried once more)
    actor.ask(SetAlias(42, "bobby", "bob"))
    failed = [r for r in read(events) if r["event"] == "store_failed"]
    assert len(failed) == 1, failed
    assert failed[0]["level"] == "error" and (failed[0]["kind"], failed[0]["key"]) == ("user", "42")
    assert "OperationalError: database or disk is full" in failed[0]["detail"]

    store.broken = False
    actor.ask(SetAlias(42, "robert", "bob"))
    assert store.saves == 1
    assert [r["event"] for r in read(events)] == ["store_failed", "store_recovered"]


def test_a_save_that_fails_once_is_made_again_when_the_message_is_tried_again() -> None:
    """The change must not stay in memory only: the second try recomputes it and saves it for real."""
    import sqlite3

    class FlakyStore(MemoryStore):
        failures = 1

        def save(self, *args, **kw):  # type: ignore[no-untyped-def]
            if self.failures:
                self.failures -= 1
                raise sqlite3.OperationalError("database is locked")
            return super().save(*args, **kw)

    store = FlakyStore()
    with ActorHarness(UserActor, key="11", store=store) as actor:
        assert actor.ask(SetAutorespond(11, True)).autorespond is True
    assert store.load("user", "11").state["autorespond"] is True


def test_a_handler_that_fails_never_hands_a_users_message_to_thespians_log(actor_harness, caplog) -> None:
    """Thespian logs a message whole when a handler raises: a key in it would land in actors.log."""
    key = "sk-harness-SECRET-313131"
    store = FailingStore()
    actor = actor_harness(UserActor, key="42", store=store)
    store.broken = True
    dm = Incoming(9001, Place(555, "dm"), Author(42, "alice"), f"!tz auth key {key}")
    with caplog.at_level(logging.DEBUG):
        reply = actor.ask(Heard(dm, None, None))
    assert isinstance(reply, Failed) and reply.reference != "-"  # the asker gets a reference, as the log does
    assert "SECRET-313131" not in caplog.text and "SECRET-313131" not in repr(dm)
    failed = [r for r in read(actor.settings.data_dir / "supervisor.log") if r["event"] == "failed"]
    assert failed and reply.reference in failed[0]["detail"] and "SECRET" not in failed[0]["detail"]
