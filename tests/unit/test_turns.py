"""Merged turns, through UserStates (the `World` of test_user_flow) and a channel's sender.

A user's lines to one personality in one channel, sent while their turn waits (for a slot, or in the inbox) or
is being answered, are one turn: one AI call that sees every line (each its own user message, in message-id
order), answered once; at most TURN_LINES lines and TURN_CHARS characters. After a slow call the lines that came
meanwhile join and the model is asked again (at most REASKS times), the earlier answer never sent. A merged
answer completes the work of every line it answers, also when it is said again after a restart.
"""

from __future__ import annotations

from actors.effects import Done, Wake, WorkDone
from actors.messages import Persona, Speak
from actors.results import Ok
from actors.state.answering import REASKS, YIELD_AFTER_S
from actors.state.outbox import Chunk
from actors.state.sending import WebhookSender
from actors.state.turns import TURN_CHARS, TURN_LINES
from actors.state.user import UserState
from store.sqlite import decode, encode
from tests.unit.test_user_flow import ALICE, CAROL, ELSEWHERE, NOW, SERVER, Said, World


def users_lines(request: dict) -> list[str]:
    """The user messages of a request after the conversation so far: the turn's lines."""
    messages = request["messages"]
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=0)
    return [m["content"] for m in messages[last_assistant + 1:] if m["role"] == "user"]


def busy_world() -> World:
    """One slot, held by Carol's slow answer: whatever Alice sends waits for it."""
    w = World(hold_ai=True, slots=1)
    w.personality("bob")
    w.send(CAROL, "@bob a long question")
    return w


def test_lines_sent_while_the_turn_waits_for_a_slot_are_one_answer_that_saw_each_line_in_order() -> None:
    w = busy_world()
    sent = [w.send(ALICE, f"@bob line {i}") for i in range(5)]
    w.release_all()
    [speak] = w.speaks(ALICE)
    assert speak.answered == tuple(sent) and speak.trigger_id == sent[-1]  # it follows the last line
    alices = [c.args[0] for c in w.ai_calls if c.tag[1] == sent[0]]
    assert len(alices) == 1
    assert users_lines(alices[0]) == [f"Alice A (alice): line {i}" for i in range(5)]
    assert not w.user(ALICE).inbox and list(w.user(ALICE).handled)[-5:] == sent


def test_lines_arriving_out_of_order_are_merged_in_the_order_sent() -> None:
    w = busy_world()
    for mid in (103, 101, 102):
        w.send(ALICE, f"@bob number {mid}", mid=mid)
    w.release_all()
    [speak] = w.speaks(ALICE)
    assert speak.answered == (101, 102, 103)
    assert users_lines(w.request()) == [f"Alice A (alice): number {m}" for m in (101, 102, 103)]


def test_a_turn_takes_at_most_turn_lines_and_the_rest_start_the_next() -> None:
    w = busy_world()
    sent = [w.send(ALICE, f"@bob {i}") for i in range(TURN_LINES + 2)]
    w.release_all()
    assert [s.answered for s in w.speaks(ALICE)] == [tuple(sent[:TURN_LINES]), tuple(sent[TURN_LINES:])]
    assert w.answered(ALICE) == sent  # nothing lost, nothing twice, in order


def test_a_turn_takes_at_most_turn_chars() -> None:
    w = busy_world()
    long = "x" * (TURN_CHARS // 2 - 10)
    sent = [w.send(ALICE, f"@bob {long}") for _ in range(3)]
    w.release_all()
    assert [s.answered for s in w.speaks(ALICE)] == [tuple(sent[:2]), (sent[2],)]


def test_lines_to_another_personality_or_channel_break_the_turn_and_keep_their_order() -> None:
    w = busy_world()
    w.personality("carl", owner=CAROL)
    one = w.send(ALICE, "@bob one")
    two = w.send(ALICE, "@bob two")
    other = w.send(ALICE, "@carl hi")
    elsewhere = w.send(ALICE, "@bob over here", ELSEWHERE)
    three = w.send(ALICE, "@bob three")
    w.release_all()
    assert [s.answered for s in w.speaks(ALICE)] == [(one, two), (other,), (elsewhere,), (three,)]


def test_after_a_slow_call_new_lines_join_and_the_superseded_answer_is_never_sent() -> None:
    w = World(hold_ai=True)
    w.personality("bob")
    first = w.send(ALICE, "@bob first")
    later = [w.send(ALICE, f"@bob then {i}") for i in range(2)]  # while the call is in flight
    w.script.extend([Said("an answer to the first line only"), Said("an answer to all three")])
    w.now += YIELD_AFTER_S
    w.release()
    assert w.speaks(ALICE) == [] and len(w.ai_calls) == 1  # the answer waits while the lines that came are read
    w.fire(("turn_ready", first))
    assert w.speaks(ALICE) == [] and len(w.ai_calls) == 2  # asked again, with every line
    assert users_lines(w.request()) == ["Alice A (alice): first"] + [f"Alice A (alice): then {i}" for i in range(2)]
    w.release_all()
    [speak] = w.speaks(ALICE)
    assert speak.text == "an answer to all three" and speak.answered == (first, *later)
    history = w.user(ALICE).histories[f"{SERVER.channel_id}:bob"]
    assert [t["role"] for t in history] == ["user", "user", "user", "assistant"]


def test_a_turn_is_asked_again_at_most_reasks_times() -> None:
    w = World(hold_ai=True)
    w.personality("bob")
    sent = [w.send(ALICE, "@bob 0")]
    for ask in range(REASKS + 1):
        sent.append(w.send(ALICE, f"@bob {ask + 1}"))  # a new line during every call
        w.now += 1
        w.release()
        if ask < REASKS:
            w.fire(("turn_ready", sent[0]))  # the last ask allowed speaks at once: no wait for more lines
    assert len(w.ai_calls) == REASKS + 2  # the first, its re-asks, then the last line's own turn
    w.release_all()
    assert [s.answered for s in w.speaks(ALICE)] == [tuple(sent[:-1]), (sent[-1],)]


def test_after_a_quick_call_lines_that_came_meanwhile_are_the_next_turn() -> None:
    w = World(hold_ai=True)
    w.personality("bob")
    first = w.send(ALICE, "@bob first")
    second = w.send(ALICE, "@bob second")
    w.release()  # at once: no time passed
    assert [s.answered for s in w.speaks(ALICE)] == [(first,)]
    w.release_all()
    assert [s.answered for s in w.speaks(ALICE)] == [(first,), (second,)]


def test_a_stale_turn_ready_changes_nothing() -> None:
    w = World()
    w.personality("bob")
    w.send(ALICE, "@bob hi")
    assert w.user(ALICE).handle(Wake(("turn_ready", 12345)), w.now) == []


def test_a_merged_line_handed_on_again_after_the_answer_says_the_same_answer_again() -> None:
    w = busy_world()
    sent = [w.send(ALICE, f"@bob {i}") for i in range(3)]
    w.release_all()
    [speak] = w.speaks(ALICE)
    calls = len(w.ai_calls)
    # A restart from what was saved, then the edge's sweep hands the middle line on again.
    w.put("user", ALICE, UserState.restore(str(ALICE), decode(encode(w.user(ALICE).snapshot()))))
    w.send(ALICE, "@bob 1", mid=sent[1])
    assert w.speaks(ALICE) == [speak, speak] and len(w.ai_calls) == calls  # the same Speak: the channel sends once


def test_a_restart_before_the_answer_merges_the_saved_lines_again_into_one_answer() -> None:
    w = busy_world()
    sent = [w.send(ALICE, f"@bob {i}") for i in range(3)]
    assert [h.incoming.message_id for h in w.user(ALICE).inbox] == sent  # saved as they came
    w.put("user", ALICE, UserState.restore(str(ALICE), decode(encode(w.user(ALICE).snapshot()))))
    w.handle("user", ALICE, Done(("open_work",), []))  # what a restarted actor does first
    w.settle()
    w.release_all()  # Carol's answer frees the slot; Alice's turn, asked again after the restart, gets it
    assert [s.answered for s in w.speaks(ALICE)] == [tuple(sent)] and len(w.ai_calls) == 2


def test_sending_a_merged_answer_completes_the_work_of_every_line() -> None:
    sender = WebhookSender(SERVER.channel_id, place=SERVER, hooks=[(11, "t")], hooks_known=True)
    speak = Speak(SERVER.channel_id, ALICE, Persona("bob", "Bob", None), "Hi all", 9, NOW, (7, 8, 9))
    sender.outbox.add(Chunk("9:0", ALICE, "bob", "Bob", None, speak.text, 9, answers=list(speak.answers)))
    [save, send] = sender.pump(NOW)
    effects = sender.result(send.tag, Ok(200, {"id": "99"}), NOW)
    assert [e for e in effects if isinstance(e, WorkDone)] == [WorkDone(7, 99), WorkDone(8, 99), WorkDone(9, 99)]


def test_a_call_slower_than_the_catalogues_patience_is_still_answered() -> None:
    """The catalogue answered at once, the model took 35 s: the catalogue's 30 s timer, read after the call,
    must not be taken for the catalogue's silence (it dropped the answer with "couldn't reach that personality")."""
    w = World(hold_ai=True)
    w.personality("bob")
    first = w.send(ALICE, "@bob take your time")
    w.now += 35.0
    w.release()
    w.fire(("persona_timeout", first))
    w.fire(("turn_ready", first))
    w.release_all()
    assert [s.answered for s in w.speaks(ALICE)] == [(first,)]
    assert not any("couldn't reach" in n.text for n in w.notices(ALICE))
