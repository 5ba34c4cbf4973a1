"""Streamed answers shown while they arrive: the text so far, from the SSE chunks to the actor's reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ai import AIClient, UnavailableError
from ai.errors import BadRequestError
from ai.response import assemble_stream
from ai.sse import parse_sse
from ai.streaming import StreamRuns
from emulator.ai import expected_reply
from tests.ai.helpers import SYSTEM

Factory = Callable[..., AIClient]


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


def test_runs_hand_back_the_text_so_far_then_the_result(make_client: Factory) -> None:
    client = make_client()
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "LONG:600 SPREAD:1500"}]
    runs = StreamRuns(lambda request, key: client.complete(**request))
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


def test_a_failed_run_hands_back_its_error() -> None:
    def fails(request: dict[str, Any], key: str | None) -> Any:
        raise UnavailableError("down")

    progress = StreamRuns(fails).start(1, {"messages": []}, None, 5.0)
    assert progress.done and isinstance(progress.result, UnavailableError)


def test_a_backend_that_refuses_to_stream_is_asked_once_more_for_the_whole_answer() -> None:
    asked: list[bool] = []

    def complete(request: dict[str, Any], key: str | None) -> Any:
        asked.append(bool(request.get("stream")))
        if request.get("stream"):
            raise BadRequestError("stream is not supported")
        return "the whole answer"

    progress = StreamRuns(complete).start(1, {"messages": []}, None, 5.0)
    assert (progress.done, progress.result, asked) == (True, "the whole answer", [True, False])
    refused_twice = StreamRuns(lambda request, key: (_ for _ in ()).throw(BadRequestError("no"))).start(
        2, {"messages": []}, None, 5.0)
    assert isinstance(refused_twice.result, BadRequestError)  # asked whole once, then the refusal stands
