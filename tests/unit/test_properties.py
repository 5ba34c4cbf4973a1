"""Property-based tests (hypothesis) of the pure parsers and shapers that every untrusted message goes through.

Each property holds for any text, including the Unicode people paste: zero-width characters, direction marks,
right-to-left scripts, emoji with joiners and skin tones, unusual spaces, lone surrogates (which a JSON gateway
can deliver as `\\ud83d`). Examples are modest in number (fast) and have no deadline (a loaded CI box).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.state.addressing import personal_alias
from actors.state.command_help import ALIASES as COMMAND_WORDS
from actors.state.command_help import DISCORD_MAX
from actors.state.commands import MESSAGE_MAX, Command, CommandError, parse_command
from actors.state.discord_text import LIMIT, USERNAME_MAX, legal_username, split_message
from edge.routing import mentions
from emulator.ai.replies import long_text
from emulator.discord.rules import execute_problems

FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies ----------------------------------------------------------------------------------

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
DIRECTION = ["\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2069"]
RTL_TEXT = ["שלום", "مرحبا", "ליליט", "سلام عليكم"]
EMOJI = ["\U0001f916", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f44d\U0001f3fd", "\u2764\ufe0f",
         "\U0001f1ee\U0001f1f1", "🔥"]  # fmt: skip
SPACES = [" ", "\t", "\n", "\r\n", "\xa0", "\u3000", "\u2009", "\u200a", "\u1680", "\u2028"]
DISCORD_BITS = ["@", "@everyone", "@here", "<@123456789012345678>", "<@&123456789012345678>", "<#1>", "||", "`",
                "```", "**", "\\", "<", ">", "#", ":"]  # fmt: skip
ODD = ["\ud83d", "\udc00", "\x00", "\x7f", "\u0301", "\ufffd", "\U000e0001", "İ", "ſ", "ß", "ﬁ", "K"]
PIECES = ZERO_WIDTH + DIRECTION + RTL_TEXT + EMOJI + SPACES + DISCORD_BITS + ODD

any_char = st.characters(codec=None, categories=None)  # every code point, surrogates included
weird_text = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(PIECES), st.text(alphabet=any_char, max_size=4)), max_size=20
).map("".join)
alias_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
alias_phrase = st.lists(alias_word, min_size=1, max_size=4).map(" ".join)
prefixes = st.sampled_from(["!tz ", "!tz", "!", "?", "tz!", "!TZ "])


def plain(text: str) -> str:
    """`text` without `@` (so it cannot be an address of its own)."""
    return text.replace("@", "")


# ---- the command parser --------------------------------------------------------------------------


@FAST
@given(content=weird_text, prefix=prefixes)
def test_parse_command_never_raises_on_any_text(content: str, prefix: str) -> None:
    assert isinstance(parse_command(content, prefix), Command | CommandError | type(None))


@FAST
@given(
    prefix=prefixes,
    lead=st.sampled_from(["", " ", "\n", "\xa0"]),
    word=st.one_of(st.sampled_from(sorted(COMMAND_WORDS)), st.sampled_from(sorted(COMMAND_WORDS)).map(str.upper),
                   weird_text),
    args=st.lists(st.one_of(weird_text, alias_phrase, st.sampled_from(PIECES)), max_size=6),
    pad=st.sampled_from([0, 0, 0, MESSAGE_MAX]),
)
def test_every_command_with_any_arguments_parses_or_errs_clearly(
    prefix: str, lead: str, word: str, args: list[str], pad: int
) -> None:
    content = lead + prefix + (" " if prefix[-1:].isalnum() else "") + word + " " + " ".join(args) + "x" * pad
    parsed = parse_command(content, prefix)
    assert isinstance(parsed, Command | CommandError | type(None))
    if isinstance(parsed, CommandError):
        assert parsed.message.strip() and len(parsed.message) <= DISCORD_MAX  # one message a user can read
        lowered = parsed.message.lower()
        assert "@everyone" not in lowered and "@here" not in lowered  # an error never pings
        assert not re.search(r"<@[!&]?\d+>", parsed.message)
    if isinstance(parsed, Command):
        assert all(isinstance(a, str) for a in parsed.args)


SECRET = "SECRETmark"
keys = st.tuples(st.text(max_size=30), weird_text, st.sampled_from(["", " ", "  x y", "\u200b"])).map(
    lambda t: SECRET + t[0] + t[1] + t[2]
)
auth_shapes = st.sampled_from([
    "!tz auth key {k}", "!tz auth {k}", "!tz auth key ||{k}||", "!tz auth key `{k}`", "!tz auth status {k}",
    "!tz auth clear {k}", "!TZ AUTH KEY {k}", "  !tz auth key\n{k}", "!tz auth key {k} and more words",
    "!tz auth key {k} " + "y" * MESSAGE_MAX,  # a key in a message too long to be a command: still a key
])  # fmt: skip


@FAST
@given(key=keys, shape=auth_shapes)
def test_an_auth_error_never_echoes_the_key_and_is_always_sensitive(key: str, shape: str) -> None:
    parsed = parse_command(shape.format(k=key))
    if isinstance(parsed, Command):
        assert parsed.name == "auth" and parsed.args[0] == "key" and SECRET in parsed.args[1]
        return
    assert isinstance(parsed, CommandError)
    assert SECRET.lower() not in parsed.message.lower()
    assert parsed.sensitive, f"{parsed.message!r} may hold a key but would be left in the channel"


# ---- addressing: `@alias` at the edge and a user's own aliases -------------------------------------


@FAST
@given(content=weird_text, aliases=st.dictionaries(st.one_of(alias_phrase, weird_text), weird_text, max_size=6),
       max_words=st.integers(1, 6))
def test_mentions_never_raises_and_finds_only_known_aliases_longest_first(
    content: str, aliases: dict[str, str], max_words: int
) -> None:
    found = mentions(content, aliases, max_words)
    assert all(aliases[alias] == name for alias, name in found)
    assert [len(a) for a, _ in found] == sorted((len(a) for a, _ in found), reverse=True)
    mine = personal_alias(content, aliases)
    assert mine is None or aliases[mine[0]] == mine[1]


def _with_prefixes(alias: str) -> dict[str, str]:
    """The alias and every shorter alias made of its first words, each naming a different personality."""
    words = alias.split()
    return {" ".join(words[:n]): f"p{n}" for n in range(1, len(words) + 1)}


@FAST
@given(alias=alias_phrase, before=weird_text, after=weird_text, upper=st.booleans(),
       tail=st.sampled_from(["", ".", ",", "!", "?", ":", ";"]))
def test_the_longest_alias_wins_case_insensitively_among_any_text(
    alias: str, before: str, after: str, upper: bool, tail: str
) -> None:
    aliases = _with_prefixes(alias)
    written = alias.upper() if upper else alias
    content = f"{plain(before)} @{written}{tail} {plain(after)}"
    longest = (alias, aliases[alias])

    assert mentions(content, aliases, len(alias.split()))[0] == longest
    assert personal_alias(content, aliases) == longest


@FAST
@given(alias=alias_phrase, mark=st.sampled_from(ZERO_WIDTH + DIRECTION), at=st.integers(0, 100))
def test_an_invisible_character_inside_an_alias_never_matches_a_shorter_or_other_one_wrongly(
    alias: str, mark: str, at: int
) -> None:
    """A zero-width or direction mark inside the written alias makes it a different word: no false match."""
    cut = 1 + at % len(alias)
    content = "@" + alias[:cut] + mark + alias[cut:]
    aliases = {alias: "p"}
    assert mentions(content, aliases, len(alias.split()) + 1) in ([], [(alias, "p")])
    found = personal_alias(content, aliases)
    assert found is None or found == (alias, "p")


@FAST
@given(alias=alias_phrase, rtl=st.sampled_from(RTL_TEXT + EMOJI))
def test_an_alias_among_rtl_text_and_emoji_is_found(alias: str, rtl: str) -> None:
    content = f"{rtl} @{alias} {rtl}"
    assert mentions(content, {alias: "p"}, len(alias.split())) == [(alias, "p")]
    assert personal_alias(content, {alias: "p"}) == (alias, "p")


# ---- splitting answers into Discord messages ------------------------------------------------------


def assert_split(text: str, chunks: list[str], limit: int) -> None:
    assert all(0 < len(c) <= limit for c in chunks)
    assert all(c == c.strip() for c in chunks)
    # Nothing lost but whitespace at the cuts: the chunks are the text, in order, with only whitespace between.
    pos = 0
    for chunk in chunks:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        assert text.startswith(chunk, pos), f"chunk {chunk[:20]!r} is not the text at {pos}"
        pos += len(chunk)
    assert not text[pos:].strip()


@FAST
@given(text=st.lists(st.one_of(weird_text, st.sampled_from(PIECES + [". ", "\n\n", "x" * 500])), max_size=60)
       .map("".join), limit=st.sampled_from([LIMIT, 50, 7]))
def test_split_keeps_every_chunk_within_the_limit_and_loses_only_whitespace(text: str, limit: int) -> None:
    assert_split(text, split_message(text, limit), limit)


@FAST
@given(unit=st.sampled_from(["a", "\U0001f916", "ש", "\u200b", "é", "a b", "a.\n"]))
def test_exactly_2000_characters_is_one_message_and_2001_is_two(unit: str) -> None:
    exact = (unit * LIMIT)[: LIMIT - 1] + "z"
    assert split_message(exact) == [exact]
    over = exact + "z"
    chunks = split_message(over)
    assert len(chunks) == 2
    assert_split(over, chunks, LIMIT)


@pytest.mark.parametrize(("n", "messages"), [(LIMIT, 1), (LIMIT + 1, 2), (4500, 3)])
def test_the_ai_emulators_long_answers_split_as_the_e2e_tests_expect(n: int, messages: int) -> None:
    text = long_text(n)
    chunks = split_message(text)
    assert len(text) == n and len(chunks) == messages
    assert_split(text, chunks, LIMIT)


# ---- webhook usernames -----------------------------------------------------------------------------


@FAST
@given(name=st.one_of(weird_text, st.sampled_from(["clyde", "Discord", "DISCORD", "everyone", "here", "Here ",
                                                    "dİscord", "diſcord", "c l y d e", "```", "a" * 200])))
def test_legal_username_is_always_accepted_by_discord(name: str) -> None:
    out = legal_username(name)
    assert 1 <= len(out) <= USERNAME_MAX
    problems = execute_problems({"content": "x", "username": out})
    assert problems == [], f"{name!r} -> {out!r}: {problems}"
    assert "\n" not in out and out == out.strip()
