"""The name and alias rules every actor shares, with the Unicode users actually type (or paste)."""

from __future__ import annotations

import pytest

from actors.state.names import ALIAS_MAX, NAME_MAX, NAME_MIN, alias_problem, name_problem, normalize_alias

ZWSP, ZWJ, ZWNJ, RLM, LRM, RLO, BOM, NBSP = "\u200b", "\u200d", "\u200c", "\u200f", "\u200e", "\u202e", "\ufeff", "\xa0"

# ---- normalize_alias -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Big  Bob", "big bob"),
        ("  big bob  ", "big bob"),
        ("BIG\tBOB", "big bob"),
        ("big\nbob", "big bob"),
        (f"big{NBSP}bob", "big bob"),  # a pasted non-breaking space is an ordinary space
        ("big\u3000bob", "big bob"),  # ideographic space
        ("big bob", "big bob"),
    ],
)
def test_normalize_alias_lower_cases_and_collapses_any_whitespace(raw: str, normal: str) -> None:
    assert normalize_alias(raw) == normal


def test_normalize_alias_is_idempotent() -> None:
    for raw in ["Big  Bob", f"{NBSP}X{ZWSP}y ", "\U0001f916 Bot", "ALREADY normal"]:
        once = normalize_alias(raw)
        assert normalize_alias(once) == once


def test_normalize_alias_does_not_remove_invisible_characters() -> None:
    """Zero-width characters are not whitespace: they survive normalization, and the alias check refuses them."""
    assert normalize_alias(f"bo{ZWSP}b") == f"bo{ZWSP}b"
    assert alias_problem(normalize_alias(f"bo{ZWSP}b")) is not None


# ---- alias_problem -------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["bob", "big bob", "b", "bob_2", "bob-the-3rd", "x" * ALIAS_MAX, "007"])
def test_plain_aliases_are_accepted(alias: str) -> None:
    assert alias_problem(alias) is None


@pytest.mark.parametrize(
    "raw",
    [
        f"bo{ZWSP}b",
        f"bo{ZWJ}b",
        f"bo{ZWNJ}b",
        f"{RLM}bob",
        f"bob{LRM}",
        f"{RLO}bob",
        f"{BOM}bob",
        "\U0001f916",
        "bob \U0001f916",
        "caf\u00e9",
        "cafe\u0301",
        "\u0431\u043e\u0431",  # Cyrillic "боб"
        "b\u043eb",  # "bob" with a Cyrillic o: a look-alike of an ASCII alias
        "bob!",
        "@bob",
        "bob.",
    ],
)
def test_aliases_outside_a_z_digits_space_dash_underscore_are_refused_after_normalizing(raw: str) -> None:
    problem = alias_problem(normalize_alias(raw))
    assert problem == "An alias may only use letters a-z, digits, spaces, '-' and '_'."


def test_the_alias_pattern_does_not_let_a_trailing_newline_through() -> None:
    """`$` in a regex also matches before a final newline; normalize_alias removes it first."""
    assert normalize_alias("bob\n") == "bob"
    assert alias_problem(normalize_alias("bob\n")) is None


def test_an_empty_alias_is_refused() -> None:
    assert alias_problem("") == "An alias cannot be empty."
    assert alias_problem(normalize_alias(f" \t{NBSP}\n")) == "An alias cannot be empty."


def test_an_alias_longer_than_the_limit_is_refused() -> None:
    assert alias_problem("x" * (ALIAS_MAX + 1)) == f"An alias can be at most {ALIAS_MAX} characters long."


def test_upper_case_letters_that_lower_to_ascii_become_plain_aliases() -> None:
    """The Kelvin sign lower-cases to ASCII 'k': the stored alias is the plain letter, nothing invisible."""
    assert normalize_alias("\u212a") == "k"
    assert alias_problem(normalize_alias("\u212a")) is None


# ---- name_problem --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "bob",
        "Lilith",
        "x" * NAME_MIN,
        "x" * NAME_MAX,
        "l\u00e9a",  # accented letters
        "\u30ea\u30ea\u30b9",  # Japanese
        "\u05e9\u05dc\u05d5\u05dd",  # Hebrew letters (right-to-left script, no control marks)
        "\U0001f916\U0001f916",  # emoji
        "\u2764\ufe0f",  # emoji with a variation selector
        "R2-D2",
        "bob_the.3rd",
    ],
)
def test_printable_names_without_spaces_are_accepted(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize("name", ["", "x", "x" * (NAME_MAX + 1), "\U0001f916"])
def test_name_length_is_checked_in_characters(name: str) -> None:
    assert name_problem(name) == f"A name must be {NAME_MIN} to {NAME_MAX} characters long."


def test_an_emoji_counts_as_one_character_not_as_its_utf8_bytes() -> None:
    assert name_problem("\U0001f916" * NAME_MAX) is None


@pytest.mark.parametrize("name", ["two words", "tab\there", "new\nline", f"no{NBSP}break", "wide\u3000space", "bob "])
def test_names_with_any_kind_of_space_are_refused_pointing_to_aliases(name: str) -> None:
    assert name_problem(name) == "A name cannot contain spaces (add a multi-word alias instead)."


@pytest.mark.parametrize(
    "name",
    [
        f"bo{ZWSP}b",
        f"bo{ZWNJ}b",
        f"{RLM}bob",
        f"bob{LRM}",
        f"{RLO}bob",  # right-to-left override: could make a name display reversed
        f"{BOM}bob",
        "bell\x07",
        "nul\x00",
        "\U0001f468\u200d\U0001f469",  # an emoji ZWJ sequence is refused along with every ZWJ
    ],
)
def test_names_with_invisible_or_control_characters_are_refused(name: str) -> None:
    assert name_problem(name) == "A name can only use printable characters."


@pytest.mark.parametrize(
    "name",
    [
        "\u3164\u3164",  # HANGUL FILLER
        "\u115f\u115f",  # HANGUL CHOSEONG FILLER
        "\u2800\u2800",  # BRAILLE PATTERN BLANK
        "\u0301\u0301",  # combining acute accents with nothing to sit on
    ],
)
def test_a_name_that_renders_as_blank_is_refused(name: str) -> None:
    assert name_problem(name) is not None
