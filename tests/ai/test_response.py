"""Non-streaming body shapes from the providers we target (pure, no network)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from ai.errors import (
    AIError,
    AuthError,
    BadRequestError,
    EmptyAnswerError,
    MalformedResponseError,
    RateLimitedError,
    UnavailableError,
    error_for_status,
    redact,
)
from ai.response import Usage, parse_completion


def body(content: Any, finish: str | None = "stop", **extra: Any) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": finish}], **extra}


def test_openai_shape() -> None:
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    result = parse_completion(body("Hi!", id="chatcmpl-1", model="gpt-x", usage=usage), "asked")
    assert (result.text, result.model, result.finish_reason) == ("Hi!", "gpt-x", "stop")
    assert result.usage == Usage(9, 3)


def test_ollama_shape_without_id_or_usage() -> None:
    result = parse_completion(body("llama says hi", system_fingerprint="fp_ollama"), "llama3")
    assert (result.text, result.model, result.usage) == ("llama says hi", "llama3", None)


def test_content_as_list_of_text_parts() -> None:
    parts = [{"type": "text", "text": "one "}, {"type": "image_url", "image_url": {"url": "x"}}, "two"]
    assert parse_completion(body(parts), "m").text == "one two"


def test_legacy_text_choice() -> None:
    assert parse_completion({"choices": [{"text": "old", "finish_reason": "length"}]}, "m").text == "old"


def test_partial_usage_is_kept_and_junk_usage_ignored() -> None:
    assert parse_completion(body("x", usage={"completion_tokens": 4}), "m").usage == Usage(None, 4)
    assert parse_completion(body("x", usage={"prompt_tokens": "lots"}), "m").usage is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"message": "Rate limit", "code": 429}, RateLimitedError),
        ({"message": "No auth", "code": 401}, AuthError),
        ({"message": "bad model", "code": 400}, BadRequestError),
        ({"message": "upstream", "code": 502}, UnavailableError),
        ({"message": "weird", "code": "mystery"}, UnavailableError),
        ({"message": "bad key", "code": "invalid_api_key"}, AuthError),
        ("just a string", UnavailableError),
    ],
)
def test_openrouter_error_body_with_http_200(error: Any, expected: type[AIError]) -> None:
    with pytest.raises(expected):
        parse_completion({"error": error}, "m")


@pytest.mark.parametrize(
    "bad",
    [[], "text", {}, {"choices": []}, {"choices": ["x"]}, {"choices": [{"finish_reason": "stop"}]}, body(42)],
)
def test_malformed_shapes(bad: Any) -> None:
    with pytest.raises(MalformedResponseError):
        parse_completion(bad, "m")


@pytest.mark.parametrize("content", ["", "  \n", None, []])
def test_empty_answers(content: Any) -> None:
    with pytest.raises(EmptyAnswerError):
        parse_completion(body(content, "length"), "m")


def test_finish_reason_error() -> None:
    with pytest.raises(UnavailableError):
        parse_completion(body("partial", "error"), "m")


def test_status_mapping_and_kinds() -> None:
    kinds = {s: error_for_status(s, "m").kind for s in (400, 401, 402, 403, 404, 408, 429, 500, 503, 302)}
    assert kinds == {
        400: "bad_request", 401: "auth", 402: "bad_request", 403: "auth", 404: "bad_request",
        408: "unavailable", 429: "rate_limited", 500: "unavailable", 503: "unavailable", 302: "malformed",
    }  # fmt: skip


def test_errors_pickle_with_their_fields() -> None:
    error = pickle.loads(pickle.dumps(RateLimitedError("slow", status=429, retry_after=2.5)))
    assert isinstance(error, RateLimitedError)
    assert (error.message, error.status, error.retry_after, error.kind) == ("slow", 429, 2.5, "rate_limited")


def test_redact_scrubs_given_and_key_shaped_secrets_and_bounds_length() -> None:
    raw = "key mine-123 and sk-proj-abcdefgh and Bearer tok.en-12345 bearer of news " + "x" * 500
    text = redact(raw, ["mine-123", None])
    assert "mine-123" not in text and "sk-proj" not in text and "tok.en" not in text and "bearer of news" in text
    assert len(text) <= 300
