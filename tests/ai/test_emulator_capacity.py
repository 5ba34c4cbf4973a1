"""The AI emulator's capacity control: at most N requests at once, the rest queued FIFO or refused with 429,
for every model or for one model, changed at run time over HTTP or from Python."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from ai import AIClient, RateLimitedError, RetryPolicy
from emulator.ai import AIEmulator
from tests.ai.helpers import MESSAGES, wait_until

NO_RETRY = RetryPolicy(max_retries=0)


def ask_in_background(base_url: str, model: str, results: list[Any]) -> threading.Thread:
    def ask() -> None:
        with AIClient(base_url, "k", retry=NO_RETRY, timeout_s=30) as client:
            try:
                results.append(client.complete(MESSAGES, model=model).text)
            except Exception as exc:  # noqa: BLE001 - the test reads it
                results.append(exc)

    thread = threading.Thread(target=ask)
    thread.start()
    return thread


def test_a_limit_set_over_http_serves_n_at_once_and_queues_the_rest() -> None:
    with AIEmulator().start_in_thread() as emulator:
        reply = httpx.post(f"{emulator.url}/_emulator/capacity", json={"limit": 2})
        assert reply.status_code == 200 and reply.json()["capacity"]["*"] == {"limit": 2, "when_full": "queue"}
        emulator.add_fault(latency_s=0.3)
        results: list[Any] = []
        threads = [ask_in_background(emulator.base_url, "m", results) for _ in range(5)]
        wait_until(lambda: emulator.stats()["queued"] == 3, what="two served, three queued")
        assert emulator.stats()["in_flight"] == 2
        for thread in threads:
            thread.join(10)
        assert len(results) == 5 and all(isinstance(r, str) for r in results)
        assert emulator.stats()["max_in_flight"] == 2


def test_a_model_can_have_its_own_limit_apart_from_the_rest() -> None:
    with AIEmulator().start_in_thread() as emulator:
        emulator.set_capacity(1, model="solo")
        emulator.add_fault(model="solo", latency_s=0.5)
        results: list[Any] = []
        threads = [ask_in_background(emulator.base_url, "solo", results) for _ in range(3)]
        wait_until(lambda: emulator.stats()["capacity"].get("solo", {}).get("queued") == 2, what="solo queue")
        with AIClient(emulator.base_url, "k", retry=NO_RETRY) as client:  # another model is not held up
            assert client.complete(MESSAGES, model="other").text.startswith("[other]")
        assert emulator.stats()["capacity"]["solo"]["in_flight"] == 1
        for thread in threads:
            thread.join(10)
        assert len(results) == 3 and all(isinstance(r, str) for r in results)


def test_when_full_429_refuses_at_once_instead_of_queueing() -> None:
    with AIEmulator().start_in_thread() as emulator:
        emulator.set_capacity(1, when_full="429")
        emulator.add_fault(latency_s=0.5, count=1)
        results: list[Any] = []
        holder = ask_in_background(emulator.base_url, "m", results)
        wait_until(lambda: emulator.stats()["in_flight"] == 1, what="the one slot held")
        with AIClient(emulator.base_url, "k", retry=NO_RETRY) as client, pytest.raises(RateLimitedError):
            client.complete(MESSAGES, model="m")
        holder.join(10)
        assert isinstance(results[0], str) and emulator.stats()["by_outcome"]["429_full"] == 1
        with AIClient(emulator.base_url, "k", retry=NO_RETRY) as client:  # room again
            assert client.complete(MESSAGES, model="m").text


def test_raising_the_limit_lets_the_queued_in_and_delete_restores_the_start_limit() -> None:
    with AIEmulator(max_concurrent=1).start_in_thread() as emulator:
        emulator.add_fault(latency_s=1.0)
        results: list[Any] = []
        threads = [ask_in_background(emulator.base_url, "m", results) for _ in range(3)]
        wait_until(lambda: emulator.stats()["queued"] == 2, what="one served, two queued")
        emulator.set_capacity(3)
        wait_until(lambda: emulator.stats()["in_flight"] == 3, what="the queued let in")
        for thread in threads:
            thread.join(10)
        assert httpx.delete(f"{emulator.url}/_emulator/capacity").status_code == 200
        assert emulator.capacity() == {"*": {"limit": 1, "when_full": "queue"}}


@pytest.mark.parametrize("body", [{"limit": 0}, {"limit": "2"}, {"limit": 2, "when_full": "drop"}, {"model": "m"},
                                  {"limit": 2, "model": 5}, {"limit": 2, "colour": "red"}, [2]])
def test_a_bad_capacity_is_refused_with_a_clear_message_and_changes_nothing(body: Any) -> None:
    with AIEmulator(max_concurrent=4).start_in_thread() as emulator:
        reply = httpx.post(f"{emulator.url}/_emulator/capacity", json=body)
        assert reply.status_code == 400 and "bad capacity" in reply.text
        assert emulator.capacity() == {"*": {"limit": 4, "when_full": "queue"}}
