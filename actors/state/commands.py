"""The command parser: one message's text in, a `Command`, a `CommandError` or None out. No I/O, no actors.

`parse_command(content, prefix)` never raises for any `content` (only a blank `prefix` is a ValueError: that is
a configuration mistake). The rules, so that every answer is predictable:

- A message is a command when, after leading whitespace, it starts with the prefix word (`!tz`, any case)
  followed by whitespace or the end. A prefix ending in a letter or digit needs that space (`!tzadd` is not a
  command); one ending in a symbol does not (with prefix `!`, `!add` is). A bare prefix means `help`.
- Whitespace is any Unicode whitespace (so a non-breaking or ideographic space separates words); zero-width
  characters and direction marks are not whitespace, so they stay inside the word and make it unknown or invalid.
- Command words are ASCII and case-insensitive: `ADD` is `add`, full-width `ａｄｄ` is an unknown command.
- A whole message longer than 4,000 characters is refused before anything else is looked at.
- Commands that take no arguments (deactivate, verify, ping, status, export, import) ignore extra words, and
  `help` ignores words after the first: they are harmless. Every other command refuses words it cannot use.
- Every error is a `CommandError` whose message says what is wrong and shows the usage with the actual prefix.
  Words the user typed are echoed only shortened and defused (see `command_help.shown`); an API key never is.

`Command.args` per command (all strings):
  add (name, alias)  alias "" when none | remove/info/activate/reset (target,) | alias (name, alias)
  list () or (page,) | config (name, key, value) | autorespond (on|off|status,) | purgbot (system|all,)
  auth (status,) (clear,) (key, <key>) | blacklist (list,) (add, id, reason) (remove, id) (check, id)
  help () or (canonical command or the unknown word as typed,) | deactivate verify ping status export import ()
Targets ("name or alias words") are the words joined by single spaces, NFC-normalized, case kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from actors.state.command_help import (
    ALIASES,
    COMMANDS,
    CONFIG_KEYS,
    CommandSpec,
    canonical,
    display_prefix,
    help_text,
    shown,
)
from actors.state.names import (
    ALIAS_MAX,
    NAME_MAX,
    alias_problem,
    display_problem,
    name_problem,
    normalize_alias,
    normalize_name,
)
from actors.state.self_commands import parse_data, parse_memory, parse_persona

__all__ = ["ALIASES", "COMMANDS", "Command", "CommandError", "CommandSpec", "help_text", "parse_command"]

MESSAGE_MAX = 4000
PAGE_MAX = 10_000
PROMPT_MAX = 4000
AVATAR_MAX = 2048
REASON_MAX = 200
KEY_MIN, KEY_MAX = 8, 512
TARGET_MAX = max(NAME_MAX, ALIAS_MAX)

_WORD = re.compile(r"\s*(\S+)")
_PAGE = re.compile(r"[0-9]{1,6}")
_MODEL = re.compile(r"[A-Za-z0-9/._:@-]{1,100}")
_TEMPERATURE = re.compile(r"[0-9]{1,3}(\.[0-9]{0,6})?|\.[0-9]{1,6}")
_USER = re.compile(r"<@!?([0-9]{17,20})>|([0-9]{17,20})")
_API_KEY = re.compile(r"[!-~]+")  # visible ASCII
_MENTION = re.compile(r"<(@[!&]?|#)[0-9]+>|@(everyone|here)", re.IGNORECASE)
_PLAIN = re.compile(r"[^`@<>|*_~\\]+")  # safe to show inside a usage line
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # control characters other than tab and newline
_ON, _OFF = frozenset({"on", "true", "yes", "enable", "1"}), frozenset({"off", "false", "no", "disable", "0"})


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()

    def __repr__(self) -> str:  # the arguments are what the user typed (a key, a prompt): logs show their count
        return f"Command(name={self.name!r}, args=<{len(self.args)} hidden>)"


@dataclass(frozen=True)
class CommandError:
    message: str
    sensitive: bool = False  # the message may hold a secret (a malformed `auth key`): delete it like a good one


Parsed = Command | CommandError


@dataclass(frozen=True)
class _Ctx:
    prefix: str  # as shown before a command word, e.g. "!tz "

    def error(self, reason: str, usage: str, sensitive: bool = False) -> CommandError:
        return CommandError(f"{reason} Usage: `{self.prefix}{usage}`", sensitive)


def _take(text: str, n: int) -> tuple[list[str], str]:
    """The first `n` whitespace-separated words of `text` (fewer if it has fewer) and the rest, stripped."""
    words: list[str] = []
    pos = 0
    while len(words) < n and (m := _WORD.match(text, pos)):
        words.append(m.group(1))
        pos = m.end()
    return words, text[pos:].strip()


def parse_command(content: str, prefix: str = "!tz ") -> Command | CommandError | None:
    """`content` as a command, a `CommandError` to show the user, or None when it is not a command at all."""
    shown_prefix = display_prefix(prefix)
    if not isinstance(content, str):
        return None
    word = prefix.strip()
    text = content.lstrip()
    if text[: len(word)].lower() != word.lower():
        return None
    rest = text[len(word) :]
    if shown_prefix.endswith(" ") and rest and not rest[0].isspace():
        return None
    head, args = _take(rest, 1)
    if len(content) > MESSAGE_MAX:  # an over-long `auth` may still hold a key: sensitive, so it is deleted
        auth = bool(head) and canonical(head[0]) == "auth"
        return CommandError(f"That message is too long for a command (at most {MESSAGE_MAX} characters).", auth)
    if not head:
        return Command("help")
    name = canonical(head[0])
    if name is None:
        return CommandError(f"Unknown command: {shown(head[0])}. Try `{shown_prefix}help`.")
    return _PARSERS[name](args, _Ctx(shown_prefix))


# ---- arguments -----------------------------------------------------------------------------------


def _target(args: str, ctx: _Ctx, usage: str, what: str = "Which personality?") -> str | CommandError:
    target = normalize_name(" ".join(args.split()))
    if not target:
        return ctx.error(what, usage)
    if len(target) > TARGET_MAX:
        return ctx.error(f"No name or alias is that long (at most {TARGET_MAX} characters).", usage)
    if not target.isprintable():
        return ctx.error("Names and aliases only use visible characters; this one has an invisible one.", usage)
    return target


def _alias(raw: str, ctx: _Ctx, usage: str) -> str | CommandError:
    alias = normalize_alias(raw)
    problem = alias_problem(alias)
    return ctx.error(problem, usage) if problem else alias


def _add(args: str, ctx: _Ctx) -> Parsed:
    usage = COMMANDS["add"].usage
    words, rest = _take(args, 1)
    if not words:
        return ctx.error("Give the new personality a name.", usage)
    name = normalize_name(words[0])
    problem = name_problem(name) or (_MENTION.search(name) and "A name cannot be a mention.")
    if problem:
        return ctx.error(problem, usage)
    if not rest:
        return Command("add", (name, ""))
    alias = _alias(rest, ctx, usage)
    return alias if isinstance(alias, CommandError) else Command("add", (name, alias))


def _alias_cmd(args: str, ctx: _Ctx) -> Parsed:
    usage = COMMANDS["alias"].usage
    words, rest = _take(args, 1)
    if not words or not rest:
        return ctx.error("Give the personality's name and then the alias.", usage)
    name = _target(words[0], ctx, usage)
    if isinstance(name, CommandError):
        return name
    alias = _alias(rest, ctx, usage)
    return alias if isinstance(alias, CommandError) else Command("alias", (name, alias))


def _targeted(command: str) -> Callable[[str, _Ctx], Parsed]:
    def parse(args: str, ctx: _Ctx) -> Parsed:
        target = _target(args, ctx, COMMANDS[command].usage)
        return target if isinstance(target, CommandError) else Command(command, (target,))

    return parse


def _list(args: str, ctx: _Ctx) -> Parsed:
    usage = COMMANDS["list"].usage
    words = args.split()
    if not words:
        return Command("list")
    if len(words) > 1:
        return ctx.error("`list` takes only a page number.", usage)
    if not _PAGE.fullmatch(words[0]) or not 1 <= int(words[0]) <= PAGE_MAX:
        return ctx.error(f"The page is a whole number from 1 to {PAGE_MAX}.", usage)
    return Command("list", (str(int(words[0])),))


def _no_args(command: str) -> Callable[[str, _Ctx], Parsed]:
    return lambda args, ctx: Command(command)


def _choice(command: str, choices: dict[str, str], default: str) -> Callable[[str, _Ctx], Parsed]:
    def parse(args: str, ctx: _Ctx) -> Parsed:
        words = args.split()
        mode = choices.get(words[0].lower()) if len(words) == 1 else default if not words else None
        if mode is None:
            return ctx.error(f"Choose one of: {', '.join(sorted(set(choices.values())))}.", COMMANDS[command].usage)
        return Command(command, (mode,))

    return parse


def _help(args: str, ctx: _Ctx) -> Parsed:
    words = args.split()
    if not words:
        return Command("help")
    return Command("help", (canonical(words[0]) or words[0],))


# ---- config --------------------------------------------------------------------------------------


def _config(args: str, ctx: _Ctx) -> Parsed:
    usage = COMMANDS["config"].usage
    keys = ", ".join(CONFIG_KEYS)
    words, value = _take(args, 2)
    if not words:
        return ctx.error(f"Which personality, which setting, and what value? Keys: {keys}.", usage)
    target = _target(words[0], ctx, usage)
    if isinstance(target, CommandError):
        return target
    if len(words) < 2:
        return ctx.error(f"Which setting? Keys: {keys}.", usage)
    key = words[1]
    k = key.lower().replace("_", "-")
    if k not in CONFIG_KEYS:
        return ctx.error(f"Unknown setting: {shown(key)}. Keys: {keys}.", usage)
    key_usage = f"config {target if _PLAIN.fullmatch(target) else '<name>'} {k} {CONFIG_KEYS[k][0]}"
    if not value:
        return ctx.error(f"Give a value for {k}: {CONFIG_KEYS[k][1]}.", key_usage)
    checked = _VALUES[k](value)
    if isinstance(checked, tuple):
        return ctx.error(checked[0], key_usage)
    return Command("config", (target, k, checked))


Checked = str | tuple[str]  # the normalized value, or (the reason it is refused,)


def _display(value: str) -> Checked:
    display = normalize_name(value)
    problem = display_problem(display)
    return (problem,) if problem else display


def _avatar(value: str) -> Checked:
    if value.lower() == "none":
        return "none"  # no avatar
    url = value[1:-1] if value.startswith("<") and value.endswith(">") else value  # <url> hides Discord's preview
    if len(url) > AVATAR_MAX:
        return (f"An avatar URL can be at most {AVATAR_MAX} characters.",)
    if any(ch.isspace() for ch in url) or not url.isprintable():
        return ("An avatar URL cannot contain spaces or invisible characters.",)
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ("The avatar must be an http:// or https:// URL.",)
    return url


def _prompt(value: str) -> Checked:
    prompt = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not prompt:
        return ("The prompt cannot be empty.",)
    if len(prompt) > PROMPT_MAX:
        return (f"A prompt can be at most {PROMPT_MAX} characters.",)
    if _CONTROL.search(prompt):
        return ("The prompt contains control characters; paste it as plain text.",)
    return prompt


def _model(value: str) -> Checked:
    if _MODEL.fullmatch(value):
        return value
    return ("A model id is 1-100 characters: letters, digits and / . _ : @ - (e.g. openai/gpt-4o-mini).",)


def _temperature(value: str) -> Checked:
    if _TEMPERATURE.fullmatch(value) and 0.0 <= float(value) <= 2.0:
        return repr(float(value))
    return ("The temperature is a number from 0.0 to 2.0, like 0.7.",)


def _max_tokens(value: str) -> Checked:
    if value.lower() == "default" or (_PAGE.fullmatch(value) and 1 <= int(value) <= 100_000):
        return value.lower()
    return ("Max tokens is a whole number from 1 to 100000, or default (the bot's setting).",)


def _switch(value: str) -> Checked:
    word = value.lower()
    return "on" if word in _ON else "off" if word in _OFF else ("Use on or off.",)


_VALUES: dict[str, Callable[[str], Checked]] = {
    "display": _display,
    "avatar": _avatar,
    "prompt": _prompt,
    "model": _model,
    "temperature": _temperature,
    "vision": _switch,
    "context-line": _switch,
    "public": _switch,
    "nsfw": _switch,
    "max-tokens": _max_tokens,
    "context": lambda value: value.lower() if value.lower() in ("channel", "user") else ("Use channel or user.",),
}


# ---- auth, blacklist -----------------------------------------------------------------------------


def _auth(args: str, ctx: _Ctx) -> Parsed:
    """Never echoes what was typed, and marks an error `sensitive` whenever what was typed may be a key."""
    usage = COMMANDS["auth"].usage
    words, rest = _take(args, 1)
    sub = words[0].lower() if words else "status"
    if sub in ("status", "clear"):
        return ctx.error(f"`auth {sub}` takes nothing more.", usage, True) if rest else Command("auth", (sub,))
    if sub != "key":  # perhaps the key itself, pasted without `key`
        return ctx.error("Unknown auth option.", usage, True)
    key_usage = "auth key <your API key>"
    for mark in ("||", "`"):  # a key pasted as a spoiler or as code
        if len(rest) > 2 * len(mark) and rest.startswith(mark) and rest.endswith(mark):
            rest = rest[len(mark) : -len(mark)].strip()
    if not rest:
        return ctx.error("Give your API key (in a DM to the bot).", key_usage)
    problem = (
        "An API key has no spaces." if any(ch.isspace() for ch in rest)
        else f"An API key is {KEY_MIN} to {KEY_MAX} characters long." if not KEY_MIN <= len(rest) <= KEY_MAX
        else "An API key only has visible ASCII characters." if not _API_KEY.fullmatch(rest)
        else None
    )
    return ctx.error(problem, key_usage, True) if problem else Command("auth", ("key", rest))


def _blacklist(args: str, ctx: _Ctx) -> Parsed:
    words = args.split()
    sub = words[0].lower() if words else "list"
    if sub == "list":
        if len(words) > 1:
            return ctx.error("`blacklist list` takes nothing more.", "blacklist list")
        return Command("blacklist", ("list",))
    if sub not in ("add", "remove", "check"):
        return ctx.error("Choose add, remove, check or list.", COMMANDS["blacklist"].usage)
    usage = f"blacklist {sub} <user>" + (" [reason]" if sub == "add" else "")
    if len(words) < 2:
        return ctx.error("Which user? Give a mention or their user ID.", usage)
    m = _USER.fullmatch(words[1])
    if not m:
        return ctx.error("The user must be a mention (<@123...>) or a user ID (17-20 digits).", usage)
    user_id = m.group(1) or m.group(2)
    if sub != "add":
        if len(words) > 2:
            return ctx.error(f"`blacklist {sub}` takes only the user.", usage)
        return Command("blacklist", (sub, user_id))
    reason = " ".join(words[2:])
    if len(reason) > REASON_MAX:
        return ctx.error(f"A reason can be at most {REASON_MAX} characters.", usage)
    return Command("blacklist", ("add", user_id, reason))


_PARSERS: dict[str, Callable[[str, _Ctx], Parsed]] = {
    "add": _add,
    "remove": _targeted("remove"),
    "alias": _alias_cmd,
    "list": _list,
    "info": _targeted("info"),
    "config": _config,
    "activate": _targeted("activate"),
    "deactivate": _no_args("deactivate"),
    "autorespond": _choice(
        "autorespond", {**dict.fromkeys(_ON, "on"), **dict.fromkeys(_OFF, "off"), "status": "status"}, "status"
    ),
    "reset": _targeted("reset"),
    "auth": _auth,
    "verify": _no_args("verify"),
    "blacklist": _blacklist,
    "help": _help,
    "ping": _no_args("ping"),
    "status": _no_args("status"),
    "purgbot": _choice("purgbot", {"system": "system", "all": "all"}, "system"),
    "memory": parse_memory,
    "persona": parse_persona,
    "data": parse_data,
    "export": _no_args("export"),
    "import": _no_args("import"),
}
assert set(_PARSERS) == set(COMMANDS), "every command needs a parser"
