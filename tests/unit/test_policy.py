"""The supervision policy, driven event by event: every rule an operator relies on, without processes."""

from __future__ import annotations

import pytest

from supervision.policy import (
    BACKOFF,
    LIVE,
    PARKED,
    ChildTable,
    Forward,
    Log,
    Policy,
    Refuse,
    Schedule,
    Spawn,
    Stop,
)


class Addr:
    """Stands in for an ActorAddress: compared by ==, unhashable like the real one."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Addr) and other.n == self.n


def table(**kw: object) -> ChildTable:
    return ChildTable(Policy(**kw), rand=lambda: 0.5)  # 0.5: jitter factor exactly 1.0


def start(t: ChildTable, key: str, n: int, now: float = 0.0, pid: int | None = None) -> list:
    t.spawned(key, Addr(n))
    return t.ready(key, Addr(n), pid or 1000 + n)


def kinds(effects: list) -> list[str]:
    return [type(e).__name__ if not isinstance(e, Log) else f"Log:{e.event}" for e in effects]


def test_first_message_activates_and_waits_until_the_child_is_ready() -> None:
    t = table()
    assert t.deliver("42", "m1", 0.0) == [Spawn("42")]
    assert t.deliver("42", "m2", 0.1) == []  # queued while starting
    out = start(t, "42", 1)
    assert kinds(out) == ["Log:activated", "Forward", "Forward"]
    assert [e.message for e in out if isinstance(e, Forward)] == ["m1", "m2"]
    assert t.deliver("42", "m3", 0.2) == [Forward("42", Addr(1), "m3")]


def test_crash_restarts_with_exponential_backoff_and_stale_timers_are_ignored() -> None:
    t = table(backoff_first_s=0.1, backoff_max_s=0.5, max_restarts=10)
    t.deliver("a", "m", 0.0)
    delays = []
    for n in range(1, 6):
        start(t, "a", n)
        out = t.exited(Addr(n), float(n))
        sched = [e for e in out if isinstance(e, Schedule)]
        delays.append(sched[0].delay_s)
        assert t.children["a"].status == BACKOFF
        assert t.timer(("restart", "a", sched[0].payload[2] - 1), float(n)) == []  # an older timer
        assert kinds(t.timer(sched[0].payload, float(n))) == ["Spawn", "Log:restarted"]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_jitter_spreads_restarts_by_at_most_twenty_percent() -> None:
    p = Policy(backoff_first_s=1.0, backoff_max_s=100.0)
    assert p.backoff(1, lambda: 0.0) == pytest.approx(0.8)
    assert p.backoff(1, lambda: 1.0) == pytest.approx(1.2)
    assert p.backoff(3, lambda: 0.5) == pytest.approx(4.0)


def test_doubled_and_late_exit_notices_change_nothing() -> None:
    t = table()
    t.deliver("a", "m", 0.0)
    start(t, "a", 1)
    first = t.exited(Addr(1), 1.0)
    assert any(isinstance(e, Schedule) for e in first)
    assert t.exited(Addr(1), 1.0) == []  # the same notice again
    t.timer(("restart", "a", t.children["a"].generation), 1.2)
    start(t, "a", 2)
    assert t.exited(Addr(1), 2.0) == []  # a late notice about the old process
    assert t.children["a"].status == LIVE


def test_more_than_max_restarts_in_the_window_parks_and_answers_unavailable() -> None:
    t = table(max_restarts=5, window_s=60, park_cooldown_s=300)
    t.deliver("bad", "m", 0.0)
    for n in range(1, 6):
        start(t, "bad", n)
        out = t.exited(Addr(n), float(n))
        assert not any(isinstance(e, Log) and e.event == "parked" for e in out)
        t.timer(next(e for e in out if isinstance(e, Schedule)).payload, float(n))
    t.deliver("bad", "waiting", 5.5)
    t.spawned("bad", Addr(6))
    out = t.exited(Addr(6), 6.0)  # the 6th failure within 60 s
    parked = [e for e in out if isinstance(e, Log) and e.event == "parked"]
    assert parked and parked[0].level == "error"
    assert [e.message for e in out if isinstance(e, Refuse)] == ["waiting"]  # "m" had reached child 1
    assert t.children["bad"].status == PARKED
    refused = t.deliver("bad", "later", 100.0)
    assert isinstance(refused[0], Refuse) and refused[0].retry_after_s == pytest.approx(206.0)


def test_restarts_older_than_the_window_do_not_count() -> None:
    t = table(max_restarts=2, window_s=10)
    t.deliver("a", "m", 0.0)
    for n, now in enumerate([0.0, 11.0, 22.0, 33.0], start=1):
        start(t, "a", n)
        out = t.exited(Addr(n), now)
        assert not any(isinstance(e, Log) and e.event == "parked" for e in out)
        t.timer(next(e for e in out if isinstance(e, Schedule)).payload, now)


def test_parked_child_is_retried_after_the_cool_down() -> None:
    t = table(max_restarts=0, park_cooldown_s=300)
    t.deliver("a", "m", 0.0)
    start(t, "a", 1)
    out = t.exited(Addr(1), 1.0)
    unpark = next(e for e in out if isinstance(e, Schedule))
    assert unpark.delay_s == 300 and unpark.payload[0] == "unpark"
    assert kinds(t.timer(unpark.payload, 301.0)) == ["Spawn", "Log:unparked"]
    assert not t.children["a"].restarts


def test_liveness_tick_finds_a_child_whose_exit_notice_was_lost() -> None:
    t = table()
    t.deliver("a", "m", 0.0)
    start(t, "a", 1, pid=4242)
    out = t.tick(1.0, alive=lambda pid: pid != 4242)
    assert kinds(out)[:2] == ["Log:liveness_miss", "Log:backoff"]
    assert t.tick(2.0, alive=lambda pid: False) == []  # already handled


def test_an_exit_says_how_the_child_ended_and_what_it_was_doing_unless_serving() -> None:
    t = table(max_restarts=1)
    t.deliver("a", "m", 0.0)
    start(t, "a", 1, pid=4242)
    out = t.exited(Addr(1), 1.0, detail="killed by signal 9 (SIGKILL)")
    assert out[0] == Log("warning", "exited", "a", "killed by signal 9 (SIGKILL)")  # it was serving: no "while"
    restart = next(e for e in out if isinstance(e, Schedule))
    t.timer(restart.payload, 2.0)
    t.spawned("a", Addr(2))

    out = t.exited(Addr(2), 2.5)  # no status known, and it died before it served: parked (max_restarts=1)
    assert out[0] == Log("warning", "exited", "a", "exited (status unknown) (while starting)")
    [refused] = t.deliver("a", "m2", 3.0)
    assert isinstance(refused, Refuse) and "exited (status unknown) (while starting)" in refused.reason


def test_the_liveness_tick_says_it_found_the_child_gone_and_how_it_ended() -> None:
    t = table()
    t.deliver("a", "m", 0.0)
    start(t, "a", 1, pid=4242)
    out = t.tick(1.0, alive=lambda pid: False, how=lambda key: "killed by signal 9 (SIGKILL)" if key == "a" else "")
    gone = "gone: found by the liveness check; killed by signal 9 (SIGKILL)"
    assert out[0] == Log("warning", "liveness_miss", "a", gone)
    t.deliver("b", "m", 0.0)
    start(t, "b", 2, pid=4343)
    assert t.tick(2.0, alive=lambda pid: False)[0].detail == "gone: found by the liveness check"


def test_idle_child_is_passivated_then_forgotten_or_brought_back() -> None:
    t = table(idle_s=900)
    t.deliver("a", "m", 0.0)
    start(t, "a", 1)
    assert t.tick(899.0, alive=lambda pid: True) == []
    out = t.tick(900.0, alive=lambda pid: True)
    assert kinds(out) == ["Log:passivated", "Stop"]
    assert kinds(t.exited(Addr(1), 901.0)) == ["Log:exited"]
    assert "a" not in t.children

    t.deliver("b", "m", 0.0)
    start(t, "b", 2)
    t.tick(1000.0, alive=lambda pid: True)
    assert t.deliver("b", "arrived while stopping", 1000.5) == []
    assert kinds(t.exited(Addr(2), 1001.0)) == ["Log:exited", "Spawn"]


def test_permanent_children_are_never_passivated() -> None:
    t = table(idle_s=None)
    t.deliver("shard", "m", 0.0)
    start(t, "shard", 1)
    assert t.tick(1e9, alive=lambda pid: True) == []


def test_live_cap_passivates_the_least_recently_used() -> None:
    t = table(live_cap=2)
    for n, key in enumerate(["a", "b"], start=1):
        t.deliver(key, "m", float(n))
        start(t, key, n)
    t.deliver("a", "m", 3.0)  # "b" is now least recently used
    out = t.deliver("c", "m", 4.0)
    assert [e for e in out if isinstance(e, Stop)] == [Stop("b", Addr(2))]
    assert Spawn("c") not in out  # never more processes than the cap: "c" waits for "b" to be gone
    assert t.exited(Addr(2), 5.0)[-1] == Spawn("c")


def test_a_burst_of_new_keys_never_starts_more_processes_than_the_cap() -> None:
    t = table(live_cap=3)
    spawned = []
    for n in range(20):
        spawned += [e.key for e in t.deliver(f"k{n}", "m", float(n)) if isinstance(e, Spawn)]
    assert spawned == ["k0", "k1", "k2"]  # the rest wait (queued) until passivated ones have exited
    stops = []
    for n, key in enumerate(spawned):
        stops += [e for e in start(t, key, n + 1) if isinstance(e, Stop)]
    assert t._processes() <= 3
    assert stops  # once they have served, the first ones make way for those still waiting
    admitted = [e.key for stop in stops for e in t.exited(stop.address, 30.0) if isinstance(e, Spawn)]
    assert admitted == ["k3", "k4", "k5"][: len(admitted)] and admitted


def test_messages_waiting_for_a_start_are_bounded() -> None:
    t = table(pending_cap=2)
    t.deliver("a", "m1", 0.0)
    t.deliver("a", "m2", 0.0)
    out = t.deliver("a", "m3", 0.0)
    assert isinstance(out[0], Refuse) and "waiting" in out[0].reason


def test_messages_for_a_child_in_backoff_wait_for_its_restart_and_arrive_in_order() -> None:
    t = table(backoff_first_s=0.1)
    t.deliver("a", "m1", 0.0)
    start(t, "a", 1)
    sched = [e for e in t.exited(Addr(1), 1.0) if isinstance(e, Schedule)]  # crashed: restart in 0.1 s
    assert t.deliver("a", "bounced off the dead address", 1.01) == []  # held, not lost
    assert t.deliver("a", "m2", 1.02) == []
    assert kinds(t.timer(sched[0].payload, 1.1)) == ["Spawn", "Log:restarted"]
    assert t.deliver("a", "m3", 1.15) == []  # still starting
    out = start(t, "a", 2)
    assert [e.message for e in out if isinstance(e, Forward)] == ["bounced off the dead address", "m2", "m3"]


def test_a_child_its_peers_reach_directly_is_not_taken_for_idle_or_least_recently_used() -> None:
    t = table(idle_s=900, live_cap=2)
    for n, key in enumerate(["a", "b"], start=1):
        t.deliver(key, "m", float(n))
        start(t, key, n)
    t.touch("a", 800.0)  # "a" said it is in use: its messages come straight from its peers
    t.touch("gone", 800.0)  # a key that is not ours changes nothing
    assert "gone" not in t.children
    assert kinds(t.tick(1000.0, alive=lambda pid: True)) == ["Log:passivated", "Stop"]  # "b" only
    assert t.children["a"].status == LIVE
    t.touch("a", 1500.0)
    assert t.tick(1600.0, alive=lambda pid: True) == []
