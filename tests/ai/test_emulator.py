"""The AI emulator itself: reply rule, HTTP control endpoints, queueing and lifecycle."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ai import AIClient, AITimeoutError, AuthError, BadRequestError, RetryPolicy
from emulator.ai import AIEmulator, EmulatorThread, expected_reply, key_fingerprint, long_text
from tests.ai.helpers import MESSAGES, SYSTEM, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_reply_rule() -> None:
    expected = "[m] You are Lilith, a sardonic night owl. heard: hello there"
    assert expected_reply({"model": "m", "messages": MESSAGES}) == expected
    persona = "x" * 59 + " y" + "z" * 10
    request = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": f"\n  {persona}\nrest"}]},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ignored"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        ]
    }
    assert expected_reply(request) == f"[unknown] {'x' * 59} heard: a\nb"
    assert expected_reply({"model": "m", "messages": []}) == "[m] assistant heard: "


def test_a_merged_turn_is_heard_whole() -> None:
    """Every user line after the last assistant message is the turn: the reply quotes each, in order."""
    request = {"model": "m", "messages": [
        {"role": "system", "content": "P"},
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "said"},
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ]}
    assert expected_reply(request) == "[m] P heard: one\ntwo"


def test_long_text_is_exact_deterministic_and_structured() -> None:
    for n in (1, 2, 77, 1999, 2000, 2001, 4500, 10_000):
        text = long_text(n)
        assert len(text) == n and not text[-1].isspace() and text == long_text(n)
    text = long_text(4500)
    assert "\n\n" in text and "\n" in text.replace("\n\n", "") and ". " in text
    assert expected_reply({"messages": [{"role": "user", "content": "go LONG:4500 now"}]}) == text


def test_http_endpoints(emulator: EmulatorThread) -> None:
    key = "sk-http-test-key-123456"
    with httpx.Client(base_url=emulator.url, timeout=5) as http:
        added = http.post("/_emulator/faults", json={"key": key, "fail": "429", "count": 1, "retry_after": 3})
        assert added.status_code == 200
        assert http.get("/_emulator/faults").json()["faults"][0]["key"] == key_fingerprint(key)
        assert key not in http.get("/_emulator/faults").text
        body = {"model": "m", "messages": MESSAGES}
        limited = http.post("/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
        assert http.get("/_emulator/faults").json()["faults"] == []  # count used up
        answer = http.post("/v1/chat/completions", json=body).json()
        assert answer["choices"][0]["message"]["content"] == expected_reply(body)
        assert "id" in answer and answer["usage"]["completion_tokens"] > 0
        assert {"emulator-model", "m"} <= {m["id"] for m in http.get("/v1/models").json()["data"]}
        stats = http.get("/_emulator/stats").json()
        assert stats["requests"] == 2 and stats["by_key"] == {key_fingerprint(key): 1, "none": 1}
        assert stats["by_outcome"] == {"429": 1, "ok": 1}
        assert http.post("/_emulator/faults", json={"fail": "sometimes"}).status_code == 400
        assert http.post("/_emulator/faults", json={"colour": "red"}).status_code == 400
        assert http.post("/v1/chat/completions", content=b"{nope").status_code == 400
        http.post("/_emulator/faults", json={"model": "slow", "latency_s": 0.05})
        assert http.delete("/_emulator/faults").status_code == 200 and emulator.faults() == []
        assert http.delete("/_emulator/stats").status_code == 200 and emulator.stats()["requests"] == 0


def test_sse_wire_format(emulator: EmulatorThread) -> None:
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    with httpx.Client(timeout=5) as http:
        response = http.post(f"{emulator.base_url}/chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith(": OPENROUTER PROCESSING\n\n")
    assert response.text.endswith("data: [DONE]\n\n")
    assert '"object": "chat.completion.chunk"' in response.text


def test_fault_by_model_and_first_match_order(emulator: EmulatorThread) -> None:
    emulator.add_fault(model="bad", fail="400")
    emulator.add_fault(fail="401", count=1)
    with AIClient(emulator.base_url, "k", timeout_s=5) as client:
        with pytest.raises(AuthError):  # the "bad" rule does not match model "good"
            client.complete(MESSAGES, model="good")
        assert client.complete(MESSAGES, model="good").text.startswith("[good]")  # 401 used up
        with pytest.raises(BadRequestError):
            client.complete(MESSAGES, model="bad")
    assert emulator.stats()["by_outcome"] == {"401": 1, "ok": 1, "400": 1}


def test_allowed_keys() -> None:
    with AIEmulator(api_keys={"good-key"}).start_in_thread() as emulator:
        with AIClient(emulator.base_url, "good-key") as client:
            assert client.complete(MESSAGES, model="m").text
            with pytest.raises(AuthError):
                client.complete(MESSAGES, model="m", api_key="other-key")


def test_queue_is_fifo() -> None:
    with AIEmulator(max_concurrent=1).start_in_thread() as emulator:
        emulator.add_fault(latency_s=0.15)
        finished: list[str] = []
        threads: list[threading.Thread] = []
        for name in ("first", "second", "third"):
            messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": name}]

            def ask(name: str = name, messages: list[dict[str, Any]] = messages) -> None:
                with AIClient(emulator.base_url, "k") as client:
                    client.complete(messages, model="m")
                finished.append(name)

            threads.append(threading.Thread(target=ask))
            threads[-1].start()
            arrived = len(threads)
            wait_until(lambda n=arrived: emulator.stats()["requests"] == n, what=f"{name} arrived")
        for thread in threads:
            thread.join(10)
        assert finished == ["first", "second", "third"]
        assert emulator.stats()["max_in_flight"] == 1


def test_queued_request_that_gives_up_leaves_the_queue() -> None:
    with AIEmulator(max_concurrent=1).start_in_thread() as emulator:
        emulator.add_fault(fail="timeout", count=1)
        quick = RetryPolicy(max_retries=0)
        with (
            AIClient(emulator.base_url, "k", timeout_s=0.6, retry=quick) as holder,
            AIClient(emulator.base_url, "k", timeout_s=0.3, retry=quick) as waiter,
        ):
            held = threading.Thread(target=lambda: pytest.raises(AITimeoutError, holder.complete, MESSAGES, model="m"))
            held.start()
            wait_until(lambda: emulator.stats()["in_flight"] == 1, what="held request")
            with pytest.raises(AITimeoutError):
                waiter.complete(MESSAGES, model="m")
            wait_until(lambda: emulator.stats()["queued"] == 0, what="waiter left the queue")
            held.join(5)
            wait_until(lambda: emulator.stats()["in_flight"] == 0, what="slot released")
            assert waiter.complete(MESSAGES, model="m", timeout_s=5).text.startswith("[m]")


def test_stop_does_not_hang_on_held_requests() -> None:
    emulator = AIEmulator(max_concurrent=1).start_in_thread()
    emulator.add_fault(fail="timeout")
    errors: list[BaseException] = []

    def ask() -> None:
        with AIClient(emulator.base_url, "k", timeout_s=30, retry=RetryPolicy(max_retries=0)) as client:
            try:
                client.complete(MESSAGES, model="m")
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]  # one held, one queued behind it
    for thread in threads:
        thread.start()
    wait_until(lambda: emulator.stats()["queued"] == 1, what="held and queued requests")
    started = time.monotonic()
    emulator.stop()
    for thread in threads:
        thread.join(10)
    assert time.monotonic() - started < 1 and len(errors) == 2
    emulator.stop()  # idempotent


def test_async_lifecycle_with_held_request() -> None:
    async def scenario() -> float:
        emulator = AIEmulator()
        await emulator.start()
        assert emulator.port > 0 and emulator.base_url == f"http://127.0.0.1:{emulator.port}/v1"
        emulator.add_fault(fail="trickle")
        async with httpx.AsyncClient(timeout=30) as http:
            body = {"model": "m", "messages": MESSAGES, "stream": True}
            held = asyncio.create_task(http.post(f"{emulator.base_url}/chat/completions", json=body))
            while emulator.stats()["in_flight"] == 0:
                await asyncio.sleep(0.005)
            started = time.monotonic()
            await emulator.stop()
            await asyncio.wait_for(held, 5)
            return time.monotonic() - started

    assert asyncio.run(scenario()) < 3


def test_loopback_only() -> None:
    with pytest.raises(ValueError):
        AIEmulator(host="0.0.0.0")


def test_standalone_module_prints_its_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.ai", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("AI emulator listening: http://127.0.0.1:")
        base_url = line.split(": ", 1)[1].strip()
        assert httpx.get(f"{base_url}/models", timeout=5).status_code == 200
    finally:
        process.terminate()
        assert process.wait(10) == 0
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()
