"""The channel's context: what the channel actor keeps of the recent conversation, and what the model is told."""

from __future__ import annotations

from typing import Any

from actors.effects import Tell
from actors.messages import Author, Heard, Incoming, Persona, Place, Speak
from actors.state import channel_window as cw
from actors.state.channel import ChannelState
from actors.state.channel_window import ChannelWindow, transcript
from store.sqlite import decode, encode

NOW = 1_700_000_000.0
CID = 500
PLACE = Place(CID, "text", 9, name="general", guild_name="Sandbox")
ALICE, BOB = Author(11, "alice", "Alice"), Author(12, "bob")
LILITH = Persona("lilith", "Lilith")


def said(mid: int, who: Author, text: str, reply_to: int | None = None, at: float = NOW) -> Incoming:
    return Incoming(mid, PLACE, who, text, reply_to=reply_to, created_at=at)


def answer(trigger: int, user: int, text: str, persona: Persona = LILITH) -> Speak:
    return Speak(CID, user, persona, text, trigger)


def handed_on(effects: list[Any]) -> Heard:
    [tell] = [e for e in effects if isinstance(e, Tell) and isinstance(e.body, Heard)]
    return tell.body


def test_the_second_user_is_handed_what_the_personality_just_told_the_first() -> None:
    state = ChannelState.restore(str(CID), None)
    first = handed_on(state.handle(said(1, ALICE, "@lilith what is the secret word?"), NOW))
    assert first.context == ()  # nothing said here before
    state.handle(answer(1, ALICE.id, "The secret word is marmalade."), NOW + 1)
    bob = handed_on(state.handle(said(2, BOB, "@lilith what did you just tell alice?"), NOW + 2))

    assert [(line.label, line.text) for line in bob.context] == [
        ("Alice (alice)", "@lilith what is the secret word?"), ("Lilith", "The secret word is marmalade.")]
    # As the model sees it: what others said, her own answer marked as hers; bob's own turns are his
    # conversation with her (his history), so his lines are not repeated here.
    assert transcript(bob.context, "lilith", BOB.id).splitlines()[1:] == [
        "Alice (alice): @lilith what is the secret word?", "Lilith (you): The secret word is marmalade."]
    assert transcript(bob.context, "bob", BOB.id).endswith("\nLilith: The secret word is marmalade.")
    assert transcript(bob.context, "lilith", ALICE.id) == ""  # to alice, all of it is her own conversation


def test_commands_are_never_kept_and_an_answer_said_again_is_kept_once() -> None:
    state = ChannelState.restore(str(CID), None)
    state.handle(said(1, ALICE, "!tz auth key sk-should-never-be-seen"), NOW)
    state.handle(said(2, ALICE, "  !TZ help"), NOW)
    state.handle(said(3, ALICE, "@lilith hi"), NOW)
    state.handle(answer(3, ALICE.id, "hello"), NOW)
    state.handle(answer(3, ALICE.id, "hello"), NOW + 30)  # handed on again after a restart: the same line
    state.handle(said(3, ALICE, "@lilith hi"), NOW + 30)  # so is a message handed on again
    assert [line.text for line in state.window.lines] == ["@lilith hi", "hello"]


def test_the_newest_lines_that_fit_are_handed_on_oldest_first() -> None:
    window = ChannelWindow()
    size = 1_000
    for mid in range(1, 21):
        window.heard(said(mid, ALICE, f"{mid:04d}".ljust(size, ".")), NOW)
    context = window.context_for(said(99, BOB, "and now?"), NOW)
    ids = [line.message_id for line in context]
    assert ids == list(range(21 - cw.CONTEXT_CHARS // size, 21))  # the newest six, in order
    assert sum(len(line.text) for line in context) <= cw.CONTEXT_CHARS


def test_what_is_kept_is_bounded_in_lines_characters_size_and_age() -> None:
    window = ChannelWindow()
    for mid in range(1, cw.WINDOW_LINES + 51):
        window.heard(said(mid, ALICE, f"line {mid}"), NOW)
    assert len(window.lines) == cw.WINDOW_LINES and window.lines[-1].message_id == cw.WINDOW_LINES + 50
    window.heard(said(1_000, BOB, "x" * 50_000), NOW)  # one huge message is cut, the window stays bounded
    assert len(window.lines[-1].text) == cw.LINE_CHARS
    assert sum(len(line.text) for line in window.lines) <= cw.WINDOW_CHARS
    later = NOW + cw.MAX_AGE_S + 1
    assert window.context_for(said(1_001, BOB, "anyone?", at=later), later) == ()  # a day later: forgotten
    window.heard(said(1_001, BOB, "anyone?", at=later), later)
    assert [line.message_id for line in window.lines] == [1_001]


def test_the_reply_chain_comes_along_even_when_older_than_the_lines_handed_on() -> None:
    window = ChannelWindow()
    window.heard(said(1, ALICE, "the plan: meet at noon"), NOW)
    window.heard(said(2, BOB, "why noon?", reply_to=1), NOW)
    for mid in range(3, 60):
        window.heard(said(mid, ALICE, "chatter " + "." * 200), NOW)
    context = window.context_for(said(60, BOB, "@lilith is that wise?", reply_to=2), NOW)
    assert [line.message_id for line in context[:2]] == [1, 2]  # the chain first, oldest first
    assert 3 not in [line.message_id for line in context]  # older chatter did not fit
    assert sum(len(line.text) for line in context) <= cw.CONTEXT_CHARS + cw.REPLY_CHARS


def test_the_window_is_persisted_with_the_channel_and_a_user_can_be_erased_from_it() -> None:
    state = ChannelState.restore(str(CID), None)
    state.handle(said(1, ALICE, "@lilith remember me"), NOW)
    state.handle(answer(1, ALICE.id, "I will, Alice."), NOW)
    state.handle(said(2, BOB, "@lilith and me"), NOW)
    again = ChannelState.restore(str(CID), decode(encode(state.snapshot())))
    assert [line.text for line in again.window.lines] == ["@lilith remember me", "I will, Alice.", "@lilith and me"]
    assert again.window.forget_user(ALICE.id) is True
    assert [line.text for line in again.window.lines] == ["@lilith and me"]  # her words and the answers to her
    assert again.window.forget_user(ALICE.id) is False


def test_the_model_sees_the_channel_by_default_and_only_the_users_own_turns_with_context_user() -> None:
    from tests.unit.test_user_flow import ALICE as A
    from tests.unit.test_user_flow import CAROL as C
    from tests.unit.test_user_flow import PEOPLE, SERVER, World

    world = World()
    world.personality("bob")
    world.send(A, "@bob my secret is marmalade")  # alice's own turn: in her history with bob
    context = (cw.ChannelLine(1, A, "Alice A (alice)", "@bob my secret is marmalade", NOW),
               cw.ChannelLine(1, A, "Bob", "fine", NOW, "bob", 1))

    def carol_asks() -> list[dict[str, Any]]:
        world.mid += 1
        asks = Incoming(world.mid, SERVER, PEOPLE[C], "@bob what did alice tell you?", created_at=world.now,
                        mentioned=("bob",), mentioned_alias="bob")
        world.tell("user", C, Heard(asks, None, None, context))
        world.settle()
        return world.request()["messages"]

    prompt = carol_asks()
    assert prompt[1] == {"role": "system", "content": transcript(context, "bob", C)}
    assert "Alice A (alice): @bob my secret is marmalade\nBob (you): fine" in prompt[1]["content"]
    assert prompt[2:] == [{"role": "user", "content": "Carol (carol): what did alice tell you?"}]  # the turn
    world.send(A, "!tz config bob context user", Place(600, "dm"))  # bob's owner: he sees only your own turns
    world.now += 60  # past her actor's cache of bob's record
    own = [m["content"] for m in carol_asks()[1:] if m["role"] != "system"]  # only her own turns with him here
    assert own == ["Carol (carol): what did alice tell you?", "fine", "Carol (carol): what did alice tell you?"]
