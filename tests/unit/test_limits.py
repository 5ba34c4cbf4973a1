"""A user's own limits (`actors/state/limits.py`) and what a user sees of them through their UserState.

The bucket counts turns (a user's lines merged into one answer: see test_turns.py), not Discord messages. Its
defaults (20 turns a minute, 6 at once) let a fast human through; `test_the_defaults_*` check that promise. The
mechanism is tested at a tight setting that keeps its arithmetic easy to read (TIGHT: 6 turns a minute, 3 at
once): the fourth is refused with one plain notice per window
(not one per message) that says how long to wait; refused messages are never answered and never reach the AI.
An optional daily quota refuses with its own notice until the next UTC day. The limits are part of the user's
snapshot, so a restarted actor does not hand a flooder a fresh bucket, and each user has their own bucket.
"""

from __future__ import annotations

from typing import Any

from actors.effects import Call, Count, Done, Log, Tell
from actors.messages import Notify, SlotRelease, Speak, TypingFor
from actors.state.limits import DAY_S, UserLimits
from actors.state.user import UserState
from config import Settings
from store.sqlite import decode, encode
from tests.unit.test_user_flow import ALICE, CAROL, DAVE, DM, NOW, SERVER, World

MIDNIGHT = (int(NOW // DAY_S) + 1) * DAY_S  # the next UTC midnight after NOW (22:13:20 UTC)
TIGHT: dict[str, Any] = {"rate_per_min": 6.0, "burst": 3}  # not the defaults: a setting whose sums are easy


def tight(**kw: Any) -> UserLimits:
    return UserLimits(**{**TIGHT, **kw})


def takes(limits: UserLimits, now: float, n: int = 1) -> list[tuple[str | None, bool]]:
    return [limits.take(now) for _ in range(n)]


def roundtrip(limits: UserLimits, fresh: UserLimits | None = None) -> UserLimits:
    """What a restarted actor has: the snapshot through the store's encoding, into a new UserLimits."""
    restored = fresh or tight()
    restored.restore(decode(encode(limits.snapshot())))
    return restored


# =====================================================================================================
# the bucket, pure
# =====================================================================================================


def test_three_at_once_pass_and_the_fourth_is_refused_with_a_notice() -> None:
    limits = tight()
    assert takes(limits, NOW, 3) == [(None, False)] * 3
    assert limits.take(NOW) == ("rate", True)


def test_more_refusals_in_the_same_window_bring_no_more_notices() -> None:
    limits = tight()
    takes(limits, NOW, 3)
    assert limits.take(NOW) == ("rate", True)
    assert takes(limits, NOW, 5) == [("rate", False)] * 5
    assert limits.take(NOW + 5) == ("rate", False)
    assert limits.take(NOW + 9.9) == ("rate", False)


def test_after_ten_seconds_exactly_one_more_passes() -> None:
    limits = tight()
    takes(limits, NOW, 4)
    assert limits.take(NOW + 9.9)[0] == "rate"
    assert limits.take(NOW + 10.0) == (None, False)  # 6 a minute: one token every 10 s
    assert limits.take(NOW + 10.0) == ("rate", False)  # refused again, but told once a minute at most
    assert takes(limits, NOW + 60.0, 4) == [(None, False)] * 3 + [("rate", True)]  # a new window, a new notice


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    limits = tight()
    limits.take(NOW)
    later = NOW + 3_600  # an hour idle
    assert takes(limits, later, 3) == [(None, False)] * 3
    assert limits.take(later)[0] == "rate"


def test_a_steady_flood_gets_six_a_minute_and_one_notice_a_minute() -> None:
    limits = tight()
    passed, notices = 3, []
    takes(limits, NOW, 3)
    if limits.take(NOW)[1]:
        notices.append(0.0)
    for k in range(60):  # one message a second, for a minute, after the burst
        t = k + 0.5
        why, tell = limits.take(NOW + t)
        passed += why is None
        if tell:
            notices.append(t)
    assert passed == 3 + 5  # tokens at 10.5, 20.5, ..., 50.5 (the sixth would come at 60.5)
    assert notices == [0.0]  # the next may come at 60.0


def test_the_wait_is_the_time_to_the_next_token() -> None:
    limits = tight()
    takes(limits, NOW, 3)
    assert limits.take(NOW) == ("rate", True)
    assert limits.seconds_to_token() == 10.0
    limits = tight()
    takes(limits, NOW, 3)
    assert limits.take(NOW + 4) == ("rate", True)
    assert abs(limits.seconds_to_token() - 6.0) < 1e-9
    assert limits.take(NOW + 9.99) == ("rate", False)  # the window is that wait: still silent
    assert limits.take(NOW + 10.0) == (None, False)


def test_the_defaults_let_a_message_every_five_seconds_through() -> None:
    limits = UserLimits()
    assert all(why is None for why, _ in (limits.take(NOW + 5 * k) for k in range(360)))  # half an hour


def test_the_defaults_let_bursts_of_five_lines_through_even_unmerged() -> None:
    """Worst case: every line its own turn (a backend so fast nothing merges); a burst of 5, a pause of 15 s."""
    limits = UserLimits()
    t = NOW
    for _ in range(40):
        assert all(why is None for why, _ in (limits.take(t + 0.2 * i) for i in range(5)))
        t += 0.8 + 15
    assert limits.take(t) == (None, False)


def test_the_defaults_refuse_a_real_flood_with_one_notice_per_window() -> None:
    limits = UserLimits()
    results = [limits.take(NOW + k) for k in range(60)]  # a turn every second for a minute
    passed = sum(why is None for why, _ in results)
    assert passed == 6 + 19  # the burst, then one every 3 s
    first_refused = next(k for k, (why, _) in enumerate(results) if why)
    assert [k for k, (_, tell) in enumerate(results) if tell] == [first_refused]  # one notice in the minute


def test_other_rates_and_bursts() -> None:
    limits = UserLimits(rate_per_min=60, burst=1)
    assert limits.take(NOW) == (None, False)
    assert limits.take(NOW) == ("rate", True)
    assert limits.seconds_to_token() == 1.0
    assert limits.take(NOW + 1) == (None, False)


# =====================================================================================================
# the daily quota, pure
# =====================================================================================================


def test_a_daily_quota_refuses_with_its_own_notice_once() -> None:
    limits = UserLimits(rate_per_min=60_000, burst=10_000, daily_quota=2)
    assert takes(limits, NOW, 2) == [(None, False)] * 2
    assert limits.take(NOW) == ("quota", True)
    assert takes(limits, NOW + 60, 3) == [("quota", False)] * 3
    assert limits.take(MIDNIGHT - 0.001) == ("quota", False)  # one notice for the rest of the day


def test_the_quota_resets_at_the_next_utc_day() -> None:
    limits = UserLimits(rate_per_min=60_000, burst=10_000, daily_quota=2)
    takes(limits, NOW, 3)
    assert limits.take(MIDNIGHT) == (None, False)
    assert limits.take(MIDNIGHT + 1) == (None, False)
    assert limits.take(MIDNIGHT + 2) == ("quota", True)  # a new day, a new notice


def test_no_quota_means_no_quota() -> None:
    limits = UserLimits(rate_per_min=60_000, burst=10_000)
    assert all(why is None for why, _ in takes(limits, NOW, 500))


def test_refused_messages_do_not_use_up_the_quota() -> None:
    limits = tight(daily_quota=4)  # 6 a minute, 3 at once
    takes(limits, NOW, 10)  # 3 pass, 7 refused by the bucket
    assert limits.used_today == 3
    assert limits.take(NOW + 10) == (None, False)
    assert limits.take(NOW + 20) == ("quota", True)


# =====================================================================================================
# snapshot / restore, pure
# =====================================================================================================


def test_an_empty_snapshot_is_a_full_bucket() -> None:
    for data in (None, {}):
        limits = tight()
        limits.restore(data)
        assert takes(limits, NOW, 3) == [(None, False)] * 3


def test_a_restored_bucket_is_as_empty_as_it_was() -> None:
    limits = tight()
    takes(limits, NOW, 3)
    restored = roundtrip(limits)
    assert restored.take(NOW + 1) == ("rate", True)
    assert restored.take(NOW + 10) == (None, False)


def test_a_restored_bucket_keeps_its_notice_window() -> None:
    limits = tight()
    takes(limits, NOW, 4)
    restored = roundtrip(limits)
    assert restored.take(NOW + 2) == ("rate", False)  # already told; a restart tells nothing new


def test_a_restored_quota_keeps_what_was_used_today() -> None:
    limits = UserLimits(rate_per_min=60_000, burst=10_000, daily_quota=2)
    takes(limits, NOW, 2)
    restored = roundtrip(limits, UserLimits(rate_per_min=60_000, burst=10_000, daily_quota=2))
    assert restored.take(NOW + 1) == ("quota", True)
    assert restored.take(MIDNIGHT) == (None, False)


def test_the_key_breaker_is_part_of_the_snapshot() -> None:
    limits = tight()
    for _ in range(3):
        limits.key_breaker.record(False, NOW)
    restored = roundtrip(limits)
    assert restored.key_breaker.failures == 3 and restored.key_breaker.opened_at == NOW
    assert not restored.key_breaker.allow(NOW + 1)
    assert restored.key_breaker.allow(NOW + 60)


# =====================================================================================================
# what a user sees, through UserState
# =====================================================================================================


def limited(**kw: Any) -> World:
    w = World(limits=tight(**kw))
    w.personality("bob")
    return w


def spoken(w: World, uid: int = ALICE) -> list[int]:
    return w.answered(uid)


def test_three_messages_at_once_are_answered_and_the_fourth_gets_a_notice() -> None:
    w = limited()
    sent = [w.send(ALICE, f"@bob {i}") for i in range(4)]
    assert spoken(w) == sent[:3]
    [notice] = w.notices(ALICE)[-1:]
    assert notice.trigger_id == sent[3] and notice.channel_id == SERVER.channel_id
    assert "6 a minute" in notice.text and "try again in 10 s" in notice.text
    assert len(w.ai_calls) == 3


def test_one_notice_per_window_not_one_per_message() -> None:
    w = limited()
    seen = len(w.notices(ALICE))
    sent = [w.send(ALICE, f"@bob {i}") for i in range(9)]
    w.now += 5
    sent += [w.send(ALICE, f"@bob later {i}") for i in range(3)]
    notices = w.notices(ALICE)[seen:]
    assert [n.trigger_id for n in notices] == [sent[3]]
    counts = [e for e in w.effects_of(f"user:{ALICE}") if isinstance(e, Count) and e.name == "rate_limit_notice"]
    assert len(counts) == 1
    limited_logs = [e for e in w.effects_of(f"user:{ALICE}") if isinstance(e, Log) and e.event == "rate_limited"]
    assert {log.trigger for log in limited_logs} == set(sent[3:])  # every refusal is in the log, though


def test_after_ten_seconds_one_more_is_answered() -> None:
    w = limited()
    for i in range(5):
        w.send(ALICE, f"@bob {i}")
    w.now += 10
    ok = w.send(ALICE, "@bob now?")
    refused = w.send(ALICE, "@bob and again?")
    assert spoken(w)[-1] == ok and refused not in spoken(w)
    assert w.notices(ALICE)[-1].trigger_id != refused  # told 10 s ago: not again within the minute
    w.now += 50
    ok = [w.send(ALICE, f"@bob a minute on {i}") for i in range(3)]  # the bucket is full again
    refused = w.send(ALICE, "@bob and again")
    assert spoken(w)[-3:] == ok and w.notices(ALICE)[-1].trigger_id == refused  # a new window, one new notice


def test_the_notice_says_how_long_to_wait() -> None:
    w = limited()
    for i in range(3):
        w.send(ALICE, f"@bob {i}")
    w.now += 4
    w.send(ALICE, "@bob too soon")
    assert "try again in 6 s" in w.notices(ALICE)[-1].text


def test_refused_messages_are_never_answered_and_never_reach_the_ai() -> None:
    w = World(hold_ai=True, limits=tight())
    w.personality("bob")
    sent = []
    for i in range(7):  # each its own turn: the one before was answered before it came
        sent.append(w.send(ALICE, f"@bob {i}"))
        w.release_all()
    assert spoken(w) == sent[:3]
    asked = [call.tag[1] for call in w.ai_calls]
    assert asked == sent[:3]
    assert [n.trigger_id for n in w.notices(ALICE) if "faster than I can answer" in n.text] == [sent[3]]
    assert not w.user(ALICE).inbox
    # A redelivery of a refused message, even once tokens are back, is not answered.
    w.now += 60
    w.send(ALICE, "@bob 4", mid=sent[4])
    w.release_all()
    assert spoken(w) == sent[:3] and len(w.ai_calls) == 3


def test_lines_merged_into_one_turn_take_one_token() -> None:
    w = World(hold_ai=True, limits=tight())
    w.personality("bob")
    first = w.send(ALICE, "@bob 0")
    burst = [w.send(ALICE, f"@bob {i}") for i in range(1, 8)]  # while the first is answered: the next turn
    w.release_all()
    assert spoken(w) == [first, *burst] and len(w.ai_calls) == 2
    assert w.user(ALICE).limits.tokens == 1.0  # two turns of the three at once: one token left
    assert not w.notices(ALICE)[1:]  # nothing refused (the first notice is `add`'s answer)


def test_refused_messages_never_touch_the_operators_slots() -> None:
    w = limited()
    for i in range(6):
        w.send(ALICE, f"@bob {i}")
    effects = w.effects_of(f"user:{ALICE}")
    taken = [e for e in effects if isinstance(e, Call) and e.service == "lease" and e.method == "take"]
    released = [e for e in effects if isinstance(e, Tell) and isinstance(e.body, SlotRelease)]
    assert len(taken) == len(released) == 3  # nothing for the refused ones
    assert not w.leases.view()[2] and not w.slots.waiting


def test_commands_are_not_rate_limited() -> None:
    w = limited()
    for i in range(4):
        w.send(ALICE, f"@bob {i}")
    w.send(ALICE, "!tz autorespond status", DM)
    w.send(ALICE, "!tz ping", DM)
    assert not any("faster than" in n.text for n in w.notices(ALICE)[-2:])


def test_chatter_is_not_counted() -> None:
    w = limited()
    for i in range(10):
        w.send(ALICE, f"just chatting {i}")
    sent = [w.send(ALICE, f"@bob {i}") for i in range(3)]
    assert spoken(w) == sent


def test_a_daily_quota_refuses_with_its_own_notice_and_resets_at_the_next_utc_day() -> None:
    w = limited(rate_per_min=60_000, burst=10_000, daily_quota=2)
    sent = [w.send(ALICE, f"@bob {i}") for i in range(4)]
    assert spoken(w) == sent[:2]
    quota = [n for n in w.notices(ALICE) if "today" in n.text]
    assert [n.trigger_id for n in quota] == [sent[2]]
    assert quota[0].text == "You've used today's 2 answers; they come back at midnight UTC."
    assert len(w.ai_calls) == 2
    w.now = MIDNIGHT + 1
    fresh = w.send(ALICE, "@bob good morning")
    assert spoken(w)[-1] == fresh


def test_a_restarted_actor_does_not_reset_a_flooders_bucket() -> None:
    w = limited()
    for i in range(3):
        w.send(ALICE, f"@bob {i}")
    w.put("user", ALICE, UserState.restore(str(ALICE), decode(encode(w.user(ALICE).snapshot()))))
    w.now += 1
    refused = w.send(ALICE, "@bob after the restart")
    assert refused not in spoken(w)
    assert w.notices(ALICE)[-1].trigger_id == refused and "faster than" in w.notices(ALICE)[-1].text


def test_a_restart_does_not_repeat_the_notice() -> None:
    w = limited()
    sent = [w.send(ALICE, f"@bob {i}") for i in range(4)]
    w.put("user", ALICE, UserState.restore(str(ALICE), decode(encode(w.user(ALICE).snapshot()))))
    w.now += 1
    again = w.send(ALICE, "@bob after the restart")
    assert again not in spoken(w)
    assert [n.trigger_id for n in w.notices(ALICE) if "faster than" in n.text] == [sent[3]]


def test_a_restart_with_settings_keeps_the_quota_used_today() -> None:
    settings = Settings(user_rate_per_min=60_000, user_burst=10_000, daily_quota=2)
    state = UserState.restore(str(ALICE), None, settings)
    assert (state.limits.rate_per_min, state.limits.burst, state.limits.daily_quota) == (60_000, 10_000, 2)
    w = World(limits=state.limits)
    w.personality("bob")
    w.put("user", ALICE, state)
    for i in range(2):
        w.send(ALICE, f"@bob {i}")
    w.put("user", ALICE, UserState.restore(str(ALICE), decode(encode(state.snapshot())), settings))
    refused = w.send(ALICE, "@bob one more")
    assert refused not in spoken(w)
    assert "today's 2 answers" in w.notices(ALICE)[-1].text


def test_one_users_flood_never_spends_another_users_tokens() -> None:
    w = limited()
    for i in range(20):
        w.send(ALICE, f"@bob flood {i}")
    before = len(w.notices(CAROL)) + len(w.notices(DAVE))
    carol = [w.send(CAROL, f"@bob {i}") for i in range(3)]
    dave = [w.send(DAVE, f"@bob {i}") for i in range(3)]
    assert spoken(w, CAROL) == carol and spoken(w, DAVE) == dave
    assert len(w.notices(CAROL)) + len(w.notices(DAVE)) == before
    assert len(spoken(w, ALICE)) == 3


def test_a_refusal_is_said_as_the_bot_not_the_personality() -> None:
    w = limited()
    sent = [w.send(ALICE, f"@bob {i}") for i in range(4)]
    assert not any(isinstance(b, Speak) and b.trigger_id == sent[3] for b in w.channels)
    assert any(isinstance(b, Notify) and b.trigger_id == sent[3] for b in w.channels)


def test_a_refused_message_is_not_an_ai_result() -> None:
    """The bucket is taken before any AI work: no typing, no Done is ever expected for a refused message."""
    w = limited()
    sent = [w.send(ALICE, f"@bob {i}") for i in range(4)]
    typed = [b.trigger_id for b in w.channels if isinstance(b, TypingFor)]
    assert typed == sent[:3]
    assert w.user(ALICE).handle(Done(("ai", sent[3]), object()), w.now) == []
