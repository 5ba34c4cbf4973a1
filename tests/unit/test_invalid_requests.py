"""Discord's invalid-request budget (10,000 answers of 401, 403 or a non-shared 429 per 10 minutes per IP):
counted bot-wide in a locked file, paced before the limit, and shown to the operator."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from discord_rest.client import DiscordRest, Fail, Ok, Wait
from discord_rest.gate import GlobalGate
from discord_rest.invalid import BUDGET, InvalidRequests, invalid_path, is_invalid, pace, read_invalid
from observability.metrics import Metrics
from observability.status import render

T0 = 1_800_000_000.0  # a slot boundary (multiple of 10 s)


def ledger(tmp_path: Path) -> InvalidRequests:
    return InvalidRequests(invalid_path(tmp_path))


# ---- what counts -------------------------------------------------------------------------------------


def test_401_403_and_non_shared_429_count_shared_429_and_others_do_not() -> None:
    assert is_invalid(401, None) and is_invalid(403, None)
    assert is_invalid(429, "user") and is_invalid(429, "global") and is_invalid(429, None)  # no scope: Cloudflare
    assert not is_invalid(429, "shared")
    assert not [s for s in (200, 204, 400, 404, 500, 502) if is_invalid(s, None)]


# ---- the window ---------------------------------------------------------------------------------------


def test_the_window_keeps_ten_minutes_and_forgets_what_is_older(tmp_path: Path) -> None:
    counts = ledger(tmp_path)
    for status in (403, 403, 401):
        counts.record(status, T0 + 1)
    counts.record(429, T0 + 300)
    counts.record(429, T0 + 300)
    assert counts.count(T0 + 1) == 3
    assert counts.count(T0 + 600) == 5  # never forgets before 10 minutes have passed
    assert counts.count(T0 + 611) == 2  # the first three are out of the window
    assert counts.count(T0 + 911) == 0
    view = read_invalid(tmp_path, T0 + 611)
    assert view["count"] == 2 and view["budget"] == BUDGET and view["pace"] == "normal"
    assert view["by_status"] == {"401": 1, "403": 2, "429": 2}  # totals, not only the window
    assert stat.S_IMODE(os.stat(invalid_path(tmp_path)).st_mode) == 0o600


def test_reading_before_anything_was_counted_creates_nothing(tmp_path: Path) -> None:
    assert read_invalid(tmp_path)["count"] == 0
    assert not invalid_path(tmp_path).exists()


def test_every_process_counts_into_the_same_window(tmp_path: Path) -> None:
    workers, each = 4, 50
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                mine = ledger(tmp_path)
                for _ in range(each):
                    mine.record(403)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    assert ledger(tmp_path).count() == workers * each
    assert read_invalid(tmp_path)["by_status"]["403"] == workers * each


# ---- the policy (a pure function) -----------------------------------------------------------------------


def test_pace_is_normal_then_half_rate_from_half_the_budget_then_holds_from_ninety_percent() -> None:
    assert (pace(0).level, pace(0).cost) == ("normal", 1.0)
    assert pace(BUDGET // 2 - 1).level == "normal"
    assert (pace(BUDGET // 2).level, pace(BUDGET // 2).cost) == ("slow", 2.0)  # half the sending rate
    assert pace(BUDGET * 9 // 10 - 1).level == "slow"
    assert pace(BUDGET * 9 // 10).level == "hold"
    assert pace(BUDGET).level == "hold"
    assert pace(50, budget=100).level == "slow"


def test_holding_lasts_until_enough_of_the_window_has_passed(tmp_path: Path) -> None:
    counts = ledger(tmp_path)
    for _ in range(BUDGET * 9 // 10 - 10):
        counts.record(403, T0 + 5)
    for _ in range(10):
        counts.record(403, T0 + 200)
    assert pace(counts.count(T0 + 300)).level == "hold"
    wait = counts.hold_for(T0 + 300)
    assert 300 <= wait <= 311  # the old ones leave the window after 10 minutes (plus at most one slot)
    assert pace(counts.count(T0 + 300 + wait)).level == "normal"
    assert counts.hold_for(T0 + 300 + wait) == 0.0


def test_one_warning_when_half_the_budget_is_spent_and_one_more_at_ninety_percent(tmp_path: Path) -> None:
    counts, elsewhere = ledger(tmp_path), ledger(tmp_path)  # two processes' views
    for n in range(BUDGET * 9 // 10 + 20):
        (counts if n % 2 else elsewhere).record(403, T0 + n * 0.01)
    log = tmp_path / "events.log"
    warned = [json.loads(line) for line in log.read_text().splitlines()]
    assert [w["event"] for w in warned] == ["invalid_requests_high", "invalid_requests_high"]
    assert {w["level"] for w in warned} == {"warning"}
    assert "half" in warned[0]["detail"] and "hold" in warned[1]["detail"]


# ---- DiscordRest counts and paces -----------------------------------------------------------------------


def rest_against(tmp_path: Path, answers: list[httpx.Response], rate: float = 1e6) -> tuple[DiscordRest, list]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers.pop(0) if answers else httpx.Response(200, json={})

    rest = DiscordRest("http://discord.test/api/v10", "tok", GlobalGate(tmp_path / "discord-gate", rate=rate))
    rest._client, rest._pid = httpx.Client(transport=httpx.MockTransport(answer)), os.getpid()
    return rest, sent


def test_rest_counts_each_invalid_answer_bot_wide(tmp_path: Path) -> None:
    answers = [
        httpx.Response(403, json={"code": 50013, "message": "Missing Permissions"}),
        httpx.Response(401, json={"code": 0, "message": "401: Unauthorized"}),
        httpx.Response(429, json={"retry_after": 0.1, "global": False}, headers={"X-RateLimit-Scope": "user"}),
        httpx.Response(429, json={"retry_after": 0.1, "global": False}, headers={"X-RateLimit-Scope": "shared"}),
        httpx.Response(404, json={"code": 10003, "message": "Unknown Channel"}),
    ]
    rest, _ = rest_against(tmp_path, answers)
    results = [rest.typing(1) for _ in range(6)]
    assert [type(r) for r in results] == [Fail, Fail, Wait, Wait, Fail, Ok]
    assert read_invalid(tmp_path)["count"] == 3
    assert read_invalid(tmp_path)["by_status"] == {"401": 1, "403": 1, "429": 1}


def test_rest_sends_nothing_while_holding_and_says_how_long_to_wait(tmp_path: Path) -> None:
    counts = ledger(tmp_path)
    for _ in range(BUDGET * 9 // 10):
        counts.record(403)
    rest, sent = rest_against(tmp_path, [])
    result = rest.typing(1)
    assert isinstance(result, Wait) and 590 <= result.seconds <= 611
    assert sent == []


def test_rest_sends_at_half_the_rate_above_half_the_budget(tmp_path: Path) -> None:
    def granted_in_a_burst(data: Path) -> tuple[int, float]:
        rest, sent = rest_against(data, [], rate=10.0)
        results = [rest.typing(1) for _ in range(4)]
        assert isinstance(results[-1], Wait)
        return len(sent), results[-1].seconds

    assert granted_in_a_burst(tmp_path / "calm") == (2, pytest.approx(0.1, abs=0.02))
    counts = ledger(tmp_path / "busy")
    for _ in range(BUDGET // 2):
        counts.record(403)
    sent, wait = granted_in_a_burst(tmp_path / "busy")
    assert sent == 1 and wait == pytest.approx(0.2, abs=0.02)  # one request now takes two tokens


# ---- shown to the operator ------------------------------------------------------------------------------


def test_metrics_and_status_show_the_window_and_the_totals_by_status(tmp_path: Path) -> None:
    counts = ledger(tmp_path)
    for status in (403, 403, 401):
        counts.record(status)
    metrics = Metrics()
    metrics.observe_invalid(read_invalid(tmp_path))
    metrics.observe_invalid(read_invalid(tmp_path))  # read twice: counters do not double
    text = metrics.render().decode()
    assert "tzurot_discord_invalid_requests 3.0" in text
    assert 'tzurot_discord_invalid_responses_total{status="403"} 2.0' in text
    assert 'tzurot_discord_invalid_responses_total{status="401"} 1.0' in text

    status = {"time": "now", "live_actors": 0, "restarts_last_hour": 0, "parks_last_hour": 0, "store_bytes": 0,
              "shards": [], "parked": [], "discord_invalid": read_invalid(tmp_path)}
    assert "discord invalid requests 3/10000 in 10 min (pace normal)" in render(status)
