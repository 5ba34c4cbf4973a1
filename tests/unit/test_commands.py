"""The command parser: every command and alias, the bad input people really send, and the help texts.

Each bad input must end in a `CommandError` a user can act on (the reason and the usage), never an exception.
"""

from __future__ import annotations

import random

import pytest

from actors.state.command_help import DISCORD_MAX
from actors.state.commands import COMMANDS, Command, CommandError, help_text, parse_command
from actors.state.names import name_problem

ZWSP, RLM, LRM, RLO, BOM, NBSP, IDEO = "\u200b", "\u200f", "\u200e", "\u202e", "\ufeff", "\xa0", "\u3000"
USER_ID = "123456789012345678"

CANONICAL = [
    "add", "remove", "alias", "list", "info", "config", "activate", "deactivate", "autorespond", "reset", "auth",
    "verify", "blacklist", "help", "ping", "status", "purgbot", "export", "import", "memory", "persona", "data",
]  # fmt: skip
ALIASES = {  # from the v2 command table
    "create": "add", "new": "add", "delete": "remove", "configure": "config", "settings": "config",
    "act": "activate", "deact": "deactivate", "ar": "autorespond", "auto": "autorespond", "nsfw": "verify",
    "bl": "blacklist", "h": "help", "?": "help", "purgebot": "purgbot", "clearbot": "purgbot",
    "cleandm": "purgbot", "backup": "export",
}  # fmt: skip
# The smallest valid arguments for each command, and what they parse to.
MINIMAL = {
    "add": ("Bob", ("Bob", "")),
    "remove": ("Bob", ("Bob",)),
    "alias": ("Bob bobby", ("Bob", "bobby")),
    "list": ("", ()),
    "info": ("Bob", ("Bob",)),
    "config": ("Bob vision on", ("Bob", "vision", "on")),
    "activate": ("Bob", ("Bob",)),
    "deactivate": ("", ()),
    "autorespond": ("", ("status",)),
    "reset": ("Bob", ("Bob",)),
    "auth": ("", ("status",)),
    "verify": ("", ()),
    "blacklist": ("", ("list",)),
    "help": ("", ()),
    "ping": ("", ()),
    "status": ("", ()),
    "purgbot": ("", ("system",)),
    "export": ("", ()),
    "import": ("", ()),
    "memory": ("", ("list",)),
    "persona": ("", ("show", "")),
    "data": ("export", ("export",)),
}


def ok(text: str, prefix: str = "!tz ") -> Command:
    parsed = parse_command(text, prefix)
    assert isinstance(parsed, Command), parsed
    return parsed


def err(text: str, prefix: str = "!tz ") -> str:
    parsed = parse_command(text, prefix)
    assert isinstance(parsed, CommandError), parsed
    assert parsed.message and len(parsed.message) <= DISCORD_MAX
    return parsed.message


def usage(name: str, prefix: str = "!tz ") -> str:
    return f"`{prefix}{COMMANDS[name].usage}`"


# ---- what is a command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["hello", "", "   ", "!t", "!tzadd Bob", "!tzz", "say !tz add Bob", "tz add Bob", "！tz add", f"{ZWSP}!tz add"],
)
def test_a_message_without_the_prefix_word_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize("text", ["!tz", "!tz ", "  !tz  ", "!TZ", "!Tz\n", "!tz\t", f"!tz{NBSP}", "\n!tz"])
def test_a_bare_prefix_is_help(text: str) -> None:
    assert parse_command(text) == Command("help")


def test_the_prefix_word_and_the_command_word_are_case_insensitive() -> None:
    assert ok("!TZ ADD Bob") == Command("add", ("Bob", ""))
    assert ok("!tZ PiNg") == Command("ping")


def test_any_unicode_whitespace_separates_words() -> None:
    assert ok(f"!tz{IDEO}ping") == Command("ping")
    assert ok(f"!tz{NBSP}add{NBSP}Bob") == Command("add", ("Bob", ""))
    assert ok("!tz\nremove\n Bob") == Command("remove", ("Bob",))


@pytest.mark.parametrize("name", CANONICAL)
def test_every_command_parses_with_its_minimal_arguments(name: str) -> None:
    text, args = MINIMAL[name]
    assert ok(f"!tz {name} {text}") == Command(name, args)


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_every_alias_from_the_v2_table_is_its_command(alias: str, name: str) -> None:
    text, args = MINIMAL[name]
    assert ok(f"!tz {alias} {text}") == Command(name, args)
    assert ok(f"!tz {alias.upper()} {text}") == Command(name, args)


def test_the_command_table_has_exactly_the_commands_and_aliases() -> None:
    assert sorted(COMMANDS) == sorted(CANONICAL)
    assert {a: s.name for s in COMMANDS.values() for a in s.aliases} == ALIASES
    assert all(s.usage.startswith(s.name) and s.summary and s.who for s in COMMANDS.values())


# ---- unknown commands and unicode in the command word ----------------------------------------------


def test_an_unknown_command_names_the_word_and_points_to_help() -> None:
    assert err("!tz frobnicate") == "Unknown command: frobnicate. Try `!tz help`."
    assert err("!tz Frob now please") == "Unknown command: Frob. Try `!tz help`."
    assert err("?t nope", prefix="?t ") == "Unknown command: nope. Try `?t help`."


@pytest.mark.parametrize("word", ["ａｄｄ", "ADD".lower().upper().replace("A", "Ａ"), "pıng", "blac\u212alist", "ädd"])
def test_look_alike_letters_do_not_make_a_command_word(word: str) -> None:
    assert err(f"!tz {word} Bob").startswith("Unknown command: ")


@pytest.mark.parametrize("mark", [ZWSP, RLM, LRM, RLO, BOM])
def test_an_invisible_character_in_the_command_word_is_spelled_out_in_the_error(mark: str) -> None:
    message = err(f"!tz add{mark} Bob")
    assert message == f"Unknown command: add\\\\u{ord(mark):04x}. Try `!tz help`."
    assert mark not in message


def test_an_unknown_word_is_echoed_short_and_without_pings_or_markdown() -> None:
    assert "@\u200beveryone" in err("!tz @everyone")
    assert f"<@\u200b{USER_ID}>" in err(f"!tz <@{USER_ID}>")
    assert err("!tz **bold**_x_").startswith("Unknown command: \\*\\*bold\\*\\*\\_x\\_.")
    long = err("!tz " + "x" * 500)
    assert len(long) < 100 and "…" in long


def test_a_message_over_4000_characters_is_refused_whatever_the_command() -> None:
    assert "too long" in err("!tz ping " + "x" * 4000)
    assert "at most 4000" in err("!tz config Bob prompt " + "y" * 3990)
    assert parse_command("no prefix " + "x" * 5000) is None  # not a command at all: not our business


def test_a_message_of_exactly_4000_characters_is_still_parsed() -> None:
    text = "!tz config Bob prompt "
    text += "p" * (4000 - len(text))
    assert ok(text).args[2] == "p" * (4000 - len("!tz config Bob prompt "))


# ---- add -----------------------------------------------------------------------------------------


def test_add_takes_a_name_and_an_optional_multi_word_alias_normalized() -> None:
    assert ok("!tz add Lilith") == Command("add", ("Lilith", ""))
    assert ok("!tz add Lilith  Lady   LILITH ") == Command("add", ("Lilith", "lady lilith"))
    assert ok("!tz create Bob big-bob_2") == Command("add", ("Bob", "big-bob_2"))
    assert ok("!tz add \U0001f916bot") == Command("add", ("\U0001f916bot", ""))


def test_add_normalizes_the_name_to_nfc() -> None:
    assert ok("!tz add Cafe\u0301").args[0] == "Caf\u00e9"


def test_add_without_a_name_shows_the_usage() -> None:
    assert usage("add") in err("!tz add")
    assert usage("add") in err("!tz new   ")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("B", "2 to 50"),
        ("B" * 51, "2 to 50"),
        (f"Bo{ZWSP}b", "printable"),
        (f"Bob{RLM}", "printable"),
        (ZWSP * 3, "printable"),
        ("\u3164\u3164", "visible"),  # Hangul filler: a blank-looking letter
        (f"<@{USER_ID}>", "mention"),
        (f"<@!{USER_ID}>", "mention"),
        ("<@&123>", "mention"),
        ("<#123>", "mention"),
        ("@everyone", "mention"),
        ("hi@HERE", "mention"),
    ],
)
def test_add_refuses_a_bad_name_with_the_reason_and_the_usage(name: str, why: str) -> None:
    message = err(f"!tz add {name}")
    assert why in message and usage("add") in message


@pytest.mark.parametrize(
    ("alias", "why"),
    [
        ("ｂｏｂ", "a-z"),
        ("bob\U0001f916", "a-z"),
        (f"bo{ZWSP}b", "a-z"),
        (f"<@{USER_ID}>", "a-z"),
        ("b" * 51, "at most 50"),
        ("bob.smith", "a-z"),
    ],
)
def test_add_refuses_a_bad_alias_with_the_reason_and_the_usage(alias: str, why: str) -> None:
    message = err(f"!tz add Bob {alias}")
    assert why in message and usage("add") in message


# ---- remove, info, activate, reset: one target -----------------------------------------------------


@pytest.mark.parametrize("word", ["remove", "delete", "info", "activate", "act", "reset"])
def test_a_target_is_the_rest_joined_by_single_spaces(word: str) -> None:
    name = ALIASES.get(word, word)
    assert ok(f"!tz {word} Bob") == Command(name, ("Bob",))
    assert ok(f"!tz {word}  big \n  Bob ") == Command(name, ("big Bob",))
    assert ok(f"!tz {word} Cafe\u0301") == Command(name, ("Caf\u00e9",))


@pytest.mark.parametrize("name", ["remove", "info", "activate", "reset"])
def test_a_missing_target_asks_which_and_shows_the_usage(name: str) -> None:
    message = err(f"!tz {name}")
    assert "Which personality?" in message and usage(name) in message


@pytest.mark.parametrize("name", ["remove", "info", "activate", "reset"])
def test_an_impossible_target_is_refused(name: str) -> None:
    assert "at most 50" in err(f"!tz {name} " + "x" * 51)
    assert "invisible" in err(f"!tz {name} Bo{ZWSP}b")


# ---- alias ---------------------------------------------------------------------------------------


def test_alias_takes_a_name_and_normalized_alias_words() -> None:
    assert ok("!tz alias Lilith The  Lady") == Command("alias", ("Lilith", "the lady"))
    assert ok("!tz ALIAS Lilith lil") == Command("alias", ("Lilith", "lil"))


@pytest.mark.parametrize("text", ["!tz alias", "!tz alias Lilith", "!tz alias Lilith   "])
def test_alias_needs_both_the_name_and_the_alias(text: str) -> None:
    message = err(text)
    assert "alias" in message and usage("alias") in message


@pytest.mark.parametrize("alias", ["ｌｉｌ", f"l{ZWSP}il", f"<@{USER_ID}>", "@everyone", "l" * 51, "lil!"])
def test_alias_refuses_a_bad_alias(alias: str) -> None:
    assert usage("alias") in err(f"!tz alias Lilith {alias}")


def test_alias_refuses_an_impossible_name() -> None:
    assert "invisible" in err(f"!tz alias Li{ZWSP}lith lil")


# ---- list ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "args"), [("", ()), ("1", ("1",)), ("3", ("3",)), ("007", ("7",)), ("10000", ("10000",))]
)
def test_list_takes_an_optional_page(text: str, args: tuple[str, ...]) -> None:
    assert ok(f"!tz list {text}") == Command("list", args)


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "10001", "３", "\u0663", "²", "9" * 3000, "1e3", "+2"])
def test_list_refuses_a_page_that_is_not_a_positive_whole_number(page: str) -> None:
    message = err(f"!tz list {page}")
    assert "1 to 10000" in message and usage("list") in message


def test_list_refuses_extra_words() -> None:
    assert usage("list") in err("!tz list 2 3")


# ---- config --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("display Lady Lilith", ("display", "Lady Lilith")),
        ("DISPLAY  Lady  ", ("display", "Lady")),
        ("avatar https://example.com/a.png", ("avatar", "https://example.com/a.png")),
        ("avatar <https://example.com/a.png>", ("avatar", "https://example.com/a.png")),
        ("avatar HTTP://example.com/a.png", ("avatar", "HTTP://example.com/a.png")),
        ("avatar None", ("avatar", "none")),
        ("prompt You are Lilith.", ("prompt", "You are Lilith.")),
        ("model openai/gpt-4o-mini", ("model", "openai/gpt-4o-mini")),
        ("model meta-llama/llama-3.1-8b-instruct:free", ("model", "meta-llama/llama-3.1-8b-instruct:free")),
        ("model default", ("model", "default")),
        ("temperature 0.7", ("temperature", "0.7")),
        ("temperature .70", ("temperature", "0.7")),
        ("temperature 2", ("temperature", "2.0")),
        ("temperature 0", ("temperature", "0.0")),
        ("vision on", ("vision", "on")),
        ("Vision TRUE", ("vision", "on")),
        ("vision yes", ("vision", "on")),
        ("vision off", ("vision", "off")),
        ("vision false", ("vision", "off")),
        ("vision no", ("vision", "off")),
        ("context-line on", ("context-line", "on")),
        ("context_line off", ("context-line", "off")),
        ("public Off", ("public", "off")),
        ("public enable", ("public", "on")),
    ],
)
def test_config_normalizes_each_key_and_value(text: str, args: tuple[str, str]) -> None:
    assert ok(f"!tz config Lilith {text}") == Command("config", ("Lilith", *args))


@pytest.mark.parametrize("word", ["config", "configure", "settings", "CONFIG"])
def test_config_aliases(word: str) -> None:
    assert ok(f"!tz {word} Lilith vision on") == Command("config", ("Lilith", "vision", "on"))


def test_a_prompt_keeps_its_lines_and_loses_only_the_outer_blank_space() -> None:
    text = "!tz config Lilith prompt\n  You are Lilith.\n\n  - Be kind.\r\n- Be brief.  \n\n"
    assert ok(text).args == ("Lilith", "prompt", "You are Lilith.\n\n  - Be kind.\n- Be brief.")


def test_a_prompt_may_hold_emoji_and_tabs_but_not_control_characters() -> None:
    assert ok("!tz config L1 prompt Hi \U0001f468\u200d\U0001f469\u200d\U0001f467\tthere").args[2].startswith("Hi")
    assert "control characters" in err("!tz config L1 prompt Hi\x00there")


def test_config_without_a_setting_lists_the_keys_and_the_usage() -> None:
    for text in ["!tz config", "!tz config Lilith"]:
        message = err(text)
        assert "display, avatar, prompt, model, temperature, vision, context-line, public" in message
        assert usage("config") in message


def test_config_with_an_unknown_key_names_it_and_lists_the_keys() -> None:
    message = err("!tz config Lilith colour red")
    assert "Unknown setting: colour." in message and "context-line" in message and usage("config") in message


@pytest.mark.parametrize("key", ["display", "avatar", "prompt", "model", "temperature", "vision", "context-line"])
def test_config_without_a_value_asks_for_one_with_the_key_usage(key: str) -> None:
    message = err(f"!tz config Lilith {key}   \n ")
    assert f"Give a value for {key}" in message and f"`!tz config Lilith {key} <" in message


def test_the_key_usage_does_not_echo_a_name_with_markup() -> None:
    assert "`!tz config <name> vision <on|off>`" in err("!tz config Li`th vision")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("display " + "D" * 81, "at most 80"),
        (f"display {ZWSP}{ZWSP}", "blank"),
        ("display Lady\nLilith", "line breaks"),
        ("avatar ftp://example.com/a.png", "http"),
        ("avatar example.com/a.png", "http"),
        ("avatar https://", "http"),
        ("avatar javascript:alert(1)", "http"),
        ("avatar https://[::1/a.png", "http"),
        ("avatar https://example.com/a b.png", "spaces"),
        (f"avatar https://example.com/{ZWSP}.png", "invisible"),
        ("avatar https://example.com/" + "a" * 2030, "at most 2048"),
        ("model gpt 4", "model id"),
        ("model gpt-4o\U0001f916", "model id"),
        ("model " + "m" * 101, "model id"),
        ("temperature 2.1", "0.0 to 2.0"),
        ("temperature -0.1", "0.0 to 2.0"),
        ("temperature nan", "0.0 to 2.0"),
        ("temperature inf", "0.0 to 2.0"),
        ("temperature 1e0", "0.0 to 2.0"),
        ("temperature 0,7", "0.0 to 2.0"),
        ("temperature ０.５", "0.0 to 2.0"),
        ("temperature hot", "0.0 to 2.0"),
        ("vision maybe", "on or off"),
        ("vision on please", "on or off"),
        ("public ｏｎ", "on or off"),
    ],
)
def test_config_refuses_a_bad_value_with_the_reason_and_the_key_usage(text: str, why: str) -> None:
    message = err(f"!tz config Lilith {text}")
    key = text.split()[0]
    assert why in message and f"`!tz config Lilith {key} <" in message


def test_config_refuses_an_impossible_name() -> None:
    assert "invisible" in err(f"!tz config Li{ZWSP}lith vision on")
    assert "at most 50" in err("!tz config " + "L" * 51 + " vision on")


# ---- commands without arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    "word", ["deactivate", "deact", "verify", "nsfw", "ping", "status", "export", "backup", "import"]
)
def test_commands_without_arguments_ignore_extra_words_as_harmless(word: str) -> None:
    name = ALIASES.get(word, word)
    assert ok(f"!tz {word} these words mean nothing \U0001f916 {ZWSP}") == Command(name)


# ---- autorespond, purgbot ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "mode"),
    [("", "status"), ("status", "status"), ("on", "on"), ("ON", "on"), ("true", "on"), ("enable", "on"),
     ("off", "off"), ("false", "off"), ("Disable", "off")],
)  # fmt: skip
def test_autorespond_modes(word: str, mode: str) -> None:
    for command in ("autorespond", "ar", "auto"):
        assert ok(f"!tz {command} {word}") == Command("autorespond", (mode,))


@pytest.mark.parametrize("text", ["maybe", "on off", "ｏｎ", f"on{ZWSP}"])
def test_autorespond_refuses_anything_else_with_the_choices(text: str) -> None:
    message = err(f"!tz ar {text}")
    assert "off, on, status" in message and usage("autorespond") in message


@pytest.mark.parametrize(("word", "mode"), [("", "system"), ("system", "system"), ("ALL", "all"), ("all", "all")])
def test_purgbot_modes(word: str, mode: str) -> None:
    for command in ("purgbot", "purgebot", "clearbot", "cleandm"):
        assert ok(f"!tz {command} {word}") == Command("purgbot", (mode,))


@pytest.mark.parametrize("text", ["everything", "all now", "system all"])
def test_purgbot_refuses_anything_else(text: str) -> None:
    message = err(f"!tz purgbot {text}")
    assert "all, system" in message and usage("purgbot") in message


# ---- auth ----------------------------------------------------------------------------------------

KEY = "sk-or-v1-0123456789abcdef"


def test_auth_status_clear_and_key() -> None:
    assert ok("!tz auth") == Command("auth", ("status",))
    assert ok("!tz auth STATUS") == Command("auth", ("status",))
    assert ok("!tz auth clear") == Command("auth", ("clear",))
    assert ok(f"!tz auth key {KEY}") == Command("auth", ("key", KEY))
    assert ok(f"!tz auth KEY   {KEY}  ") == Command("auth", ("key", KEY))


@pytest.mark.parametrize("wrapped", [f"||{KEY}||", f"`{KEY}`", f"|| {KEY} ||"])
def test_auth_key_accepts_a_key_pasted_as_a_spoiler_or_as_code(wrapped: str) -> None:
    assert ok(f"!tz auth key {wrapped}") == Command("auth", ("key", KEY))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (f"key {KEY} extra", "no spaces"),
        (f"key {KEY[:4]} {KEY[4:]}", "no spaces"),
        ("key short7", "8 to 512"),
        ("key " + "k" * 513, "8 to 512"),
        (f"key {KEY}é", "visible ASCII"),
        (f"key {KEY}{ZWSP}", "visible ASCII"),
        (f"{KEY}", "Unknown auth option"),
        (f"clear {KEY}", "takes nothing more"),
        (f"status {KEY}", "takes nothing more"),
    ],
)
def test_a_bad_auth_never_echoes_the_key_and_is_marked_sensitive(text: str, why: str) -> None:
    parsed = parse_command(f"!tz auth {text}")
    assert isinstance(parsed, CommandError) and parsed.sensitive
    assert why in parsed.message and "`!tz auth" in parsed.message
    for piece in (KEY, KEY[:8], KEY[-8:], "kkkkkkkk", "short7"):
        assert piece not in parsed.message


def test_auth_key_without_a_key_shows_the_usage() -> None:
    assert "`!tz auth key <your API key>`" in err("!tz auth key")
    assert "`!tz auth key <your API key>`" in err("!tz auth key ||||")


def test_random_keys_are_never_echoed_in_an_auth_error() -> None:
    rng = random.Random(7)
    pool = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ \u00e9" + ZWSP
    for _ in range(300):
        key = "".join(rng.choice(pool) for _ in range(rng.randint(1, 40)))
        parsed = parse_command(f"!tz auth key {key}")
        if isinstance(parsed, CommandError):
            assert parsed.sensitive or not key.strip()
            for word in key.split():
                assert len(word) < 4 or word not in parsed.message


# ---- blacklist -----------------------------------------------------------------------------------


@pytest.mark.parametrize("user", [f"<@{USER_ID}>", f"<@!{USER_ID}>", USER_ID, "12345678901234567", "1" * 20])
def test_blacklist_takes_a_mention_or_a_user_id(user: str) -> None:
    digits = "".join(ch for ch in user if ch.isdigit())
    assert ok(f"!tz blacklist add {user}") == Command("blacklist", ("add", digits, ""))
    assert ok(f"!tz bl remove {user}") == Command("blacklist", ("remove", digits))
    assert ok(f"!tz BL CHECK {user}") == Command("blacklist", ("check", digits))


def test_blacklist_lists_by_default_and_keeps_a_reason() -> None:
    assert ok("!tz blacklist") == Command("blacklist", ("list",))
    assert ok("!tz bl list") == Command("blacklist", ("list",))
    assert ok(f"!tz bl add {USER_ID} spam  and\nabuse") == Command("blacklist", ("add", USER_ID, "spam and abuse"))


@pytest.mark.parametrize(
    ("text", "why", "shown"),
    [
        ("add", "Which user?", "`!tz blacklist add <user> [reason]`"),
        ("remove", "Which user?", "`!tz blacklist remove <user>`"),
        ("add bob", "mention", "`!tz blacklist add <user> [reason]`"),
        ("add 1234567890123456", "17-20 digits", "`!tz blacklist add <user> [reason]`"),
        ("check 123456789012345678901", "17-20 digits", "`!tz blacklist check <user>`"),
        (f"add <@&{USER_ID}>", "mention", "`!tz blacklist add <user> [reason]`"),
        (f"add <#{USER_ID}>", "mention", "`!tz blacklist add <user> [reason]`"),
        ("add １２３４５６７８９０１２３４５６７８", "17-20 digits", "`!tz blacklist add <user> [reason]`"),
        (f"add {USER_ID} " + "r" * 201, "at most 200", "`!tz blacklist add <user> [reason]`"),
        (f"remove {USER_ID} because", "takes only the user", "`!tz blacklist remove <user>`"),
        (f"check {USER_ID} {USER_ID}", "takes only the user", "`!tz blacklist check <user>`"),
        ("list all", "takes nothing more", "`!tz blacklist list`"),
        ("ban 123", "Choose add, remove, check or list", usage("blacklist")),
    ],
)
def test_blacklist_refuses_bad_input_with_the_sub_command_usage(text: str, why: str, shown: str) -> None:
    message = err(f"!tz blacklist {text}")
    assert why in message and shown in message


# ---- help ----------------------------------------------------------------------------------------


def test_help_takes_an_optional_command_by_any_name_and_ignores_the_rest() -> None:
    assert ok("!tz help") == Command("help")
    assert ok("!tz ?") == Command("help")
    assert ok("!tz h CONFIG") == Command("help", ("config",))
    assert ok("!tz help ar") == Command("help", ("autorespond",))
    assert ok("!tz ? bl add me") == Command("help", ("blacklist",))
    assert ok("!tz help Frob") == Command("help", ("Frob",))  # unknown: the word as typed


def test_help_text_overview_mentions_every_command_and_fits() -> None:
    text = help_text()
    assert len(text) <= DISCORD_MAX
    for name, spec in COMMANDS.items():
        assert f"`!tz {name}" in text and spec.usage in text


@pytest.mark.parametrize("name", CANONICAL)
def test_help_text_for_one_command_shows_its_usage_aliases_and_who(name: str) -> None:
    spec = COMMANDS[name]
    text = help_text(command=name)
    assert text.startswith(f"`!tz {spec.usage}`") and len(text) <= DISCORD_MAX
    assert f"Who: {spec.who}." in text
    for alias in spec.aliases:
        assert f"`!tz {alias}`" in text
        assert help_text(command=alias.upper()) == text


def test_help_text_for_config_lists_every_key() -> None:
    text = help_text(command="settings")
    for key in ("display", "avatar", "prompt", "model", "temperature", "vision", "context-line", "public"):
        assert f"`{key} <" in text


@pytest.mark.parametrize("word", ["frob", "ａｄｄ", f"add{ZWSP}", "@everyone", "x" * 3000])
def test_help_text_for_an_unknown_command_says_so_then_gives_the_overview(word: str) -> None:
    text = help_text(command=word)
    assert text.startswith("No such command: ") and "**Commands**" in text and len(text) <= DISCORD_MAX
    assert "@everyone" not in text and f"add{ZWSP}" not in text  # no ping; the invisible character spelled out


@pytest.mark.parametrize("prefix", ["!tz ", "?t ", "!", "!tz", "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%% "])
def test_every_help_text_fits_in_one_discord_message_whatever_the_prefix(prefix: str) -> None:
    texts = [help_text(prefix), help_text(prefix, "nope" * 100)]
    texts += [help_text(prefix, name) for name in CANONICAL]
    assert all(0 < len(text) <= DISCORD_MAX for text in texts)


def test_help_text_with_a_blank_command_is_the_overview() -> None:
    assert help_text(command="") == help_text(command="  ") == help_text()


# ---- another prefix ------------------------------------------------------------------------------


def test_another_prefix_is_used_for_parsing_usage_and_help() -> None:
    assert ok("?t add Bob", "?t ") == Command("add", ("Bob", ""))
    assert ok("?T ping", "?t ") == Command("ping")
    assert ok("?t", "?t ") == Command("help")
    assert parse_command("!tz add Bob", "?t ") is None
    assert parse_command("?tadd Bob", "?t ") is None
    assert "`?t add <name> [alias words...]`" in err("?t add", "?t ")
    assert "`?t add" in help_text("?t ") and "!tz" not in help_text("?t ")
    assert help_text("?t ", "add").startswith("`?t add")


def test_a_symbol_prefix_needs_no_space_and_a_word_prefix_gets_one() -> None:
    assert ok("!add Bob", "!") == Command("add", ("Bob", ""))
    assert ok("! add Bob", "!") == Command("add", ("Bob", ""))
    assert "`!add <name>" in err("!add", "!")
    assert ok("!tz add Bob", "!tz") == Command("add", ("Bob", ""))
    assert parse_command("!tzadd Bob", "!tz") is None
    assert "`!tz add <name>" in err("!tz add", "!tz")


def test_a_blank_prefix_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="prefix"):
        parse_command("add Bob", "  ")


# ---- never an exception --------------------------------------------------------------------------

ODD = [
    ZWSP,
    RLM,
    LRM,
    RLO,
    BOM,
    NBSP,
    IDEO,
    "\u0301",
    "\U0001f916",
    "\U0001f468\u200d\U0001f469",
    "ａ",
    "Ａ",
    "\u212a",
    "\u0130",
    "ß",
    "\ud800",
    "\x00",
    "\x1b",
    "\r",
    "\n",
    "\t",
    "<@",
    ">",
    "`",
    "||",
    "@everyone",
    "\u3164",
    "٣",
]
WORDS = [w for s in COMMANDS.values() for w in (s.name, *s.aliases)] + [
    "on", "off", "key", "add", "list", "clear", "all", "system", "prompt", "temperature", "avatar", "display", "vision",
    "model", "public", "context-line", USER_ID, f"<@{USER_ID}>", "0.7", "https://x.io/a.png", "Bob", "2", "-1",
]  # fmt: skip


def _random_text(rng: random.Random) -> str:
    parts: list[str] = []
    if rng.random() < 0.85:
        parts.append(rng.choice(["!tz ", "!TZ ", "!tz", "  !tz\n", "!tz" + ZWSP, "!tz" + NBSP]))
    for _ in range(rng.randint(0, 8)):
        roll = rng.random()
        if roll < 0.45:
            parts.append(rng.choice(WORDS))
        elif roll < 0.7:
            parts.append(rng.choice(ODD))
        else:
            parts.append("".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0, 0x2FFFF)])) for _ in range(5)))
        parts.append(rng.choice([" ", " ", "  ", "\n", "\t", "", NBSP]))
    return "".join(parts)


def test_parse_command_never_raises_on_thousands_of_random_messages() -> None:
    rng = random.Random(20240601)
    seen: set[str] = set()
    for _ in range(4000):
        text = _random_text(rng)
        parsed = parse_command(text)
        assert parsed is None or isinstance(parsed, Command | CommandError), (text, parsed)
        assert parse_command(text) == parsed  # deterministic
        if isinstance(parsed, Command):
            seen.add(parsed.name)
            assert parsed.name in COMMANDS and all(isinstance(a, str) for a in parsed.args), (text, parsed)
            if parsed.name == "add":
                assert name_problem(parsed.args[0]) is None
        elif isinstance(parsed, CommandError):
            message = parsed.message
            assert 0 < len(message) <= DISCORD_MAX and message.replace(ZWSP, "").isprintable(), (text, message)
            assert "Usage: `!tz " in message or "Try `!tz help`" in message or "too long" in message, (text, message)
            assert "Traceback" not in message and "@everyone" not in message
    assert len(seen) >= 15  # the random messages reached most commands, not only the error paths


def test_help_text_never_raises_on_random_words() -> None:
    rng = random.Random(99)
    for _ in range(500):
        word = "".join(chr(rng.randint(0, 0x2FFFF)) for _ in range(rng.randint(0, 12)))
        assert 0 < len(help_text(rng.choice(["!tz ", "?t ", "!"]), word)) <= DISCORD_MAX
