"""SlotsState (`actors/state/slots.py`): the line for the operator's AI slots, over the shared slot store.

The store is `SlotLeases` on a memory cell here; the state's calls to it are answered at
once, as its shell answers them. While a slot is free and nobody waits, a user takes one from the store
directly; the rest wait in this line, least served recently first, ties by arrival, one place per user. A
release hands the freed slot to the right waiter. The limit is adaptive below the ceiling and published.
"""

from __future__ import annotations

from typing import Any

from actors.effects import Call, Count, Done, Effect, Log, Reply, Tell, Timer, Wake
from actors.messages import GetSlots, Refused, SlotGranted, SlotRelease, SlotRequest, SlotsInfo
from actors.state import slots as slots_module
from actors.state.slots import HALF_LIFE_S, TICK_S, SlotsState
from config import Settings
from store.cells import MemoryCell
from store.slot_leases import SlotLeases

NOW = 1_700_000_000.0
A, B, C, D, E = 1, 2, 3, 4, 5


class Line:
    """A SlotsState and the slot store it calls, on a clock the test moves."""

    def __init__(self, capacity: int = 2, adaptive: bool = False, lease_s: float = 150.0) -> None:
        self.now = NOW
        self.state = SlotsState(capacity=capacity, lease_s=lease_s, adaptive=adaptive)
        self.store = SlotLeases(MemoryCell(), capacity, lease_s, clock=lambda: self.now)
        self.run(self.state.on_start(self.now))

    def run(self, effects: list[Effect]) -> list[Effect]:
        """Perform the state's calls on the store (each result back as Done); the other effects, in order."""
        out: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Call):
                assert effect.service == "lease"
                result = getattr(self.store, effect.method)(*effect.args)
                out += self.run(self.state.handle(Done(effect.tag, result), self.now))
            else:
                out.append(effect)
        return out

    def handle(self, msg: Any) -> list[Effect]:
        return self.run(self.state.handle(msg, self.now))

    def ask(self, user: int, trigger: int | None = None) -> list[tuple[int, int]]:
        return granted(self.handle(SlotRequest(user, trigger if trigger is not None else user * 100)))

    def release(self, user: int, trigger: int | None = None, held_s: float = 0.0, **how: Any) -> list[tuple[int, int]]:
        trigger = trigger if trigger is not None else user * 100
        self.store.release(user, trigger)  # the user's actor frees its slot in the store, then tells the line
        return granted(self.handle(SlotRelease(user, trigger, held_s=held_s, **how)))

    def holding(self) -> dict[int, int]:
        return {lease[0]: lease[1] for lease in self.store.view()[2]}

    def info(self) -> SlotsInfo:
        [reply] = self.handle(GetSlots())
        assert isinstance(reply, Reply)
        return reply.body


def granted(effects: list[Any]) -> list[tuple[int, int]]:
    """(user, trigger) of every grant in `effects`, in order."""
    return [(e.key, e.body.trigger_id) for e in effects if isinstance(e, Tell) and isinstance(e.body, SlotGranted)]


# ---- granting ------------------------------------------------------------------------------------


def test_a_grant_goes_to_that_users_actor_with_its_trigger_and_holds_a_slot_in_the_store() -> None:
    line = Line(2)
    assert line.handle(SlotRequest(A, 77)) == [Tell("user", A, SlotGranted(77))]
    assert line.holding() == {A: 77}


def test_capacity_n_grants_n_and_the_rest_wait() -> None:
    line = Line(2)
    assert [line.ask(u) for u in (A, B, C, D)] == [[(A, 100)], [(B, 200)], [], []]
    assert line.info() == SlotsInfo(2, 2, 2, 2)
    assert list(line.state.waiting) == [C, D]


def test_slots_taken_directly_from_the_store_count_against_the_limit() -> None:
    line = Line(2)
    assert line.store.take(A, 100) and line.store.take(B, 200)  # two users' fast path, no round trip
    assert line.ask(C) == []
    assert line.store.take(D, 400) is False  # full
    assert line.release(A) == [(C, 300)]
    assert line.info() == SlotsInfo(2, 2, 0, 2)


def test_nobody_takes_directly_while_anyone_waits() -> None:
    line = Line(1)
    line.store.take(A, 100)
    line.ask(B)
    assert line.store.view()[:2] == (1, 1)  # the limit and that someone waits, published
    line.store.release(A, 100)  # A's slot is free for a moment before the line hears of it
    assert line.store.take(C, 300) is False  # a newcomer cannot jump the line
    assert line.release(A) == [(B, 200)]
    assert line.store.view()[1] == 0  # nobody waits any more: the fast path is open again


def test_a_release_grants_the_next_in_line_in_arrival_order_when_usage_is_equal() -> None:
    line = Line(2)
    for u in (A, B, C, D, E):
        line.ask(u)
    assert line.release(B) == [(C, 300)]
    assert line.release(A) == [(D, 400)]
    assert line.release(C) == [(E, 500)]
    assert line.release(D) == []
    assert line.info() == SlotsInfo(2, 1, 0, 2)


def test_the_least_served_user_goes_first_not_the_first_to_arrive() -> None:
    line = Line(1)
    line.ask(A)
    line.release(A, held_s=20.0)  # A was just served for 20 s
    line.ask(E)  # E holds the slot now
    line.ask(A, 101)  # A arrives first ...
    line.ask(B)  # ... then B, who has used nothing
    line.ask(C)
    assert line.release(E, 500, held_s=1.0) == [(B, 200)]
    assert line.release(B, held_s=1.0) == [(C, 300)]
    assert line.release(C, held_s=1.0) == [(A, 101)]


def test_a_user_who_used_more_waits_behind_one_who_used_less() -> None:
    line = Line(1)
    for user, held in ((A, 30.0), (B, 3.0)):
        line.ask(user)
        line.release(user, held_s=held)
    line.ask(E)
    line.ask(A, 101)
    line.ask(B, 201)
    assert line.release(E, 500) == [(B, 201)]


def test_near_equals_go_by_arrival_so_nobody_among_them_is_overtaken_for_long() -> None:
    line = Line(1)
    for user, held in ((A, 9.0), (B, 8.0), (C, 60.0)):
        line.ask(user)
        line.release(user, held_s=held)
    line.ask(E)
    line.ask(C, 301)  # used far more, and first to arrive
    line.ask(A, 101)  # used a little more than B, and arrived before B
    line.ask(B, 201)
    assert line.release(E, 500) == [(A, 101)]
    assert line.release(A, 101) == [(B, 201)]
    assert line.release(B, 201) == [(C, 301)]


def test_usage_fades_so_a_heavy_user_of_long_ago_is_equal_again() -> None:
    line = Line(1)
    line.ask(A)
    line.release(A, held_s=30.0)
    assert line.state.served(A, line.now + HALF_LIFE_S) == 15.0
    line.now += 20 * HALF_LIFE_S  # ten minutes later: A's usage is nothing
    line.ask(E)
    line.ask(A, 101)
    line.ask(B)
    assert line.release(E, 500) == [(A, 101)]  # equal usage again: arrival order
    line.handle(Wake("tick"))
    assert A not in line.state.usage  # and forgotten


def test_the_line_is_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(slots_module, "LINE_CAP", 2)
    line = Line(1)
    line.ask(A)
    line.ask(B)
    line.ask(C)
    assert line.handle(SlotRequest(D, 400)) == [Count("slot_line_full")]  # D's own retry timer asks again
    assert list(line.state.waiting) == [B, C]
    assert line.ask(B) == []  # a waiter asking again keeps its place even when the line is full


def test_a_waiter_asking_again_keeps_its_place() -> None:
    line = Line(1)
    for u in (A, B, C):
        line.ask(u)
    assert line.ask(B) == []
    assert line.ask(B) == []
    assert list(line.state.waiting) == [B, C]
    assert line.release(A) == [(B, 200)]
    assert line.release(B) == [(C, 300)]


def test_a_user_has_one_place_in_line_whatever_they_ask() -> None:
    line = Line(1)
    line.ask(A)
    line.ask(B, 201)
    line.ask(B, 202)
    assert line.info().waiting == 1
    assert line.release(A) == [(B, 202)]


def test_a_holder_asking_again_is_granted_the_slot_it_holds_never_two() -> None:
    line = Line(2)
    line.ask(A)
    line.ask(B)
    line.ask(C)
    assert line.ask(A) == [(A, 100)]  # e.g. a restarted actor asking for the same message
    assert line.ask(A, 101) == [(A, 101)]
    assert line.info() == SlotsInfo(2, 2, 1, 2)
    assert line.holding() == {A: 101, B: 200} and list(line.state.waiting) == [C]
    assert line.release(A, 101) == [(C, 300)]


def test_releasing_the_wrong_trigger_changes_nothing() -> None:
    line = Line(1)
    line.ask(A)
    line.ask(B)
    assert line.release(A, 999) == []
    assert line.release(B, 999) == []
    assert line.release(C) == []
    assert line.holding() == {A: 100} and list(line.state.waiting) == [B]


def test_a_waiter_that_gives_up_leaves_the_line() -> None:
    line = Line(1)
    for u in (A, B, C):
        line.ask(u)
    assert line.release(B) == []
    assert list(line.state.waiting) == [C]
    assert line.release(A) == [(C, 300)]


# ---- vanished holders ----------------------------------------------------------------------------


def test_on_start_publishes_the_limit_and_arms_the_tick() -> None:
    state = SlotsState(capacity=3)
    assert state.on_start(NOW) == [Call("lease", "publish", (3, 0), ("published",)), Timer(TICK_S, "tick")]


def test_a_vanished_holder_is_freed_when_its_lease_runs_out_and_the_next_is_granted() -> None:
    line = Line(1, lease_s=150)
    line.ask(A)
    line.ask(B)
    line.ask(C)
    line.now += 151
    effects = line.handle(Wake("tick"))
    assert granted(effects) == [(B, 200)]
    [log] = [e for e in effects if isinstance(e, Log)]
    assert log.event == "slot_expired" and f"user {A}" in log.detail
    assert effects[-1] == Timer(TICK_S, "tick")
    assert line.holding() == {B: 200} and list(line.state.waiting) == [C]
    line.now += 150
    assert granted(line.handle(Wake("tick"))) == []  # B's lease starts at its grant
    line.now += 1
    assert granted(line.handle(Wake("tick"))) == [(C, 300)]


def test_a_holder_whose_process_died_frees_its_slot_at_the_next_tick() -> None:
    line = Line(1)
    dead: set[int] = set()
    line.store.alive = lambda pid: pid not in dead
    line.store.take(A, 100)  # taken directly, by this process's pid
    line.ask(B)
    dead.add(line.store.view()[2][0][2])
    assert granted(line.handle(Wake("tick"))) == [(B, 200)]


def test_get_slots_reports_the_limit_in_use_waiting_and_ceiling() -> None:
    line = Line(3)
    assert line.info() == SlotsInfo(3, 0, 0, 3)
    for u in (A, B, C, D, E):
        line.ask(u)
    assert line.info() == SlotsInfo(3, 3, 2, 3)
    assert line.state.depth() == 2


def test_an_unknown_message_is_refused() -> None:
    [reply] = SlotsState().handle("hello", NOW)
    assert isinstance(reply, Reply) and isinstance(reply.body, Refused)


def test_settings_give_the_ceiling_a_lease_longer_than_an_ai_call_and_the_adaptive_switch() -> None:
    slots = SlotsState.restore("slots", {"anything": 1}, Settings(ai_slots=3, ai_timeout_s=60.0, ai_slots_adaptive=0))
    assert (slots.capacity, slots.lease_s, slots.adaptive) == (3, 90.0, False)
    assert slots.snapshot() == {}
    default = SlotsState.restore("slots", None)
    assert (default.capacity, default.lease_s, default.adaptive) == (8, 150.0, True)


# ---- the adaptive limit, fed by releases --------------------------------------------------------


def test_429s_lower_the_limit_publish_it_and_the_line_follows_it() -> None:
    line = Line(4, adaptive=True)
    for u in (A, B, C, D):
        line.ask(u)
    effects = line.run(line.state.handle(SlotRelease(A, 100, "rate_limited", 0.0, "m", 1.0), line.now))
    line.store.release(A, 100)
    assert line.state.limit == 3 and line.store.view()[0] == 3
    assert any(isinstance(e, Log) and e.event == "slot_limit" for e in effects)
    assert line.ask(E) == []  # three in use is the limit now (it was four): E waits
    assert line.release(B) == [(E, 500)]


def test_with_a_fixed_limit_releases_teach_nothing() -> None:
    line = Line(4, adaptive=False)
    line.ask(A)
    line.release(A, outcome="rate_limited")
    assert line.state.limit == 4
