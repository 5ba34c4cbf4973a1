"""ChannelState, the pure decision side of a channel's actor: activation and the bounded reply map."""

from __future__ import annotations

from typing import Any

import pytest

from actors.effects import Call, Done, Log, Push, Reply, Save, Timer, Wake
from actors.messages import (
    ActivatePersonality,
    ChannelInfo,
    DeactivateChannel,
    DeleteMessage,
    GetChannelInfo,
    GetUserSettings,
    LookupReply,
    RecordSent,
    Refused,
    ReplyTarget,
    RouteFact,
)
from actors.results import Fail, Ok, Wait
from actors.state.channel import ChannelState
from actors.state.outbox import REPLY_MAP_CAP
from store.sqlite import decode, encode

NOW = 1_700_000_000.0
CID = 1_100_000_000_000_000_001  # a Discord-sized snowflake
USER = 42


def fresh() -> ChannelState:
    return ChannelState.restore(str(CID), None)


def refused(effects: list[Any]) -> str:
    assert len(effects) == 1 and isinstance(effects[0], Reply), effects
    assert isinstance(effects[0].body, Refused), effects[0].body
    return effects[0].body.reason


def test_a_new_channel_has_nothing_active_and_remembers_nothing() -> None:
    state = fresh()
    assert state.handle(GetChannelInfo(CID), NOW) == [Reply(ChannelInfo(CID, None, None, 0))]


def test_activation_saves_and_answers_who_activated_what() -> None:
    state = fresh()
    assert state.handle(ActivatePersonality(CID, "bob", USER), NOW) == [
        Save(),
        Push(RouteFact("activated", CID, "bob")),
        Reply(ChannelInfo(CID, "bob", USER, 0)),
    ]


def test_activating_the_active_personality_again_saves_nothing() -> None:
    state = fresh()
    state.handle(ActivatePersonality(CID, "bob", USER), NOW)
    assert state.handle(ActivatePersonality(CID, "bob", USER), NOW) == [Reply(ChannelInfo(CID, "bob", USER, 0))]


def test_activating_another_personality_replaces_the_active_one() -> None:
    state = fresh()
    state.handle(ActivatePersonality(CID, "bob", USER), NOW)
    assert state.handle(ActivatePersonality(CID, "alice", 7), NOW) == [
        Save(),
        Push(RouteFact("activated", CID, "alice")),
        Reply(ChannelInfo(CID, "alice", 7, 0)),
    ]


def test_deactivation_saves_once_then_is_idempotent() -> None:
    state = fresh()
    state.handle(ActivatePersonality(CID, "bob", USER), NOW)
    assert state.handle(DeactivateChannel(CID), NOW) == [
        Save(),
        Push(RouteFact("activated", CID, None)),
        Reply(ChannelInfo(CID, None, None, 0)),
    ]
    assert state.handle(DeactivateChannel(CID), NOW) == [Reply(ChannelInfo(CID, None, None, 0))]


def test_deactivating_a_channel_that_was_never_active_saves_nothing() -> None:
    assert fresh().handle(DeactivateChannel(CID), NOW) == [Reply(ChannelInfo(CID, None, None, 0))]


@pytest.mark.parametrize(("name", "words"), [("b", "2 to 50"), ("two words", "spaces"), ("bo\u200bb", "printable")])
def test_activating_a_bad_personality_name_is_refused_and_changes_nothing(name: str, words: str) -> None:
    state = fresh()
    state.handle(ActivatePersonality(CID, "bob", USER), NOW)
    before = state.snapshot()
    assert words in refused(state.handle(ActivatePersonality(CID, name, 7), NOW))
    assert state.snapshot() == before


def test_an_unknown_message_is_refused_by_name() -> None:
    state = fresh()
    assert "GetUserSettings" in refused(state.handle(GetUserSettings(1), NOW))


# ---- reply map -----------------------------------------------------------------------------------


def test_a_recorded_message_is_found_by_lookup() -> None:
    state = fresh()
    assert state.handle(RecordSent(CID, 555, "bob"), NOW) == [Save()]
    assert state.handle(LookupReply(CID, 555), NOW) == [Reply(ReplyTarget(CID, 555, "bob"))]
    assert state.view().remembered_messages == 1


def test_lookup_of_an_unknown_message_finds_no_personality() -> None:
    assert fresh().handle(LookupReply(CID, 999), NOW) == [Reply(ReplyTarget(CID, 999, None))]


def test_recording_the_same_message_twice_saves_once() -> None:
    state = fresh()
    assert state.handle(RecordSent(CID, 555, "bob"), NOW) == [Save()]
    assert state.handle(RecordSent(CID, 555, "bob"), NOW) == []


def test_the_reply_map_is_bounded_and_drops_the_oldest_first() -> None:
    state = fresh()
    base = 1_200_000_000_000_000_000
    for i in range(REPLY_MAP_CAP + 5):
        state.handle(RecordSent(CID, base + i, f"p{i % 3}x"), NOW)
    assert state.view().remembered_messages == REPLY_MAP_CAP
    for i in range(5):  # the five oldest are forgotten
        assert state.handle(LookupReply(CID, base + i), NOW) == [Reply(ReplyTarget(CID, base + i, None))]
    oldest_kept, newest = base + 5, base + REPLY_MAP_CAP + 4
    assert state.handle(LookupReply(CID, oldest_kept), NOW)[0].body.personality == "p2x"
    assert state.handle(LookupReply(CID, newest), NOW)[0].body.personality == f"p{(REPLY_MAP_CAP + 4) % 3}x"


# ---- persistence ---------------------------------------------------------------------------------


def test_snapshot_restore_round_trip_keeps_activation_and_replies_with_int_ids() -> None:
    state = fresh()
    state.handle(ActivatePersonality(CID, "bob", USER), NOW)
    for mid, name in [(300, "bob"), (100, "alice"), (200, "bob")]:
        state.handle(RecordSent(CID, mid, name), NOW)
    again = ChannelState.restore(str(CID), decode(encode(state.snapshot())))
    assert again == state
    assert list(again.sent) == [300, 100, 200]  # insertion order kept: it decides what is dropped first
    assert all(type(mid) is int for mid in again.sent)
    assert again.handle(LookupReply(CID, 100), NOW) == [Reply(ReplyTarget(CID, 100, "alice"))]
    assert again.view() == ChannelInfo(CID, "bob", USER, 3)


def test_restore_turns_message_ids_stored_as_text_back_into_ints() -> None:
    """A snapshot that went through a text format (JSON, a tool) still answers lookups by int id."""
    state = ChannelState.restore(str(CID), {"activated": None, "activated_by": None, "sent": [["555", "bob"]]})
    assert state.handle(LookupReply(CID, 555), NOW) == [Reply(ReplyTarget(CID, 555, "bob"))]


# ---- deleting a key posted here, and telling its author the truth ----------------------------------------


def delete_request() -> DeleteMessage:
    return DeleteMessage(CID, 777, USER, "I deleted that message.", "Your key is still visible: revoke it now.")


def run_delete(state: ChannelState, results: list[Any]) -> list[Any]:
    """Feed Discord's answers to the delete call (and any retry) in order; every effect the state produced."""
    out: list[Any] = []
    effects = state.handle(delete_request(), NOW)
    for result in results:
        out += effects
        [call] = [e for e in effects if isinstance(e, Call) and e.method == "delete_message"] or [None]
        if call is None:
            [timer] = [e for e in effects if isinstance(e, Timer)]
            effects = state.handle(Wake(timer.payload), NOW)
            [call] = [e for e in effects if isinstance(e, Call) and e.method == "delete_message"]
            out += effects
        effects = state.handle(Done(call.tag, result), NOW)
    return out + effects


def told(effects: list[Any]) -> list[str]:
    return [c.args[1]["content"] for c in effects if isinstance(c, Call) and c.method == "create_message"]


def test_a_deleted_key_is_said_to_be_deleted() -> None:
    assert told(run_delete(fresh(), [Ok(204, None)])) == ["I deleted that message."]


def test_a_key_that_someone_else_already_deleted_is_gone_too() -> None:
    assert told(run_delete(fresh(), [Fail(404, 10008, "Unknown Message")])) == ["I deleted that message."]


def test_a_key_the_bot_may_not_delete_is_said_to_be_visible() -> None:
    effects = run_delete(fresh(), [Fail(403, 50013, "Missing Permissions")])
    assert told(effects) == ["Your key is still visible: revoke it now."]
    assert any(isinstance(e, Log) and e.event == "delete_failed" for e in effects)


def test_a_delete_refused_by_rate_limits_every_time_is_said_to_be_visible() -> None:
    effects = run_delete(fresh(), [Wait(1.0, "bucket")] * 5)
    assert told(effects) == ["Your key is still visible: revoke it now."]
