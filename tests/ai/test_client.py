"""The AI client against the emulator over loopback."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ai import (
    AIClient,
    AITimeoutError,
    AuthError,
    Completion,
    EmptyAnswerError,
    MalformedResponseError,
    RateLimitedError,
    UnavailableError,
)
from emulator.ai import AIEmulator, EmulatorThread, expected_reply, key_fingerprint
from tests.ai.helpers import FAST_RETRY, MESSAGES, OPERATOR_KEY, free_port, wait_until

Factory = Callable[..., AIClient]
USER_KEY = "sk-or-v1-user-own-key-fedcba9876543210"


def request_for(model: str, messages: list[dict[str, Any]] = MESSAGES) -> dict[str, Any]:
    return {"model": model, "messages": messages}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_plain_answer_is_the_expected_reply(make_client: Factory, stream: bool) -> None:
    result = make_client().complete(MESSAGES, model="emu/m1", temperature=0.7, stream=stream)
    assert isinstance(result, Completion)
    assert result.text == expected_reply(request_for("emu/m1"))
    assert (result.model, result.finish_reason) == ("emu/m1", "stop")
    assert result.latency_ms >= 0


def test_usage_reported_for_json_and_for_streams_when_asked(make_client: Factory) -> None:
    assert make_client().complete(MESSAGES, model="m").usage is not None
    assert make_client().complete(MESSAGES, model="m", stream=True).usage is None
    assert make_client(stream_usage=True).complete(MESSAGES, model="m", stream=True).usage is not None


def test_image_parts_are_sent_through(make_client: Factory) -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://cdn.example/cat.png"}},
    ]
    messages = [MESSAGES[0], {"role": "user", "content": content}]
    result = make_client().complete(messages, model="vision", max_tokens=50)
    assert result.text.endswith("heard: what is this? [images: 1]")


def test_long_answer(make_client: Factory) -> None:
    messages = [{"role": "user", "content": "please LONG:4500"}]
    assert len(make_client().complete(messages, model="m", stream=True).text) == 4500


def test_429_with_retry_after_then_success(emulator: EmulatorThread, make_client: Factory) -> None:
    emulator.add_fault(fail="429", count=1, retry_after=1)
    started = time.monotonic()
    result = make_client().complete(MESSAGES, model="m")
    assert result.text == expected_reply(request_for("m"))
    assert time.monotonic() - started >= 0.95  # Retry-After honoured, not the 20 ms backoff
    assert emulator.stats()["requests"] == 2


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_500_twice_then_success(emulator: EmulatorThread, make_client: Factory, stream: bool) -> None:
    emulator.add_fault(fail="500", count=2)
    assert make_client().complete(MESSAGES, model="m", stream=stream).text == expected_reply(request_for("m"))
    assert emulator.stats()["requests"] == 3


def test_persistent_500_gives_unavailable_after_bounded_retries(emulator: EmulatorThread, make_client: Factory) -> None:
    emulator.add_fault(fail="500")
    with pytest.raises(UnavailableError) as caught:
        make_client().complete(MESSAGES, model="m")
    assert (caught.value.kind, caught.value.status) == ("unavailable", 500)
    assert emulator.stats()["requests"] == 1 + FAST_RETRY.max_retries


def test_persistent_429_gives_rate_limited_with_retry_after(emulator: EmulatorThread, make_client: Factory) -> None:
    emulator.add_fault(fail="429", retry_after=0)
    with pytest.raises(RateLimitedError) as caught:
        make_client().complete(MESSAGES, model="m")
    assert (caught.value.kind, caught.value.retry_after) == ("rate_limited", 0.0)


def test_error_mid_stream_is_retried(emulator: EmulatorThread, make_client: Factory) -> None:
    emulator.add_fault(fail="error200", count=1)
    assert make_client().complete(MESSAGES, model="m", stream=True).text == expected_reply(request_for("m"))
    assert emulator.stats()["requests"] == 2


@pytest.mark.parametrize("fail", ["timeout", "trickle"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_whole_request_deadline(emulator: EmulatorThread, make_client: Factory, fail: str, stream: bool) -> None:
    """The "trickle" fault sends keep-alive bytes every 0.1 s: only a whole-request deadline stops it."""
    client = make_client(timeout_s=1.0)
    client.complete(MESSAGES, model="m", stream=stream)  # a pooled connection to reuse
    emulator.add_fault(fail=fail)
    started = time.monotonic()
    with pytest.raises(AITimeoutError) as caught:
        client.complete(MESSAGES, model="m", stream=stream)
    assert 0.9 <= time.monotonic() - started < 1.5
    assert caught.value.kind == "timeout"
    wait_until(lambda: emulator.stats()["in_flight"] == 0, what="held request released")


def test_per_call_timeout_override(emulator: EmulatorThread, make_client: Factory) -> None:
    emulator.add_fault(fail="timeout")
    started = time.monotonic()
    with pytest.raises(AITimeoutError):
        make_client(timeout_s=30.0).complete(MESSAGES, model="m", timeout_s=0.3)
    assert time.monotonic() - started < 0.8


def test_latency_beyond_deadline_is_a_timeout_not_retried(emulator: EmulatorThread, make_client: Factory) -> None:
    emulator.add_fault(latency_s=5)
    with pytest.raises(AITimeoutError):
        make_client(timeout_s=0.5).complete(MESSAGES, model="m")
    assert emulator.stats()["requests"] == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_empty_answer(emulator: EmulatorThread, make_client: Factory, stream: bool) -> None:
    emulator.add_fault(fail="empty")
    with pytest.raises(EmptyAnswerError) as caught:
        make_client().complete(MESSAGES, model="m", stream=stream)
    assert caught.value.kind == "empty"
    assert emulator.stats()["requests"] == 1  # not retried


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_malformed_answer(emulator: EmulatorThread, make_client: Factory, stream: bool) -> None:
    emulator.add_fault(fail="malformed")
    with pytest.raises(MalformedResponseError):
        make_client().complete(MESSAGES, model="m", stream=stream)


def test_401_is_an_auth_error_and_not_retried(emulator: EmulatorThread, make_client: Factory) -> None:
    emulator.add_fault(fail="401")
    with pytest.raises(AuthError, match="the key was refused") as caught:
        make_client().complete(MESSAGES, model="m")
    assert (caught.value.kind, caught.value.status) == ("auth", 401)
    assert emulator.stats()["requests"] == 1


def test_byok_user_key_replaces_operator_key(emulator: EmulatorThread, make_client: Factory) -> None:
    client = make_client()
    client.complete(MESSAGES, model="m", api_key=USER_KEY)
    assert emulator.stats()["by_key"] == {key_fingerprint(USER_KEY): 1}
    client.complete(MESSAGES, model="m")
    assert emulator.stats()["by_key"] == {key_fingerprint(USER_KEY): 1, key_fingerprint(OPERATOR_KEY): 1}


def test_fault_by_key_hits_only_that_user(emulator: EmulatorThread, make_client: Factory) -> None:
    emulator.add_fault(key=USER_KEY, fail="403")
    client = make_client()
    with pytest.raises(AuthError):
        client.complete(MESSAGES, model="m", api_key=USER_KEY)
    assert client.complete(MESSAGES, model="m").text == expected_reply(request_for("m"))


def test_no_key_sends_no_authorization(emulator: EmulatorThread, make_client: Factory) -> None:
    make_client(api_key=None).complete(MESSAGES, model="ollama/llama3")
    assert emulator.stats()["by_key"] == {"none": 1}


def test_connection_refused_is_unavailable() -> None:
    client = AIClient(f"http://127.0.0.1:{free_port()}/v1", OPERATOR_KEY, retry=FAST_RETRY, timeout_s=5)
    with client, pytest.raises(UnavailableError) as caught:
        client.complete(MESSAGES, model="m")
    assert caught.value.kind == "unavailable"


def test_concurrency_limit_queues_the_third_request() -> None:
    with AIEmulator(max_concurrent=2).start_in_thread() as emulator:
        emulator.add_fault(latency_s=0.3)
        results: list[str] = []
        clients = [AIClient(emulator.base_url, OPERATOR_KEY) for _ in range(3)]

        def ask(client: AIClient) -> None:
            results.append(client.complete(MESSAGES, model="m").text)

        threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        wait_until(lambda: emulator.stats()["queued"] == 1, what="third request queued")
        assert emulator.stats()["in_flight"] == 2
        for thread in threads:
            thread.join(10)
        for client in clients:
            client.close()
        stats = emulator.stats()
        assert (stats["max_in_flight"], stats["in_flight"], stats["queued"]) == (2, 0, 0)
        assert results == [expected_reply(request_for("m"))] * 3


def test_new_process_gets_a_new_connection_pool(make_client: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client()
    client.complete(MESSAGES, model="m")
    inherited = client._http
    monkeypatch.setattr("ai.client.os.getpid", lambda: -1)  # as if forked
    client.complete(MESSAGES, model="m")
    assert client._http is not inherited and inherited is not None and not inherited.is_closed
    inherited.close()  # in a real fork the parent would own and close it
    client.close()  # while getpid is still patched, so the pool counts as ours


def test_client_pickles_without_its_pool(make_client: Factory) -> None:
    client = make_client()
    client.complete(MESSAGES, model="m")
    copy = pickle.loads(pickle.dumps(client))
    assert copy._http is None
    assert copy.complete(MESSAGES, model="m").text == expected_reply(request_for("m"))
    copy.close()
