"""SlotsState (`actors/state/slots.py`): the operator's AI capacity, handed out FIFO, one place per user.

Capacity N grants N requests at once; the rest wait in arrival order. A user has one place: asking again keeps
it (or, for a holder, re-grants the slot it holds, never a second one). A release grants the next in line; a
release naming the wrong message changes nothing. A holder that vanished is freed when its lease runs out, on
the tick, and the next in line is granted. GetSlots reports what is in use and how many wait.
"""

from __future__ import annotations

from typing import Any

from actors.effects import Log, Reply, Tell, Timer, Wake
from actors.messages import GetSlots, Refused, SlotGranted, SlotRelease, SlotRequest, SlotsInfo
from actors.state.slots import TICK_S, SlotsState
from config import Settings

NOW = 1_700_000_000.0
A, B, C, D, E = 1, 2, 3, 4, 5


def granted(effects: list[Any]) -> list[tuple[int, int]]:
    """(user, trigger) of every grant in `effects`, in order."""
    return [(e.key, e.body.trigger_id) for e in effects if isinstance(e, Tell) and isinstance(e.body, SlotGranted)]


def ask(slots: SlotsState, user: int, trigger: int | None = None, now: float = NOW) -> list[tuple[int, int]]:
    return granted(slots.handle(SlotRequest(user, trigger if trigger is not None else user * 100), now))


def release(slots: SlotsState, user: int, trigger: int | None = None, now: float = NOW) -> list[tuple[int, int]]:
    return granted(slots.handle(SlotRelease(user, trigger if trigger is not None else user * 100), now))


def info(slots: SlotsState) -> SlotsInfo:
    [reply] = slots.handle(GetSlots(), NOW)
    assert isinstance(reply, Reply)
    return reply.body


def test_a_grant_goes_to_that_users_actor_with_its_trigger() -> None:
    slots = SlotsState(capacity=2)
    assert slots.handle(SlotRequest(A, 77), NOW) == [Tell("user", A, SlotGranted(77))]


def test_capacity_n_grants_n_and_the_rest_wait() -> None:
    slots = SlotsState(capacity=2)
    assert [ask(slots, u) for u in (A, B, C, D)] == [[(A, 100)], [(B, 200)], [], []]
    assert info(slots) == SlotsInfo(2, 2, 2)
    assert list(slots.waiting) == [C, D]


def test_a_release_grants_the_next_in_line_in_arrival_order() -> None:
    slots = SlotsState(capacity=2)
    for u in (A, B, C, D, E):
        ask(slots, u)
    assert release(slots, B) == [(C, 300)]
    assert release(slots, A) == [(D, 400)]
    assert release(slots, C) == [(E, 500)]
    assert release(slots, D) == []
    assert info(slots) == SlotsInfo(2, 1, 0)


def test_a_newcomer_does_not_jump_the_line_when_a_slot_is_free() -> None:
    slots = SlotsState(capacity=1)
    ask(slots, A)
    ask(slots, B)
    slots.holders.clear()  # a slot frees without a grant having happened yet (e.g. a lease just expired)
    assert ask(slots, C) == [(B, 200)]  # the one who waited first gets it
    assert list(slots.waiting) == [C]


def test_a_waiter_asking_again_keeps_its_place() -> None:
    slots = SlotsState(capacity=1)
    for u in (A, B, C):
        ask(slots, u)
    assert ask(slots, B) == []  # a retry
    assert ask(slots, B) == []
    assert list(slots.waiting) == [B, C]
    assert release(slots, A) == [(B, 200)]
    assert release(slots, B) == [(C, 300)]


def test_a_user_has_one_place_in_line_whatever_they_ask() -> None:
    slots = SlotsState(capacity=1)
    ask(slots, A)
    ask(slots, B, 201)
    ask(slots, B, 202)  # a newer message from the same user: still one place, the newer trigger
    assert info(slots).waiting == 1
    assert release(slots, A) == [(B, 202)]


def test_a_holder_asking_again_is_granted_the_slot_it_holds_never_two() -> None:
    slots = SlotsState(capacity=2)
    ask(slots, A)
    ask(slots, B)
    ask(slots, C)
    assert ask(slots, A) == [(A, 100)]  # e.g. a restarted actor asking for the same message
    assert ask(slots, A, 101) == [(A, 101)]
    assert info(slots) == SlotsInfo(2, 2, 1)
    assert set(slots.holders) == {A, B} and list(slots.waiting) == [C]
    assert release(slots, A, 101) == [(C, 300)]


def test_a_holder_asking_again_when_there_is_room_still_holds_one() -> None:
    slots = SlotsState(capacity=5)
    for _ in range(3):
        assert ask(slots, A) == [(A, 100)]
    assert info(slots) == SlotsInfo(5, 1, 0)


def test_releasing_the_wrong_trigger_changes_nothing() -> None:
    slots = SlotsState(capacity=1)
    ask(slots, A)
    ask(slots, B)
    holders, waiting = dict(slots.holders), list(slots.waiting)
    assert release(slots, A, 999) == []  # a stale release of an earlier message
    assert release(slots, B, 999) == []
    assert release(slots, C) == []  # somebody with nothing at all
    assert slots.holders == holders and list(slots.waiting) == waiting


def test_a_waiter_that_gives_up_leaves_the_line() -> None:
    slots = SlotsState(capacity=1)
    for u in (A, B, C):
        ask(slots, u)
    assert release(slots, B) == []
    assert list(slots.waiting) == [C]
    assert release(slots, A) == [(C, 300)]


def test_a_release_from_a_holder_with_the_old_trigger_does_not_free_its_new_request() -> None:
    slots = SlotsState(capacity=1)
    ask(slots, A, 101)
    ask(slots, B)
    ask(slots, A, 102)  # the holder's own retry for a newer message
    assert release(slots, A, 101) == []
    assert A in slots.holders and list(slots.waiting) == [B]


def test_on_start_arms_the_tick() -> None:
    assert SlotsState().on_start(NOW) == [Timer(TICK_S, "tick")]


def test_a_tick_with_nothing_expired_only_rearms() -> None:
    slots = SlotsState(capacity=1, lease_s=150)
    ask(slots, A)
    ask(slots, B)
    assert slots.handle(Wake("tick"), NOW + 150) == [Timer(TICK_S, "tick")]
    assert A in slots.holders


def test_a_vanished_holder_is_freed_when_its_lease_runs_out_and_the_next_is_granted() -> None:
    slots = SlotsState(capacity=1, lease_s=150)
    ask(slots, A)
    ask(slots, B)
    ask(slots, C)
    effects = slots.handle(Wake("tick"), NOW + 151)
    assert granted(effects) == [(B, 200)]
    [log] = [e for e in effects if isinstance(e, Log)]
    assert log.level == "warning" and log.event == "slot_expired" and f"user {A}" in log.detail
    assert effects[-1] == Timer(TICK_S, "tick")
    assert set(slots.holders) == {B} and list(slots.waiting) == [C]
    # B's lease starts at its grant, not at its request.
    assert granted(slots.handle(Wake("tick"), NOW + 151 + 150)) == []
    assert granted(slots.handle(Wake("tick"), NOW + 151 + 151)) == [(C, 300)]


def test_only_the_expired_leases_are_freed() -> None:
    slots = SlotsState(capacity=3, lease_s=150)
    ask(slots, A, now=NOW)
    ask(slots, B, now=NOW + 100)
    ask(slots, C, now=NOW + 100)
    ask(slots, D, now=NOW + 100)
    ask(slots, E, now=NOW + 100)
    effects = slots.handle(Wake("tick"), NOW + 160)
    assert granted(effects) == [(D, 400)]
    assert set(slots.holders) == {B, C, D}


def test_a_late_release_of_an_expired_holder_frees_nothing_else() -> None:
    slots = SlotsState(capacity=1, lease_s=150)
    ask(slots, A)
    ask(slots, B)
    slots.handle(Wake("tick"), NOW + 151)
    assert release(slots, A, now=NOW + 160) == []
    assert set(slots.holders) == {B}


def test_get_slots_reports_capacity_in_use_and_waiting() -> None:
    slots = SlotsState(capacity=3)
    assert info(slots) == SlotsInfo(3, 0, 0)
    for u in (A, B, C, D, E):
        ask(slots, u)
    assert info(slots) == SlotsInfo(3, 3, 2)
    assert slots.depth() == 2
    release(slots, A)
    assert info(slots) == SlotsInfo(3, 3, 1)


def test_an_unknown_message_is_refused() -> None:
    [reply] = SlotsState().handle("hello", NOW)
    assert isinstance(reply, Reply) and isinstance(reply.body, Refused)


def test_settings_give_the_capacity_and_a_lease_longer_than_an_ai_call() -> None:
    slots = SlotsState.restore("slots", {"anything": 1}, Settings(ai_slots=3, ai_timeout_s=60.0))
    assert (slots.capacity, slots.lease_s) == (3, 90.0)
    assert slots.snapshot() == {}  # nothing persisted: waiting actors ask again
    assert (SlotsState.restore("slots", None).capacity, SlotsState.restore("slots", None).lease_s) == (8, 150.0)
