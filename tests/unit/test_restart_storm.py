"""The supervisor's restart-storm watch: one WARNING per storm of child restarts, never one per restart."""

from __future__ import annotations

from supervision.storm import STORM_RESTARTS, STORM_WINDOW_S, StormWatch

T0 = 1_700_000_000.0


def test_the_default_is_more_than_ten_restarts_in_sixty_seconds() -> None:
    assert (STORM_RESTARTS, STORM_WINDOW_S) == (10, 60.0)


def test_a_storm_is_reported_once_when_the_count_goes_over_the_limit() -> None:
    watch = StormWatch()
    reports = [watch.restarted(T0 + i) for i in range(25)]
    assert reports[:STORM_RESTARTS] == [None] * STORM_RESTARTS  # ten in a minute is not yet a storm
    assert reports[STORM_RESTARTS] == STORM_RESTARTS + 1  # the eleventh is, with the count
    assert [r for r in reports if r is not None] == [STORM_RESTARTS + 1]  # and the rest of it says nothing


def test_restarts_spread_over_more_than_the_window_are_no_storm() -> None:
    watch = StormWatch()
    assert all(watch.restarted(T0 + i * 6.5) is None for i in range(100))  # at most 10 in any 60 s


def test_a_new_storm_after_a_calm_is_reported_again() -> None:
    watch = StormWatch(limit=3, window_s=10.0)
    first = [watch.restarted(T0 + i * 0.1) for i in range(8)]
    assert [r for r in first if r is not None] == [4]
    assert watch.restarted(T0 + 30.0) is None  # the window emptied: the storm is over
    second = [watch.restarted(T0 + 30.0 + i * 0.1) for i in range(1, 6)]
    assert [r for r in second if r is not None] == [4]
