"""AdaptiveLimit (`actors/state/capacity.py`): the backend's real concurrency, from latency and refusals.

It grows while latency stays flat and the limit is used, shrinks when latency rises (a queue at the backend)
or on a 429/503/timeout, never leaves 1..ceiling, and judges each model against its own best latency.
"""

from __future__ import annotations

from actors.state.capacity import AdaptiveLimit

NOW = 1_000.0


def feed(limit: AdaptiveLimit, samples: int, latency_s: float, model: str = "m", in_flight: int | None = None,
         outcome: str = "ok") -> None:
    for i in range(samples):
        limit.record(outcome, latency_s, model, limit.limit if in_flight is None else in_flight, NOW + i)


def test_it_starts_at_the_ceiling() -> None:
    assert AdaptiveLimit(8).limit == 8


def test_it_grows_while_latency_is_flat_and_the_limit_is_used_but_never_above_the_ceiling() -> None:
    limit = AdaptiveLimit(16, value=4.0)
    feed(limit, 20, 1.0)
    assert limit.limit > 5
    feed(limit, 500, 1.0)
    assert limit.limit == 16


def test_it_does_not_grow_while_the_calls_in_flight_do_not_use_it() -> None:
    limit = AdaptiveLimit(16, value=4.0)
    feed(limit, 100, 1.0, in_flight=1)
    assert limit.limit == 4


def test_rising_latency_means_a_queue_at_the_backend_and_it_shrinks_to_what_is_served() -> None:
    # The backend serves 4 at once, 2 s a call: at a limit of L, every call takes L/4 of the calls' time.
    limit = AdaptiveLimit(16)
    feed(limit, 5, 2.0)  # learns the best latency
    for i in range(200):
        limit.record("ok", 2.0 * max(1.0, limit.limit / 4), "m", limit.limit, NOW + 2 * i)
    assert 4 <= limit.limit <= 6


def test_a_429_cuts_it_by_a_quarter_once_per_moment_of_overload_and_never_below_one() -> None:
    limit = AdaptiveLimit(8)
    feed(limit, 1, 2.0)  # best latency 2 s
    limit.record("rate_limited", 0.0, "m", 8, NOW + 10)
    assert limit.limit == 6
    limit.record("rate_limited", 0.0, "m", 8, NOW + 10.5)  # the same burst of refusals
    assert limit.limit == 6
    limit.record("unavailable", 0.0, "m", 8, NOW + 13)
    assert limit.limit == 4
    for i in range(50):
        limit.record("timeout", 0.0, "m", 8, NOW + 20 + 3 * i)
    assert limit.limit == 1


def test_other_failures_teach_nothing() -> None:
    limit = AdaptiveLimit(8)
    for kind in ("bad_request", "auth", "empty", "malformed", "error"):
        assert limit.record(kind, 0.0, "m", 8, NOW) is False
    assert limit.limit == 8


def test_a_slow_model_is_not_taken_for_a_queue_in_front_of_a_fast_one() -> None:
    limit = AdaptiveLimit(8)
    for i in range(100):
        limit.record("ok", 1.0, "quick", 8, NOW + i)
        limit.record("ok", 30.0, "slow", 8, NOW + i)
    assert limit.limit == 8


def test_the_best_latency_drifts_up_when_the_backend_is_slower_for_good() -> None:
    limit = AdaptiveLimit(8)
    feed(limit, 1, 0.5)  # one lucky fast answer
    feed(limit, 3000, 1.0, in_flight=1)
    assert limit.best["m"] > 0.95


def test_one_slow_answer_among_flat_ones_is_noise_not_a_queue() -> None:
    limit = AdaptiveLimit(8)
    feed(limit, 20, 1.0)
    limit.record("ok", 3.0, "m", 8, NOW + 30)
    assert limit.limit == 8


def test_a_queue_seen_by_many_answers_at_once_shrinks_it_once_per_round() -> None:
    limit = AdaptiveLimit(8)
    feed(limit, 5, 1.0)
    for _ in range(8):  # eight answers finishing together, each 3x the best: one round's news
        limit.record("ok", 3.0, "m", 8, NOW + 50)
    assert limit.limit == 7
    for i in range(1, 4):  # the next rounds, still queued
        limit.record("ok", 3.0, "m", 8, NOW + 50 + 1.5 * i)
    assert limit.limit == 4


def test_jitter_of_our_own_cpu_on_fast_answers_is_not_a_queue() -> None:
    limit = AdaptiveLimit(8)
    for i in range(200):  # an instant backend, answers taking 5 to 150 ms through a busy machine
        limit.record("ok", 0.005 if i % 3 else 0.15, "m", 8, NOW + i)
    assert limit.limit == 8
