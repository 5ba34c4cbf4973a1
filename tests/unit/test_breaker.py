"""The AI circuit breakers (`ai/breaker.py`) and what users see of them through their UserState.

Breaker: `threshold` failures in a row open it; open refuses at once; after `cooldown_s` exactly one probe
passes; its success closes the breaker, its failure opens it again; a probe that never reports expires after
another cooldown. `record` is True only for the failure that opened it, so the WARNING is logged once.
SharedBreaker: the same state in a flock'd file, so every actor process sees one breaker and one probe.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from actors.effects import Call, Log, Tell
from actors.messages import SlotRequest
from actors.state.user import UserState
from ai.breaker import CLOSED, HALF_OPEN, OPEN, Breaker, SharedBreaker
from ai.errors import AuthError, BadRequestError, UnavailableError
from config import Settings
from store.sqlite import decode, encode
from tests.unit.test_user_flow import ALICE, CAROL, NOW, REFERENCE, Said, World

T0 = 1_000.0


def tripped(threshold: int = 3, cooldown_s: float = 30.0, at: float = T0) -> Breaker:
    breaker = Breaker(threshold, cooldown_s)
    for _ in range(threshold):
        breaker.record(False, at)
    return breaker


# =====================================================================================================
# Breaker, pure
# =====================================================================================================


def test_a_new_breaker_is_closed_and_lets_everything_through() -> None:
    breaker = Breaker(3, 30.0)
    assert breaker.state(T0) == CLOSED
    assert all(breaker.allow(T0) for _ in range(10))


def test_threshold_failures_in_a_row_open_it() -> None:
    breaker = Breaker(3, 30.0)
    assert [breaker.record(False, T0) for _ in range(2)] == [False, False]
    assert breaker.state(T0) == CLOSED and breaker.allow(T0)
    assert breaker.record(False, T0) is True
    assert breaker.state(T0) == OPEN


def test_failures_not_in_a_row_do_not_open_it() -> None:
    breaker = Breaker(3, 30.0)
    for _ in range(5):
        breaker.record(False, T0)
        breaker.record(False, T0)
        breaker.record(True, T0)
    assert breaker.state(T0) == CLOSED and breaker.failures == 0


def test_open_refuses_until_the_cooldown() -> None:
    breaker = tripped()
    assert not any(breaker.allow(T0 + dt) for dt in (0.0, 1.0, 15.0, 29.999))
    assert breaker.state(T0 + 29.999) == OPEN
    assert breaker.state(T0 + 30.0) == HALF_OPEN


def test_after_the_cooldown_exactly_one_probe_passes() -> None:
    breaker = tripped()
    assert breaker.allow(T0 + 30) is True
    assert [breaker.allow(T0 + 30 + dt) for dt in (0.0, 0.1, 10.0, 29.9)] == [False] * 4
    assert breaker.state(T0 + 31) == HALF_OPEN


def test_a_probes_success_closes_it() -> None:
    breaker = tripped()
    assert breaker.allow(T0 + 30)
    assert breaker.record(True, T0 + 31) is False
    assert breaker.state(T0 + 31) == CLOSED
    assert all(breaker.allow(T0 + 31) for _ in range(5))
    # Closed again means a fresh count: it takes `threshold` new failures to open it.
    assert [breaker.record(False, T0 + 32) for _ in range(3)] == [False, False, True]


def test_a_probes_failure_opens_it_again_for_a_whole_cooldown() -> None:
    breaker = tripped()
    assert breaker.allow(T0 + 30)
    assert breaker.record(False, T0 + 35) is False  # already open: no second WARNING
    assert breaker.state(T0 + 35) == OPEN
    assert not breaker.allow(T0 + 64.9)  # counted from the probe's failure, not the first opening
    assert breaker.allow(T0 + 65)  # the next probe
    assert not breaker.allow(T0 + 65)


def test_a_lost_probe_expires_after_the_cooldown() -> None:
    breaker = tripped()
    assert breaker.allow(T0 + 30)  # the probe's caller vanishes: no record ever comes
    assert not breaker.allow(T0 + 60)
    assert breaker.allow(T0 + 60.001)  # a new probe
    assert not breaker.allow(T0 + 60.001)


def test_record_is_true_only_for_the_failure_that_opened_it() -> None:
    breaker = Breaker(3, 30.0)
    results = [breaker.record(False, T0 + i) for i in range(10)]
    assert results == [False, False, True] + [False] * 7
    # A probe that fails, again and again: still no second True.
    for k in range(1, 4):
        now = T0 + 100 * k
        assert breaker.allow(now)
        assert breaker.record(False, now) is False
    # Closed, then open again: True once more.
    assert breaker.allow(T0 + 500) and breaker.record(True, T0 + 500) is False
    assert [breaker.record(False, T0 + 501) for _ in range(4)] == [False, False, True, False]


# =====================================================================================================
# SharedBreaker: one breaker for every process
# =====================================================================================================


def test_a_shared_breaker_starts_closed_and_creates_its_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "ai-breaker"
    shared = SharedBreaker(path, 3, 30.0)
    assert shared.state(T0) == CLOSED and shared.allow(T0)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # nobody else reads or writes it


def test_two_shared_breakers_on_one_file_are_one_breaker(tmp_path: Path) -> None:
    a = SharedBreaker(tmp_path / "b", 3, 30.0)
    b = SharedBreaker(tmp_path / "b", 3, 30.0)
    assert [a.record(False, T0), b.record(False, T0)] == [False, False]
    assert b.record(False, T0) is True  # the third failure in a row, counted across both
    assert a.record(False, T0) is False  # already open: only one WARNING in all
    assert a.state(T0) == b.state(T0) == OPEN
    assert not a.allow(T0 + 10) and not b.allow(T0 + 10)


def test_after_the_cooldown_only_one_of_two_breakers_gets_the_probe(tmp_path: Path) -> None:
    a = SharedBreaker(tmp_path / "b", 3, 30.0)
    b = SharedBreaker(tmp_path / "b", 3, 30.0)
    for _ in range(3):
        a.record(False, T0)
    assert [a.allow(T0 + 30), b.allow(T0 + 30), a.allow(T0 + 30), b.allow(T0 + 31)] == [True, False, False, False]
    assert b.record(True, T0 + 32) is False  # whoever reports, the probe's success closes it for both
    assert a.state(T0 + 32) == CLOSED and a.allow(T0 + 32) and b.allow(T0 + 32)


def test_a_shared_probes_failure_reopens_it_and_a_lost_one_expires(tmp_path: Path) -> None:
    a = SharedBreaker(tmp_path / "b", 3, 30.0)
    b = SharedBreaker(tmp_path / "b", 3, 30.0)
    for _ in range(3):
        a.record(False, T0)
    assert a.allow(T0 + 30)
    assert a.record(False, T0 + 31) is False
    assert b.state(T0 + 31) == OPEN and not b.allow(T0 + 60)
    assert b.allow(T0 + 61)  # the next probe; it is lost
    assert not a.allow(T0 + 91)
    assert a.allow(T0 + 91.5)


def test_a_short_or_missing_file_is_a_closed_breaker(tmp_path: Path) -> None:
    path = tmp_path / "b"
    path.write_bytes(b"\x01\x02")
    assert SharedBreaker(path, 3, 30.0).state(T0) == CLOSED


def _ask_in_children(shared: SharedBreaker, path: Path, now: float, children: int) -> list[bool]:
    """Fork `children` processes that all ask `shared.allow(now)` at once (held at the file lock, then let go)."""
    gate = os.open(path, os.O_RDWR)
    fcntl.flock(gate, fcntl.LOCK_EX)
    read_end, write_end = os.pipe()
    pids = []
    try:
        for _ in range(children):
            pid = os.fork()
            if pid == 0:  # the child: one answer, one byte
                code = 1
                try:
                    os.close(read_end)
                    os.write(write_end, b"1" if shared.allow(now) else b"0")
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
    finally:
        os.close(write_end)
        fcntl.flock(gate, fcntl.LOCK_UN)  # all of them at once
        os.close(gate)
    answers = b""
    while chunk := os.read(read_end, 64):
        answers += chunk
    os.close(read_end)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    assert len(answers) == children
    return [c == ord("1") for c in answers]


def test_processes_asking_at_once_after_the_cooldown_get_exactly_one_probe(tmp_path: Path) -> None:
    path = tmp_path / "ai-breaker"
    shared = SharedBreaker(path, 3, 30.0)
    for _ in range(3):
        shared.record(False, T0)  # the parent's descriptor is open: each child must open its own
    answers = _ask_in_children(shared, path, T0 + 30, children=4)
    assert sorted(answers) == [False, False, False, True]
    assert shared.allow(T0 + 30) is False  # the parent is refused too: the probe is out
    assert shared.state(T0 + 30) == HALF_OPEN


def test_a_forked_process_sees_the_probe_taken_in_this_one(tmp_path: Path) -> None:
    path = tmp_path / "ai-breaker"
    here = SharedBreaker(path, 3, 30.0)
    for _ in range(3):
        here.record(False, T0)
    assert here.allow(T0 + 30)
    assert _ask_in_children(SharedBreaker(path, 3, 30.0), path, T0 + 30, children=2) == [False, False]


def test_while_open_no_process_gets_through(tmp_path: Path) -> None:
    path = tmp_path / "ai-breaker"
    shared = SharedBreaker(path, 3, 30.0)
    for _ in range(3):
        shared.record(False, T0)
    assert _ask_in_children(shared, path, T0 + 10, children=3) == [False, False, False]


# =====================================================================================================
# The operator's AI service logs the opening once
# =====================================================================================================


class _FailingClient:
    def __init__(self, error: Exception) -> None:
        self.error, self.calls = error, 0

    def complete(self, **_: Any) -> Any:
        self.calls += 1
        raise self.error

    def close(self) -> None:
        pass


def _service(tmp_path: Path, error: Exception, events: Any = None) -> Any:
    from ai.service import AIService

    settings = Settings(data_dir=tmp_path, ai_base_url="http://127.0.0.1:9", ai_breaker_failures=3)
    service = AIService(settings, keys=None, events=events, user="42")
    service.client.close()
    service.client = _FailingClient(error)
    return service


def test_the_operators_breaker_opening_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service = _service(tmp_path, UnavailableError("down"))
    with caplog.at_level(logging.WARNING, logger="tzurot.ai"):
        for _ in range(7):
            with pytest.raises(UnavailableError):
                service.complete({"messages": [], "model": "m"})
    warnings = [r for r in caplog.records if "breaker_open" in r.getMessage()]
    assert len(warnings) == 1 and "3 times" in warnings[0].getMessage()
    assert service.available("m") is False  # every process sees it: the next user of model "m" is answered at once
    assert service.available("another-model") is True  # one broken model does not stop the others


def test_the_operators_breaker_opening_goes_to_the_events_log_once(tmp_path: Path) -> None:
    from observability.events import EventLog
    from observability.jsonlog import read

    events = EventLog(tmp_path / "events.log", echo=False)
    service = _service(tmp_path, UnavailableError("down"), events)
    for _ in range(7):
        with pytest.raises(UnavailableError):
            service.complete({"messages": [], "model": "m"})
    [line] = read(tmp_path / "events.log")
    assert (line["level"], line["event"], line["kind"], line["key"]) == ("warning", "breaker_open", "user", "42")
    assert "3 times in a row" in line["detail"] and line["cooldown_s"] == 30.0


def test_bad_requests_do_not_open_the_operators_breaker(tmp_path: Path) -> None:
    service = _service(tmp_path, BadRequestError("unknown model"))
    for _ in range(5):
        with pytest.raises(BadRequestError):
            service.complete({"messages": [], "model": "m"})
    assert service.available() is True


# =====================================================================================================
# What a user sees: the operator's breaker open
# =====================================================================================================


def bob_world(**kw: Any) -> World:
    w = World(**kw)
    w.personality("bob")
    return w


def test_with_the_operators_breaker_open_the_user_is_answered_at_once() -> None:
    w = bob_world()
    w.ai_available = False
    since = len(w.trace)
    mid = w.send(ALICE, "@bob hello")
    [speak] = w.speaks(ALICE)
    assert speak.trigger_id == mid and speak.persona.name == "bob"
    assert "AI service" in speak.text
    match = REFERENCE.search(speak.text)
    assert match is not None
    [failed] = [e for e in w.effects_of(f"user:{ALICE}", since) if isinstance(e, Log) and e.event == "ai_failed"]
    assert f"ref {match.group(1)}" in failed.detail
    effects = w.effects_of(f"user:{ALICE}", since)
    assert not [e for e in effects if isinstance(e, Tell) and e.kind == "slots"]  # no slot asked for
    assert [(c.service, c.method) for c in effects if isinstance(c, Call)] == [("ai", "available")]
    assert w.ai_calls == [] and not w.slots.holders and not w.slots.waiting
    assert w.user(ALICE).waiting is None and not w.user(ALICE).inbox


def test_each_message_gets_one_answer_while_the_service_is_down_and_normal_ones_after() -> None:
    w = bob_world()
    w.ai_available = False
    sent = [w.send(ALICE, f"@bob {i}") for i in range(3)]
    assert w.answered(ALICE) == sent and all("AI service" in s.text for s in w.speaks(ALICE))
    w.ai_available = True
    w.script.append(Said("back"))
    after = w.send(ALICE, "@bob now?")
    assert w.answered(ALICE)[-1] == after and w.speaks(ALICE)[-1].text == "back"
    assert len(w.ai_calls) == 1


# =====================================================================================================
# What a user sees: their own key failing
# =====================================================================================================


def keyed_world(**kw: Any) -> World:
    w = bob_world(**kw)
    w.user(ALICE).sealed_key = "sealed-token"
    return w


def test_a_users_failing_key_is_answered_at_once_after_three_failures() -> None:
    w = keyed_world()
    w.script.extend([AuthError("bad key")] * 3)
    for i in range(3):
        w.send(ALICE, f"@bob {i}")
    assert len(w.ai_calls) == 3 and all("refused the key" in s.text for s in w.speaks(ALICE))
    since = len(w.trace)
    fourth = w.send(ALICE, "@bob 4")
    [speak] = w.speaks(ALICE)[3:]
    assert speak.trigger_id == fourth and "refused the key" in speak.text and REFERENCE.search(speak.text)
    assert len(w.ai_calls) == 3  # no AI call
    effects = w.effects_of(f"user:{ALICE}", since)
    assert not [e for e in effects if isinstance(e, Call)]
    assert not [e for e in effects if isinstance(e, Tell) and e.kind == "slots"]


def test_a_users_key_gets_one_probe_after_sixty_seconds() -> None:
    w = keyed_world(hold_ai=True)
    w.script.extend([AuthError("bad key")] * 3)
    for i in range(3):
        w.send(ALICE, f"@bob {i}")
        w.release()
    w.now += 59
    w.send(ALICE, "@bob still broken?")
    assert len(w.ai_calls) == 3
    w.now += 1
    probe = w.send(ALICE, "@bob probe")
    queued = w.send(ALICE, "@bob behind the probe")  # waits its turn, it is not refused
    assert len(w.ai_calls) == 4 and w.ai_calls[-1].tag[1] == probe
    assert w.ai_calls[-1].args[1] == "sealed-token"
    w.script.append(Said("works again"))
    w.release()
    assert w.speaks(ALICE)[-1].text == "works again"
    assert len(w.ai_calls) == 5 and w.ai_calls[-1].tag[1] == queued  # closed: the next goes through
    w.release()
    assert w.speaks(ALICE)[-1].trigger_id == queued


def test_a_failed_probe_closes_the_door_for_another_minute() -> None:
    w = keyed_world()
    w.script.extend([AuthError("bad key")] * 4)
    for i in range(3):
        w.send(ALICE, f"@bob {i}")
    w.now += 60
    w.send(ALICE, "@bob probe")
    assert len(w.ai_calls) == 4
    w.now += 30
    w.send(ALICE, "@bob again")
    assert len(w.ai_calls) == 4 and "refused the key" in w.speaks(ALICE)[-1].text
    w.now += 30
    w.send(ALICE, "@bob once more")
    assert len(w.ai_calls) == 5


def test_bad_requests_do_not_count_against_a_users_key() -> None:
    w = keyed_world()
    w.script.extend([BadRequestError("no such model")] * 5)
    for i in range(6):
        w.send(ALICE, f"@bob {i}")
    assert len(w.ai_calls) == 6


def test_a_users_own_key_never_asks_for_the_operators_capacity() -> None:
    w = keyed_world()
    w.ai_available = False  # the operator's breaker is open: it does not matter with one's own key
    w.send(ALICE, "@bob hi")
    assert w.speaks(ALICE)[-1].text == "fine"
    assert not [e for _, e in w.trace if isinstance(e, Tell) and isinstance(e.body, SlotRequest)]
    assert not [e for _, e in w.trace if isinstance(e, Call) and e.method == "available"]


def test_one_users_broken_key_does_not_touch_another_user() -> None:
    w = keyed_world()
    w.script.extend([AuthError("bad key")] * 3)
    for i in range(4):
        w.send(ALICE, f"@bob {i}")
    w.script.append(Said("hi carol"))
    w.send(CAROL, "@bob hello")
    assert w.speaks(CAROL)[-1].text == "hi carol"
    assert w.ai_calls[-1].args[1] is None


def test_a_users_open_key_breaker_survives_a_restart() -> None:
    w = keyed_world()
    w.script.extend([AuthError("bad key")] * 3)
    for i in range(3):
        w.send(ALICE, f"@bob {i}")
    w.put("user", ALICE, UserState.restore(str(ALICE), decode(encode(w.user(ALICE).snapshot()))))
    w.now += 10
    w.send(ALICE, "@bob after the restart")
    assert len(w.ai_calls) == 3 and "refused the key" in w.speaks(ALICE)[-1].text
    assert w.user(ALICE).limits.key_breaker.state(NOW + 10) == OPEN
