"""A user's messages are answered in the order they were sent, whatever order they arrive in (a redelivery, a
restart that lost one); refusals are told once a window, never once per message; commands have a limit too."""

from __future__ import annotations

from actors.effects import Call, Done, Tell, Timer, Wake, WorkAck, WorkDone
from actors.messages import Heard, Incoming, Notify
from actors.state.limits import NOTICE_WINDOW_S, UserLimits
from actors.state.proxies import incoming_to
from actors.state.recovery import EXPECT_WAIT_S
from actors.state.user import INBOX_CAP, UserState
from store.sqlite import decode, encode
from tests.unit.test_user_flow import ALICE, DM, NOW, PEOPLE, SERVER, World


def held_world() -> World:
    w = World(hold_ai=True)
    w.personality("bob")
    return w


def test_messages_that_arrive_out_of_order_are_answered_in_the_order_sent() -> None:
    w = held_world()
    first = w.send(ALICE, "@bob one", mid=100)  # being answered
    w.send(ALICE, "@bob three", mid=300)
    w.send(ALICE, "@bob two", mid=200)  # handed on again after a hiccup: it arrives after a newer one
    w.release_all()
    assert w.answered() == [first, 200, 300]


def test_a_queued_message_says_it_is_in_hand_and_says_so_again_when_handed_on_again() -> None:
    w = held_world()
    w.send(ALICE, "@bob one", mid=100)
    since = len(w.trace)
    w.send(ALICE, "@bob two", mid=200)
    assert WorkAck(200) in w.effects_of(f"user:{ALICE}", since)
    since = len(w.trace)
    w.send(ALICE, "@bob two", mid=200)  # the resend sweep: still here, so only the acknowledgement again
    assert w.effects_of(f"user:{ALICE}", since) == [WorkAck(200)]


def restart(w: World) -> UserState:
    """Alice's actor after a kill -9: what was saved, nothing else."""
    state = UserState.restore(str(ALICE), decode(encode(w.user(ALICE).snapshot())))
    state.options, state.limits = w.options, w.user(ALICE).limits
    return state


def test_after_a_restart_an_earlier_message_lost_with_the_process_is_answered_first() -> None:
    w = held_world()
    lost = Incoming(400, SERVER, PEOPLE[ALICE], "@bob the first", created_at=NOW, mentioned=("bob",),
                    mentioned_alias="bob")  # handed on, then the process died before it was saved
    state = restart(w)
    [look] = state.on_start(NOW)
    assert isinstance(look, Call) and look.method == "open_for_user"
    effects = state.handle(Done(look.tag, [incoming_to(lost)]), NOW)
    assert Tell("channel", SERVER.channel_id, lost) in effects  # asked for again at once
    newer = Incoming(401, SERVER, PEOPLE[ALICE], "@bob the second", created_at=NOW, mentioned=("bob",),
                     mentioned_alias="bob")
    effects = state.handle(Heard(newer, None, None), NOW)  # the newer one arrives first
    assert state.waiting is None and not any(isinstance(e, Tell) and e.kind == "registry" for e in effects)
    state.handle(Heard(lost, None, None), NOW)
    assert state.waiting is not None and state.waiting[0] == 400  # the first is answered first
    assert [h.incoming.message_id for h in state.inbox] == [400, 401]


def test_after_a_restart_the_wait_for_a_lost_message_is_bounded() -> None:
    w = held_world()
    lost = Incoming(400, SERVER, PEOPLE[ALICE], "@bob the first", created_at=NOW)
    state = restart(w)
    [look] = state.on_start(NOW)
    effects = state.handle(Done(look.tag, [incoming_to(lost)]), NOW)
    [timer] = [e for e in effects if isinstance(e, Timer)]
    newer = Incoming(401, SERVER, PEOPLE[ALICE], "@bob the second", created_at=NOW, mentioned=("bob",),
                     mentioned_alias="bob")
    state.handle(Heard(newer, None, None), NOW)
    assert state.waiting is None
    state.handle(Wake(timer.payload), NOW + EXPECT_WAIT_S)  # it never came: go on
    assert state.waiting is not None and state.waiting[0] == 401


def test_a_flooding_user_with_a_full_inbox_gets_one_notice_a_window_not_one_per_message() -> None:
    w = held_world()
    for i in range(INBOX_CAP):
        w.send(ALICE, f"@bob message {i}")
    extra = [w.send(ALICE, f"@bob more {i}") for i in range(30)]
    told = [n for n in w.notices(ALICE) if "many messages waiting" in n.text]
    assert len(told) == 1 and told[0].trigger_id == extra[0]
    closed = [e.trigger_id for e in w.effects_of(f"user:{ALICE}") if isinstance(e, WorkDone)]
    assert set(extra[1:]) <= set(closed)  # refused: closed, not handed on again and again
    w.now += NOTICE_WINDOW_S
    w.send(ALICE, "@bob and again")
    assert len([n for n in w.notices(ALICE) if "many messages waiting" in n.text]) == 2


def test_commands_have_their_own_limit_with_one_notice_a_window() -> None:
    w = World(limits=UserLimits(rate_per_min=60_000, burst=10_000, command_rate_per_min=6, command_burst=3))
    for _ in range(10):
        w.send(ALICE, "!tz ping", DM)
    pongs = [n for n in w.notices(ALICE) if n.text.startswith("Pong")]
    refusals = [n for n in w.notices(ALICE) if "faster than I can handle" in n.text]
    assert len(pongs) == 3 and len(refusals) == 1
    w.now += 10.0  # one command's worth of time
    w.send(ALICE, "!tz ping", DM)
    assert len([n for n in w.notices(ALICE) if n.text.startswith("Pong")]) == 4


def test_a_key_posted_in_a_server_channel_is_deleted_even_past_the_command_limit() -> None:
    w = World(limits=UserLimits(rate_per_min=60_000, burst=10_000, command_rate_per_min=1, command_burst=1))
    w.send(ALICE, "!tz ping", SERVER)
    w.send(ALICE, "!tz auth kee sk-thisisakey12345", SERVER)  # malformed, may hold a key: always taken out
    assert any(type(b).__name__ == "DeleteMessage" for b in w.channels)
    assert not any(isinstance(b, Notify) and "faster" in b.text for b in w.channels)
