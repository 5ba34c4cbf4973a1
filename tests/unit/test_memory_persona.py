"""Long-term memory and personas, as a user lives them: what the model is told, and the commands that control it.

Driven through the tests' world (tests/unit/test_user_flow.py), whose "memory" service is the in-memory
`MemoryList`; the store's own search is tested on SQLite and PostgreSQL in tests/unit/test_memories_store.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.state.memory import RECALL_CHARS, Remembered
from actors.state.user import UserState
from store.sqlite import decode, encode
from tests.unit.test_user_flow import ALICE, CAROL, DM, ELSEWHERE, World


@pytest.fixture
def world() -> World:
    w = World()
    w.personality("bob")
    w.personality("carl", owner=CAROL)
    return w


def systems(world: World) -> list[str]:
    """The system messages of the last request, after the personality's own prompt."""
    return [m["content"] for m in world.request()["messages"][1:] if m["role"] == "system"]


def said(world: World, uid: int = ALICE) -> str:
    return world.notices(uid)[-1].text


def test_an_exchange_is_remembered_and_recalled_when_relevant_after_the_conversation_is_reset(world: World) -> None:
    world.send(ALICE, "@bob my cat is called Biscuit")
    world.send(ALICE, "!tz reset bob")  # the conversation is gone; the memory is not
    world.send(ALICE, "@bob what's my cat's name?")
    [recalled] = systems(world)
    assert recalled.startswith("From your earlier conversations with Alice A (alice)")
    assert "Alice A (alice): my cat is called Biscuit\nBob: fine" in recalled
    world.send(ALICE, "@carl what's my cat's name?")  # another personality remembers nothing of it
    assert systems(world) == []


def test_memory_list_forget_and_off(world: World) -> None:
    world.send(ALICE, "@bob I live in Lisbon")
    world.send(ALICE, "@bob I bake bread for a living")
    world.send(ALICE, "!tz memory list")
    listing = said(world)
    assert "memory is on" in listing and "I bake bread" in listing.splitlines()[1]  # newest first
    first = world.memories.list(ALICE)[-1]["id"]
    world.send(ALICE, f"!tz memory forget {first}")
    assert said(world) == f"Forgot memory `{first}`."
    world.send(ALICE, f"!tz memory forget {first}")
    assert "no memory" in said(world)
    world.send(CAROL, f"!tz memory forget {world.memories.list(ALICE)[0]['id']}")  # not hers: nothing happens
    assert len(world.memories.list(ALICE)) == 1

    world.send(ALICE, "!tz memory off")
    assert UserState.restore(str(ALICE), decode(encode(world.user(ALICE).snapshot()))).profile.memory is False
    world.send(ALICE, "!tz reset bob")
    world.send(ALICE, "@bob where do I bake bread?")
    assert systems(world) == []  # nothing recalled
    assert len(world.memories.list(ALICE)) == 1  # and nothing new remembered
    world.send(ALICE, "!tz memory on")
    world.send(ALICE, "@bob where do I bake bread?")
    assert "I bake bread for a living" in systems(world)[0]
    world.send(ALICE, "!tz memory forget all")
    assert said(world) == "Forgot all of your memories (2)." and world.memories.list(ALICE) == []
    assert world.user(ALICE).profile.memory is True


def test_a_dm_is_recalled_only_in_dms_and_recall_is_bounded(world: World) -> None:
    world.send(ALICE, "@bob my bank pin is 4321", DM)
    world.send(ALICE, "@bob what is my bank pin?")
    assert systems(world) == []  # in a server: never a DM's memory
    world.send(ALICE, "@bob what is my bank pin?", DM)
    assert "4321" in systems(world)[0]
    for i in range(10):
        world.send(ALICE, f"@bob pin fact {i}: " + "x" * 900)
    world.send(ALICE, "@bob pin?", DM)
    assert len(systems(world)[0]) <= RECALL_CHARS + 200


def test_a_memory_that_cannot_be_reached_never_stops_an_answer() -> None:
    world = World()
    world.services["memory"] = lambda call: RuntimeError("database is down")
    world.personality("bob")
    world.send(ALICE, "@bob hello")
    assert world.speaks(ALICE)[-1].text == "fine" and systems(world) == []


def test_a_persona_is_told_to_every_personality_and_one_for_a_single_personality_wins(world: World) -> None:
    world.send(ALICE, "!tz persona set I'm Sam, a night-shift nurse.")
    assert said(world).startswith("Saved: every personality now knows who you are.")
    world.send(ALICE, "@bob hi")
    assert systems(world) == ["About Alice A (alice), in their own words: I'm Sam, a night-shift nurse."]
    world.send(ALICE, "!tz persona bob set To you I'm Captain Sam.")
    world.send(ALICE, "@bob hi again")
    assert systems(world)[0].endswith("To you I'm Captain Sam.")
    kept = UserState.restore(str(ALICE), decode(encode(world.user(ALICE).snapshot()))).profile.personas
    assert kept == {"": "I'm Sam, a night-shift nurse.", "bob": "To you I'm Captain Sam."}  # saved with the user
    world.send(ALICE, "@carl hi")
    assert systems(world)[0].endswith("I'm Sam, a night-shift nurse.")
    world.send(ALICE, "!tz persona show")
    assert said(world).endswith("I'm Sam, a night-shift nurse.")
    world.send(ALICE, "!tz persona bob clear")
    world.send(ALICE, "!tz persona clear")
    assert said(world) == "Cleared your persona for every personality."
    world.send(ALICE, "!tz persona clear")
    assert said(world) == "You had no persona for every personality."
    world.send(ALICE, "@carl bye")
    assert systems(world) == [] or "About" not in systems(world)[0]


@pytest.mark.parametrize(("text", "why"), [
    ("!tz persona set", "Say who you are"),
    ("!tz persona set " + "x" * 1001, "at most 1000"),
    ("!tz persona set bad\x07bell", "control characters"),
    ("!tz memory forget", "Choose list"),
    ("!tz memory forget soon", "memory's number"),
])
def test_bad_input_is_refused_plainly_and_changes_nothing(world: World, text: str, why: str) -> None:
    before: dict[str, Any] = dict(world.user(ALICE).profile.personas)
    world.send(ALICE, text)
    assert why in said(world)
    assert world.user(ALICE).profile.personas == before


def searched(world: World) -> list[str]:
    """Record the long-term memory lookups from now on: the query of each."""
    looked: list[str] = []
    inner = world.services["memory"]

    def service(call: Any) -> Any:
        if call.method == "search":
            looked.append(call.args[2])
        return inner(call)

    world.services["memory"] = service
    return looked


def test_memory_is_looked_in_only_when_it_can_hold_what_the_prompt_does_not(world: World) -> None:
    looked = searched(world)
    world.send(ALICE, "@bob my cat is called Biscuit")
    world.send(ALICE, "@bob what's my cat's name?")
    assert looked == []  # nothing remembered before, then only what this very conversation holds
    assert "my cat is called Biscuit" in str(world.request()["messages"])  # the history has it
    world.send(ALICE, "@carl hello")
    assert looked == []  # nothing remembered with carl at all

    world.send(ALICE, "@bob what's my cat's name?", ELSEWHERE)  # another channel's conversation: look
    assert looked == ["what's my cat's name?"] and "Biscuit" in systems(world)[0]
    world.send(ALICE, "@bob and my dog's?")  # memories were made in two conversations now: always look
    assert len(looked) == 2

    # What the actor keeps of it survives a restart; a row from before it was kept means "look".
    restored = UserState.restore(str(ALICE), decode(encode(world.user(ALICE).snapshot())))
    assert restored.profile.remembered == world.user(ALICE).profile.remembered
    assert UserState.restore(str(ALICE), {"memory": True}).profile.remembered.known is False


def test_a_reset_or_a_turn_not_remembered_means_looking_again(world: World) -> None:
    looked = searched(world)
    world.send(ALICE, "@bob my cat is called Biscuit")
    world.send(ALICE, "!tz reset bob")
    world.send(ALICE, "@bob what's my cat's name?")
    assert len(looked) == 1 and "Biscuit" in systems(world)[0]  # the conversation is gone: the memory is found

    world.send(CAROL, "@bob I like tea")
    world.send(CAROL, "!tz memory off")
    world.send(CAROL, "@bob something I'd rather not be remembered")
    world.send(CAROL, "!tz memory on")
    world.send(CAROL, "@bob what do I like?")
    assert len(looked) == 2  # an exchange not remembered came between: the rest may have left the prompt


@pytest.mark.parametrize("events, look", [
    ([], False),
    ([("bob", "c:bob", True)], False),
    ([("bob", "c:bob", True), ("bob", "c:bob", True)], False),
    ([("bob", "c:bob", True), ("bob", "d:bob", True)], True),
    ([("bob", "c:bob", True), ("bob", "c:bob", False)], True),
    ([("bob", "c:bob", False)], False),
    ([("carl", "c:carl", True)], False),
])
def test_remembered_looks_only_when_a_memory_may_be_outside_the_conversation(events: list, look: bool) -> None:
    record = Remembered()
    for personality, conversation, remembered in events:
        record.exchanged(personality, conversation, remembered)
    history = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}] * len(events)
    assert record.must_look("bob", "c:bob", history) is look
    if record.made_in.get("bob"):  # a memory whose exchange left the prompt (one fewer there) is looked for
        assert record.must_look("bob", "c:bob", history[2:]) is True
    assert Remembered(known=False).must_look("bob", "c:bob", history) is True
    record.forgot_all()
    assert record.must_look("bob", "c:bob", []) is False
