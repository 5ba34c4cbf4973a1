"""SSE decoding and stream assembly with tricky inputs (pure, no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ai.errors import EmptyAnswerError, MalformedResponseError, RateLimitedError, UnavailableError
from ai.response import assemble_stream
from ai.sse import SSEEvent, parse_sse


def chunk(content: str | None = None, finish: str | None = None, **extra: object) -> str:
    delta = {} if content is None else {"content": content}
    body = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(body)}\n\n"


def byte_by_byte(text: str) -> list[bytes]:
    raw = text.encode()
    return [raw[i : i + 1] for i in range(len(raw))]


def test_basic_events_comments_and_done() -> None:
    text = ": OPENROUTER PROCESSING\n\ndata: a\n\n: keep-alive\ndata: b\n\ndata: [DONE]\n\n"
    assert [e.data for e in parse_sse([text])] == ["a", "b", "[DONE]"]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings_survive_any_chunking(eol: str) -> None:
    text = f"data: héllo 🌍{eol}data: second{eol}{eol}event: error{eol}data: x{eol}{eol}"
    expected = [SSEEvent("héllo 🌍\nsecond"), SSEEvent("x", "error")]
    assert list(parse_sse([text.encode()])) == expected
    assert list(parse_sse(byte_by_byte(text))) == expected  # splits CRLF and UTF-8 sequences


def test_field_parsing_rules() -> None:
    text = "\ufeffdata:no-space\ndata:  two spaces\ndata\nid: 7\nretry: 10\nfoo: bar\n\n"
    assert [e.data for e in parse_sse([text])] == ["no-space\n two spaces\n"]


def test_blank_lines_without_data_dispatch_nothing_and_event_name_resets() -> None:
    text = "\n\nevent: ping\n\ndata: after\n\n"
    assert list(parse_sse([text])) == [SSEEvent("after", "message")]


def until_closed(*chunks: bytes | str) -> tuple[Iterator[SSEEvent], list[bool]]:
    """Events of these chunks, and a flag set once the stream has ended (httpx-sse pulls; it has no feed)."""
    closed: list[bool] = []

    def source() -> Iterator[bytes | str]:
        yield from chunks
        closed.append(True)

    return parse_sse(source()), closed


def test_unterminated_final_event_is_flushed_at_close() -> None:
    events, closed = until_closed(b"data: [DONE]")
    assert next(events) == SSEEvent("[DONE]") and closed == [True]
    assert list(events) == []


def test_trailing_cr_at_close_ends_the_line() -> None:
    events, closed = until_closed("data: x\r")
    assert next(events) == SSEEvent("x") and closed == [True]
    assert list(events) == []


def test_assemble_joins_deltas_and_stops_at_done() -> None:
    text = (
        ": OPENROUTER PROCESSING\n\n"
        + chunk("Hel", model="m-real")
        + chunk("lo")
        + chunk(None, "stop")
        + 'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\n'
        + "data: [DONE]\n\n"
        + "data: {not even json\n\n"  # never read: [DONE] ends the stream
    )
    result = assemble_stream(parse_sse(byte_by_byte(text)), "m-asked")
    assert (result.text, result.model, result.finish_reason) == ("Hello", "m-real", "stop")
    assert result.usage is not None and result.usage.completion_tokens == 2


def test_multi_line_data_event_holds_one_json_object() -> None:
    text = 'data: {"choices": [{"delta":\ndata: {"content": "split"}, "finish_reason": "stop"}]}\n\n'
    assert assemble_stream(parse_sse([text]), "m").text == "split"


def test_content_parts_in_deltas() -> None:
    text = chunk([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) + chunk("c", "stop")  # type: ignore[arg-type]
    assert assemble_stream(parse_sse([text]), "m").text == "abc"


def test_error_event_mid_stream() -> None:
    error = {"error": {"code": "server_error", "message": "Provider disconnected"}}
    text = chunk("partial") + f"data: {json.dumps(error)}\n\n"
    with pytest.raises(UnavailableError, match="Provider disconnected"):
        assemble_stream(parse_sse([text]), "m")


def test_numeric_error_code_mid_stream_keeps_its_meaning() -> None:
    text = 'data: {"error": {"code": 429, "message": "slow down"}}\n\n'
    with pytest.raises(RateLimitedError):
        assemble_stream(parse_sse([text]), "m")


def test_named_error_event_with_plain_text() -> None:
    with pytest.raises(UnavailableError):
        assemble_stream(parse_sse(["event: error\ndata: overloaded\n\n"]), "m")


def test_finish_reason_error_is_unavailable() -> None:
    with pytest.raises(UnavailableError):
        assemble_stream(parse_sse([chunk("x", "error")]), "m")


def test_stream_cut_short_is_unavailable() -> None:
    with pytest.raises(UnavailableError, match="ended before"):
        assemble_stream(parse_sse([chunk("half an ans")]), "m")


def test_finish_reason_without_done_is_accepted() -> None:
    assert assemble_stream(parse_sse([chunk("all", "stop")]), "m").text == "all"


def test_empty_stream_answer() -> None:
    with pytest.raises(EmptyAnswerError, match="content_filter"):
        assemble_stream(parse_sse([chunk("", "content_filter") + "data: [DONE]\n\n"]), "m")


def test_non_json_event_is_malformed() -> None:
    with pytest.raises(MalformedResponseError):
        assemble_stream(parse_sse(["data: {oops\n\n"]), "m")
