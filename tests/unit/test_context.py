"""What the model is told, and how a failure is spoken: the pure helpers of `actors.state.context`."""

from __future__ import annotations

import pytest

from actors.state.context import (
    MAX_CHARS,
    MAX_TURNS,
    Speaker,
    author_label,
    build_messages,
    context_line,
    error_kind,
    looks_like_error,
    spoken_error,
    strip_mention,
    trim_history,
    user_turn,
)
from ai.errors import (
    AIError,
    AITimeoutError,
    AuthError,
    BadRequestError,
    EmptyAnswerError,
    MalformedResponseError,
    RateLimitedError,
    UnavailableError,
)

AT = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
BOB = Speaker("bob", "Bob", "You are Bob.")


def exchange(n: int, size: int = 10) -> list[dict[str, str]]:
    """`n` user/assistant pairs, numbered so the test can tell which survived."""
    turns: list[dict[str, str]] = []
    for i in range(n):
        turns.append({"role": "user", "content": f"u{i:03d}".ljust(size, ".")})
        turns.append({"role": "assistant", "content": f"a{i:03d}".ljust(size, ".")})
    return turns


# ---- trim_history ----------------------------------------------------------------------------------


def test_the_bounds_are_twenty_turns_and_eight_thousand_characters() -> None:
    assert (MAX_TURNS, MAX_CHARS) == (20, 8_000)


def test_short_history_is_kept_whole() -> None:
    turns = exchange(3)
    assert trim_history(turns) == turns


def test_empty_history_stays_empty() -> None:
    assert trim_history([]) == []


def test_long_history_keeps_the_newest_twenty_turns() -> None:
    turns = exchange(30)
    kept = trim_history(turns)
    assert len(kept) == MAX_TURNS
    assert kept == turns[-MAX_TURNS:]
    assert kept[-1]["content"].startswith("a029")


def test_history_is_bounded_by_characters_keeping_the_newest() -> None:
    turns = exchange(8, size=1_000)  # 16 turns, 16,000 characters
    kept = trim_history(turns)
    assert sum(len(t["content"]) for t in kept) <= MAX_CHARS
    assert kept == turns[-8:]  # exactly 8,000 characters fit


def test_history_never_starts_on_an_assistant_turn() -> None:
    turns = exchange(3)
    kept = trim_history(turns, max_turns=5)  # the 5 newest start on an assistant turn
    assert kept[0]["role"] == "user"
    assert kept == turns[-4:]


def test_a_turn_too_big_for_the_bound_ends_the_history_there() -> None:
    turns = [
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "x" * (MAX_CHARS + 1)},
        {"role": "user", "content": "new"},
        {"role": "assistant", "content": "answer"},
    ]
    assert trim_history(turns) == turns[-2:]


def test_custom_bounds_are_respected() -> None:
    kept = trim_history(exchange(10, size=10), max_turns=6, max_chars=35)
    assert len(kept) <= 6 and sum(len(t["content"]) for t in kept) <= 35
    assert kept[0]["role"] == "user"


# ---- strip_mention ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "alias", "expected"),
    [
        ("@big bob hello", "big bob", "hello"),
        ("@Big   Bob, hello there", "big bob", "hello there"),
        ("@bob: what now?", "bob", "what now?"),
        ("@BOB, hi", "bob", "hi"),
        ("@bob", "bob", "@bob"),  # nothing else: the model still gets something
        ("  plain text  ", "", "plain text"),
        ("@bobby hi", "bob", "@bobby hi"),  # a longer word is not the alias
        ("@bob hi @bob", "bob", "hi @bob"),  # only the first one
    ],
)
def test_strip_mention(text: str, alias: str, expected: str) -> None:
    assert strip_mention(text, alias) == expected


def test_strip_mention_in_the_middle_keeps_the_words_around_it() -> None:
    assert strip_mention("hey @bob how are you", "bob").split() == ["hey", "how", "are", "you"]


# ---- looks_like_error ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "Error: upstream",
        "error 502",
        "ERROR",
        "Exception: something broke",
        "Traceback (most recent call last):\n  File ...",
        "Internal Server Error",
        '{"error": {"message": "bad"}}',
        "upstream connect error or disconnect/reset before headers",
        "upstream error",
        "Bad Gateway",
        "  Service Unavailable",
    ],
)
def test_error_looking_texts_are_errors(text: str) -> None:
    assert looks_like_error(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hello there!",
        "No error here, all good.",
        "Errors happen to everyone.",
        "I'd say the service is unavailable today.",
        '{"answer": 42}',
    ],
)
def test_ordinary_answers_are_not_errors(text: str) -> None:
    assert not looks_like_error(text)


def test_an_answer_about_exception_handling_is_not_an_error() -> None:
    assert not looks_like_error("Exception handling in Java uses try and catch blocks.")
    assert not looks_like_error("Error handling matters: always check what a call returns.")


# ---- failures, spoken ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RateLimitedError("x"), "rate_limited"),
        (UnavailableError("x"), "unavailable"),
        (AITimeoutError("x"), "timeout"),
        (AuthError("x"), "auth"),
        (EmptyAnswerError("x"), "empty"),
        (BadRequestError("x"), "generic"),
        (MalformedResponseError("x"), "generic"),
        (AIError("x"), "generic"),
        (ValueError("x"), "generic"),
        (None, "generic"),
    ],
)
def test_error_kind(error: object, kind: str) -> None:
    assert error_kind(error) == kind


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("rate_limited", "too many requests"),
        ("unavailable", "connection to the AI service"),
        ("timeout", "too long"),
        ("auth", "refused the key"),
        ("empty", "couldn't come up with a response"),
        ("generic", "Something went wrong"),
        ("no such kind", "Something went wrong"),
    ],
)
def test_spoken_error_says_what_happened_and_the_reference(kind: str, words: str) -> None:
    text = spoken_error(kind, "ab12cd34")
    assert words in text
    assert text.endswith("(reference: `ab12cd34`)")


def test_the_auth_error_points_to_auth_status() -> None:
    assert "auth status" in spoken_error("auth", "r")


# ---- labels, lines and turns -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("display", "username", "label"),
    [
        ("Alice A", "alice", "Alice A (alice)"),
        ("alice", "alice", "alice"),
        ("", "alice", "alice"),
    ],
)
def test_author_label(display: str, username: str, label: str) -> None:
    assert author_label(display, username) == label


def test_context_line_in_a_server_and_in_a_dm() -> None:
    assert context_line("Guild", "general", "text", AT) == "[Guild > #general | 2023-11-14 22:13 UTC]"
    assert context_line("", "", "dm", AT) == "[direct message | 2023-11-14 22:13 UTC]"


def test_user_turn_is_plain_text_without_vision() -> None:
    turn = user_turn(BOB, "Alice A (alice)", "look", images=("https://img/1.png",))
    assert turn == {"role": "user", "content": "Alice A (alice): look"}


def test_user_turn_with_vision_has_a_text_part_and_at_most_four_images() -> None:
    seeing = Speaker("bob", "Bob", "p", vision=True)
    urls = tuple(f"https://img/{i}.png" for i in range(6))
    turn = user_turn(seeing, "alice", "look", images=urls)
    assert turn["content"][0] == {"type": "text", "text": "alice: look"}
    assert [p["image_url"]["url"] for p in turn["content"][1:]] == list(urls[:4])


def test_user_turn_quotes_the_replied_message_shortened() -> None:
    turn = user_turn(BOB, "alice", "agreed", reply_author="dave", reply_content="y" * 1_500, line="[L]")
    line, quote, said = turn["content"].split("\n")
    assert line == "[L]"
    assert quote == '(replying to dave: "' + "y" * 1_000 + '…")'
    assert said == "alice: agreed"


def test_build_messages_puts_the_system_prompt_first_and_the_turn_last() -> None:
    history = exchange(2)
    turn = {"role": "user", "content": "now"}
    messages = build_messages(BOB, history, turn)
    assert messages[0] == {"role": "system", "content": "You are Bob."}
    assert messages[1:-1] == history
    assert messages[-1] == turn
