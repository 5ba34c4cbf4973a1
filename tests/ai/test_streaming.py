"""Streamed answers shown while they arrive: the text so far, from the SSE chunks to the actor's reads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ai import AIClient, UnavailableError
from ai.errors import BadRequestError
from ai.response import assemble_stream
from ai.sse import parse_sse
from ai.streaming import StreamRuns, Workers
from emulator.ai import expected_reply
from testkit.process import wait_for
from tests.ai.helpers import SYSTEM

Factory = Callable[..., AIClient]
Streams = Callable[..., StreamRuns]


@pytest.fixture
def streams() -> Iterator[Streams]:
    """StreamRuns that are closed after the test: their kept threads leave (an actor system started later in the
    same process must find none)."""
    made: list[StreamRuns] = []

    def make(complete: Callable[..., Any]) -> StreamRuns:
        made.append(StreamRuns(complete))
        return made[-1]

    yield make
    for runs in made:
        runs.close()
    assert not [t for t in threading.enumerate() if t.name == "ai-stream"]


def _chunk(content: str, finish: str | None = None) -> str:
    body = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


def test_the_text_so_far_is_told_each_time_it_grows() -> None:
    seen: list[str] = []
    body = _chunk("Hel") + _chunk("") + _chunk("lo ") + _chunk("there", "stop") + "data: [DONE]\n\n"
    result = assemble_stream(parse_sse([body]), "m", seen.append)
    assert seen == ["Hel", "Hello ", "Hello there"]  # an empty delta tells nothing
    assert result.text == "Hello there"


def test_a_paced_stream_from_the_emulator_arrives_in_growing_prefixes(make_client: Factory) -> None:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "LONG:400 SPREAD:600"}]
    seen: list[str] = []
    result = make_client().complete(messages, model="emu/m1", stream=True, on_text=seen.append)
    full = expected_reply({"model": "emu/m1", "messages": messages})
    assert result.text == full and len(full) == 400
    assert len(seen) >= 10 and seen[-1] == full
    assert all(full.startswith(text) for text in seen)
    assert result.latency_ms >= 500  # paced, not sent at once


def test_runs_hand_back_the_text_so_far_then_the_result(make_client: Factory, streams: Streams) -> None:
    client = make_client()
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "LONG:600 SPREAD:1500"}]
    runs = streams(lambda request, key: client.complete(**request))
    first = runs.start(7, {"messages": messages, "model": "emu/m1"}, None, 0.4)
    assert not first.done and first.result is None
    reads: list[Any] = [first]
    while not reads[-1].done:
        reads.append(runs.progress(7, 0.4))
    full = expected_reply({"model": "emu/m1", "messages": messages})
    assert any(0 < len(r.text) < len(full) for r in reads[:-1])  # shown part-way
    assert reads[-1].result.text == full
    lost = runs.progress(7, 0.0)  # a finished run is forgotten: asking again is a clear failure, not a hang
    assert lost.done and isinstance(lost.result, UnavailableError)


def test_a_failed_run_hands_back_its_error(streams: Streams) -> None:
    def fails(request: dict[str, Any], key: str | None) -> Any:
        raise UnavailableError("down")

    progress = streams(fails).start(1, {"messages": []}, None, 5.0)
    assert progress.done and isinstance(progress.result, UnavailableError)


def test_a_backend_that_refuses_to_stream_is_asked_once_more_for_the_whole_answer(streams: Streams) -> None:
    asked: list[bool] = []

    def complete(request: dict[str, Any], key: str | None) -> Any:
        asked.append(bool(request.get("stream")))
        if request.get("stream"):
            raise BadRequestError("stream is not supported")
        return "the whole answer"

    progress = streams(complete).start(1, {"messages": []}, None, 5.0)
    assert (progress.done, progress.result, asked) == (True, "the whole answer", [True, False])
    refused_twice = streams(lambda request, key: (_ for _ in ()).throw(BadRequestError("no"))).start(
        2, {"messages": []}, None, 5.0)
    assert isinstance(refused_twice.result, BadRequestError)  # asked whole once, then the refusal stands


def test_kept_threads_are_reused_never_make_a_call_wait_and_leave_when_idle_or_closed() -> None:
    workers = Workers(idle_s=0.3)
    ran: list[str] = []
    first_done, release = threading.Event(), threading.Event()
    workers.submit(lambda: (ran.append(threading.current_thread().name + str(id(threading.current_thread()))),
                            first_done.set()))
    assert first_done.wait(5)
    wait_for(lambda: workers._idle, 5, "the first call's thread back in the pool")
    second = threading.Event()
    workers.submit(lambda: (ran.append(threading.current_thread().name + str(id(threading.current_thread()))),
                            release.wait(5), second.set()))
    third = threading.Event()
    workers.submit(third.set)  # the second call holds its thread: this one gets another, at once
    assert third.wait(5) and not second.is_set()
    release.set()
    assert second.wait(5) and ran[0] == ran[1]  # the same thread served the first two calls
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == "ai-stream"], 5,
             "threads idle for 0.3 s to leave by themselves")
    workers.submit(ran.append, "after")
    workers.close()
    assert ran[-1] == "after" and not [t for t in threading.enumerate() if t.name == "ai-stream"]
