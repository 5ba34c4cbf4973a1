"""Fairness on the operator's key, through UserStates and one SlotsState (the `World` of test_user_flow).

A user's actor answers one turn at a time (lines that came while the last was answered merge into the next,
at most TURN_LINES), so a flooder's messages wait in their own inbox and hold at most one slot while other
users wait; slots go to users in arrival order; a user who waits longer than
SLOT_TRIES * SLOT_RETRY_S gets a "busy" answer and leaves the line.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.effects import Done, Timer, Wake
from actors.messages import Author, SlotGranted, SlotRelease, SlotRequest
from actors.state.answering import SLOT_RETRY_S, SLOT_TRIES
from actors.state.turns import TURN_LINES
from tests.unit.test_user_flow import ALICE, CAROL, CLEAR_KEY, DAVE, DM, OWNER, REFERENCE, Said, World

ZOE = 1010
ZOE_AUTHOR = Author(ZOE, "zoe", "Zoe")


def make(capacity: int) -> World:
    w = World(hold_ai=True, slots=capacity)
    w.personality("bob")
    return w


def send(w: World, uid: int, text: str) -> int:
    return w.send(uid, text, author=ZOE_AUTHOR if uid == ZOE else None)


def in_flight(w: World) -> list[int]:
    """Whose AI calls are pending right now, oldest first."""
    return [uid for uid, _ in w.held]


def holding(w: World) -> dict[int, int]:
    """Who holds a slot in the shared slot store, and for which message."""
    return {lease[0]: lease[1] for lease in w.leases.view()[2]}


def check_fair(w: World, capacity: int) -> None:
    """Never more AI calls than slots, never two for one user, and every call holds its user's slot."""
    users = in_flight(w)
    assert len(users) <= capacity
    assert len(set(users)) == len(users)
    for uid, call in w.held:
        assert holding(w).get(uid) == call.tag[1]


def slot_requests(w: World, uid: int, since: int = 0) -> list[SlotRequest]:
    return [
        e.body
        for e in w.effects_of(f"user:{uid}", since)
        if getattr(e, "kind", None) == "slots" and isinstance(e.body, SlotRequest)
    ]


def retry_timers(w: World, uid: int, since: int = 0) -> list[Timer]:
    return [
        e
        for e in w.effects_of(f"user:{uid}", since)
        if isinstance(e, Timer) and isinstance(e.payload, tuple) and e.payload[0] == "slot_retry"
    ]


def answer_after_a_long_call(w: World) -> None:
    """The oldest call answers after time has passed: the answer waits the short settle timer (lines that came
    during the call may join its turn), then it is spoken and the slot given back."""
    uid, call = w.held[0]
    w.release()
    wake(w, uid, ("turn_ready", call.tag[1]))


def wake(w: World, uid: int, payload: Any) -> None:
    """A user's timer fires."""
    w.handle("user", uid, Wake(payload))
    w.settle()


# =====================================================================================================
# a flooder holds one slot at most
# =====================================================================================================


@pytest.mark.parametrize("capacity", [1, 2])
def test_a_flooders_messages_wait_in_their_own_inbox_holding_one_slot_at_most(capacity: int) -> None:
    w = make(capacity)
    flood = [send(w, ALICE, f"@bob flood {i}") for i in range(10)]
    others = [send(w, uid, "@bob hello") for uid in (CAROL, DAVE, ZOE)]
    assert len(w.user(ALICE).inbox) == 10  # the flood waits at Alice's, not in the shared line
    assert slot_requests(w, ALICE) == []  # a slot was free and nobody waited: taken with no round trip
    assert ALICE in holding(w) and ALICE not in w.slots.waiting
    check_fair(w, capacity)
    served: list[int] = []
    while w.held:
        check_fair(w, capacity)
        served.append(w.held[0][0])
        w.release()
    # Alice's next turn asks for a slot only after her first is answered: behind everyone waiting then. The nine
    # lines that waited meanwhile are two turns: TURN_LINES of them, then the last.
    assert TURN_LINES == 8
    assert served == [ALICE, CAROL, DAVE, ZOE, ALICE, ALICE]
    assert w.answered(ALICE) == flood and sorted(w.answered()) == sorted(flood + others)


def test_with_one_slot_users_are_served_in_arrival_order_and_a_flooder_takes_turns() -> None:
    w = make(1)
    send(w, ALICE, "@bob one")
    send(w, ALICE, "@bob two")
    send(w, ALICE, "@bob three")
    send(w, CAROL, "@bob hi")
    send(w, DAVE, "@bob hi")
    send(w, ZOE, "@bob hi")
    served = []
    while w.held:
        check_fair(w, 1)
        served.append(w.held[0][0])
        w.release()
    # Alice's second and third messages, one turn, ask for the slot only after her first is answered: behind
    # everyone waiting then.
    assert served == [ALICE, CAROL, DAVE, ZOE, ALICE]


def test_with_two_slots_two_users_are_served_at_once_in_arrival_order() -> None:
    w = make(2)
    for uid in (ALICE, CAROL, DAVE, ZOE):
        send(w, uid, "@bob hi")
    assert in_flight(w) == [ALICE, CAROL]
    assert list(w.slots.waiting) == [DAVE, ZOE]
    w.release()  # Alice's answer
    assert in_flight(w) == [CAROL, DAVE]
    w.release()
    assert in_flight(w) == [DAVE, ZOE]
    w.release_all()
    assert not holding(w) and not w.slots.waiting


def test_every_answer_gives_its_slot_back_even_a_failed_one() -> None:
    w = make(1)
    w.script.extend([RuntimeError("boom"), Said("ok")])
    send(w, ALICE, "@bob one")
    send(w, CAROL, "@bob hi")
    w.release()
    assert "Something went wrong" in w.speaks(ALICE)[-1].text
    assert in_flight(w) == [CAROL]
    w.release()
    assert not holding(w)


def test_a_slow_answer_for_one_user_leaves_the_other_slots_to_everyone_else() -> None:
    w = make(2)
    send(w, ALICE, "@bob slow one")
    for _ in range(3):
        send(w, CAROL, "@bob quick")
        [(uid, call)] = [h for h in w.held if h[0] == CAROL]
        w.held.remove((uid, call))
        w.handle("user", CAROL, Done(call.tag, Said("ok")))
        w.settle()
    assert len(w.speaks(CAROL)) == 3 and in_flight(w) == [ALICE]


# =====================================================================================================
# waiting too long
# =====================================================================================================


def test_a_user_who_waits_too_long_gets_a_busy_answer_and_leaves_the_line() -> None:
    w = make(1)
    send(w, ALICE, "@bob a long one")
    since = len(w.trace)
    mid = send(w, CAROL, "@bob hi")
    waited = 0.0
    for attempt in range(1, SLOT_TRIES + 1):
        [timer] = retry_timers(w, CAROL, since)[-1:]
        assert timer.payload == ("slot_retry", mid, attempt)
        assert w.speaks(CAROL) == []  # still waiting, nothing said
        assert list(w.slots.waiting) == [CAROL]
        w.now += timer.delay_s
        waited += timer.delay_s
        wake(w, CAROL, timer.payload)
    assert waited == SLOT_TRIES * SLOT_RETRY_S
    [speak] = w.speaks(CAROL)
    assert speak.trigger_id == mid and "too many requests" in speak.text and REFERENCE.search(speak.text)
    assert SlotRelease(CAROL, mid) in [getattr(e, "body", None) for e in w.effects_of(f"user:{CAROL}", since)]
    assert not w.slots.waiting and CAROL not in holding(w)
    assert len(slot_requests(w, CAROL, since)) == SLOT_TRIES  # the first ask and each retry but the last
    # Alice's answer comes: nobody is granted a slot for Carol's abandoned message.
    answer_after_a_long_call(w)
    assert not holding(w) and in_flight(w) == []
    assert [c.tag[1] for c in w.ai_calls].count(mid) == 0
    # Carol's next message is served at once.
    send(w, CAROL, "@bob again")
    assert in_flight(w) == [CAROL]


def test_a_waiter_granted_in_time_is_served_and_its_old_retry_timers_do_nothing() -> None:
    w = make(1)
    send(w, ALICE, "@bob one")
    since = len(w.trace)
    mid = send(w, CAROL, "@bob hi")
    for attempt in range(1, 4):
        w.now += SLOT_RETRY_S
        wake(w, CAROL, ("slot_retry", mid, attempt))
    answer_after_a_long_call(w)  # Alice is answered: Carol's turn
    assert in_flight(w) == [CAROL]
    before = len(w.trace)
    wake(w, CAROL, ("slot_retry", mid, 4))  # a timer still pending
    assert w.effects_of(f"user:{CAROL}", before) == []
    w.release()
    assert w.answered(CAROL) == [mid]
    assert not holding(w) and not w.slots.waiting
    assert len(slot_requests(w, CAROL, since)) == 4


def test_a_grant_for_a_message_already_given_up_is_handed_back() -> None:
    w = make(1)
    send(w, ALICE, "@bob one")
    mid = send(w, CAROL, "@bob hi")
    for attempt in range(1, SLOT_TRIES + 1):
        w.now += SLOT_RETRY_S
        wake(w, CAROL, ("slot_retry", mid, attempt))
    since = len(w.trace)
    w.handle("user", CAROL, SlotGranted(mid))  # a late grant
    w.settle()
    assert SlotRelease(CAROL, mid) in [getattr(e, "body", None) for e in w.effects_of(f"user:{CAROL}", since)]
    assert len(w.ai_calls) == 1


def test_a_vanished_holders_slot_comes_back_on_the_tick() -> None:
    w = make(1)
    send(w, ALICE, "@bob one")
    send(w, CAROL, "@bob hi")
    w.held.clear()  # Alice's actor was killed mid-call: no answer, no release ever comes
    w.now += w.slots.lease_s + 1
    w.handle("slots", "slots", Wake("tick"))
    w.settle()
    assert in_flight(w) == [CAROL]


def test_the_operator_slot_is_not_held_by_users_with_their_own_key() -> None:
    w = make(1)
    w.user(ALICE).sealed_key = "sealed-token"
    send(w, ALICE, "@bob mine")
    send(w, CAROL, "@bob hi")
    assert in_flight(w) == [ALICE, CAROL]
    assert set(holding(w)) == {CAROL}


# =====================================================================================================
# bugs
# =====================================================================================================


def test_setting_a_key_while_an_operator_answer_is_in_flight_still_gives_the_slot_back() -> None:
    w = make(1)
    send(w, ALICE, "@bob one")
    carol = send(w, CAROL, "@bob hi")
    w.send(ALICE, f"!tz auth key {CLEAR_KEY}", DM)  # commands are answered at once, even mid-answer
    assert w.user(ALICE).sealed_key == "sealed-token"
    w.release()  # Alice's operator-key answer
    assert ALICE not in holding(w)
    assert in_flight(w) == [CAROL] and w.ai_calls[-1].tag[1] == carol


def test_a_retry_crossing_its_grant_does_not_give_away_a_slot_in_use() -> None:
    w = make(1)
    send(w, ALICE, "@bob one")
    carol = send(w, CAROL, "@bob hi")
    send(w, DAVE, "@bob hi")
    # Alice's answer comes; Slots grants Carol; Carol's retry timer fires before the grant reaches her.
    _, call = w.held.popleft()
    w.handle("user", ALICE, Done(call.tag, Said("ok")))
    while not any(kind == "user" and isinstance(body, SlotGranted) for kind, _, body in w.mailbox):
        w.step()
    w.now += SLOT_RETRY_S
    w.handle("user", CAROL, Wake(("slot_retry", carol, 1)))
    w.settle()
    assert in_flight(w) == [CAROL]
    check_fair(w, 1)


def test_the_bot_owner_gets_no_extra_slot() -> None:
    w = make(1)
    send(w, OWNER, "@bob one")
    send(w, OWNER, "@bob two")
    send(w, CAROL, "@bob hi")
    assert in_flight(w) == [OWNER] and list(w.slots.waiting) == [CAROL]
    w.release()
    assert in_flight(w) == [CAROL]
