"""The command table and its help texts: one place that says what each command is called, takes and does.

Pure data and string formatting; `actors.state.commands` parses with it. Every text fits in one Discord
message (at most 2,000 characters), whatever the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

DISCORD_MAX = 2000
SHOWN_MAX = 32  # how much of a word the user typed is echoed back in an error


@dataclass(frozen=True)
class CommandSpec:
    name: str  # canonical, lower-case
    aliases: tuple[str, ...]
    usage: str  # without the prefix, e.g. "add <name> [alias words...]"
    summary: str  # one line for the overview
    who: str  # who may use it (enforced by the actors, not by the parser)
    details: str = ""  # more, for `help <command>`


# key -> (what the value looks like, what it does)
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "display": ("<display name>", "the name shown on its messages (1-80 characters)"),
    "avatar": ("<https://... image URL>", "its avatar picture (an http or https URL; none removes it)"),
    "prompt": ("<system prompt>", "who it is: its system prompt (1-4000 characters, may span several lines)"),
    "model": ("<model id>", "the AI model, e.g. openai/gpt-4o-mini"),
    "temperature": ("<0.0-2.0>", "how random its answers are"),
    "vision": ("<on|off>", "show it the images in messages"),
    "context-line": ("<on|off>", "tell it the server, channel and time of each message"),
    "public": ("<on|off>", "let other people talk to it"),
    "nsfw": ("<on|off>", "age-restricted: it talks only in age-restricted channels, and in DMs only to verified users"),
    "max-tokens": ("<1-100000|default>", "the longest answer it may give, in tokens"),
    "context": ("<channel|user>", "what it sees: the channel's recent conversation (default), or only your own turns"),
}

_SPECS = (
    CommandSpec("add", ("create", "new"), "add <name> [alias words...]", "create a personality", "anyone",
                "The name is 2-50 characters without spaces, unique across the bot. An optional alias (letters "
                "a-z, digits, spaces, '-' and '_') is another way to @mention it."),
    CommandSpec("remove", ("delete",), "remove <name or alias>", "delete a personality and its aliases",
                "its owner or the bot owner"),
    CommandSpec("alias", (), "alias <name> <alias words...>", "give a personality another name to be called by",
                "its owner or the bot owner",
                "An alias may have several words; it uses letters a-z, digits, spaces, '-' and '_' (at most 50 "
                "characters) and is lower-cased."),
    CommandSpec("list", (), "list [page]", "your personalities, 10 a page", "anyone"),
    CommandSpec("info", (), "info <name or alias>", "a personality's name, display name, aliases, owner, avatar",
                "anyone"),
    CommandSpec("config", ("configure", "settings"), "config <name> <key> <value>", "change a personality's settings",
                "its owner",
                "Keys:\n" + "\n".join(f"- `{k} {v}`: {d}" for k, (v, d) in CONFIG_KEYS.items())
                + "\nOn/off settings also take true/false, yes/no, enable/disable, 1/0. "
                "`model default` goes back to the bot's model."),
    CommandSpec("activate", ("act",), "activate <name or alias>",
                "the personality answers every message in this channel", "people who can Manage Messages here"),
    CommandSpec("deactivate", ("deact",), "deactivate", "stop the personality active in this channel",
                "people who can Manage Messages here"),
    CommandSpec("autorespond", ("ar", "auto"), "autorespond [on|off|status]",
                "keep talking to the personality you last addressed", "anyone, for themself",
                "When on, after you address a personality your next plain messages in that channel continue the "
                "conversation (30 minutes in servers, 2 hours in DMs). Without a word it shows your setting."),
    CommandSpec("reset", (), "reset <name or alias>", "forget your conversation with it in this channel",
                "anyone, for themself"),
    CommandSpec("auth", (), "auth [key <your API key> | clear | status]", "your own AI service key",
                "anyone, for themself",
                "`auth key <key>` stores your own API key (8-512 characters, no spaces); use it in DMs, a key "
                "posted in a channel is deleted. `auth clear` forgets it; `auth status` (or plain `auth`) tells "
                "you whether one is set."),
    CommandSpec("verify", ("nsfw",), "verify", "confirm your age (run it in an age-restricted channel)", "anyone"),
    CommandSpec("blacklist", ("bl",), "blacklist [add <user> [reason] | remove <user> | check <user> | list]",
                "users the bot ignores", "the bot owner",
                "The user is a mention or a user ID; a reason is at most 200 characters. Plain `blacklist` lists."),
    CommandSpec("help", ("h", "?"), "help [command]", "this help, or more about one command", "anyone"),
    CommandSpec("ping", (), "ping", "is the bot alive", "anyone"),
    CommandSpec("status", (), "status", "uptime, latency and your own settings here", "anyone",
                "Uptime, latency, your key, how many personalities you have, autorespond, and this channel's "
                "active personality."),
    CommandSpec("purgbot", ("purgebot", "clearbot", "cleandm"), "purgbot [system|all]",
                "delete the bot's messages in your DMs", "anyone, in DMs",
                "`system` (the default) deletes the bot's own notices; `all` also deletes personality messages."),
    CommandSpec("memory", (), "memory [list | forget <id>|all | on|off]",
                "what personalities remember of your conversations", "anyone, for themself",
                "Each answered exchange is remembered per personality and recalled when relevant (a DM's only in "
                "DMs). `list` shows your newest with their ids, `forget <id>` or `forget all` erases, `off` stops "
                "remembering and recalling."),
    CommandSpec("persona", (), "persona [<name>] set <text> | show | clear",
                "who you are, told to the personalities you talk to", "anyone, for themself",
                "`persona set <text>` (up to 1,000 characters) is told to every personality; `persona <name> set "
                "<text>` only to that one (it wins over the general one). `show` and `clear` likewise."),
    CommandSpec("data", (), "data export | data delete", "everything the bot holds about you: get it, or erase it",
                "anyone, for themself",
                "`data export` (in a DM) sends you a JSON file of your settings, persona, conversations and "
                "memories (never your key). `data delete` erases all of it after you confirm."),
    CommandSpec("export", ("backup",), "export", "download your personalities as JSON", "anyone, their own"),
    CommandSpec("import", (), "import", "load personalities from an export (attach the JSON file)", "anyone",
                "Attach the JSON file from `export` to the message."),
)

COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in _SPECS}
ALIASES: dict[str, str] = {word: s.name for s in _SPECS for word in (s.name, *s.aliases)}


def display_prefix(prefix: str) -> str:
    """The prefix as written before a command: `!tz` becomes `!tz `, while `!` (no letter at its end) stays `!`."""
    word = prefix.strip()
    if not word:
        raise ValueError("the command prefix cannot be blank")
    return word + " " if prefix[-1:].isspace() or word[-1].isalnum() else word


def canonical(word: str) -> str | None:
    """The canonical command for a typed word (any case, ASCII only: `ＡＤＤ` is not `add`), or None."""
    return ALIASES.get(word.lower()) if word.isascii() else None


def shown(text: str, limit: int = SHOWN_MAX) -> str:
    """`text` made safe to echo in a message: short, invisible characters spelled out, no mentions, no markdown."""
    cut = text[:limit]
    out = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in cut)
    out = "".join("\\" + ch if ch in "\\*_~|`" else ch for ch in out)
    out = out.replace("@", "@\u200b")  # a zero-width space after @ keeps `@everyone` and `<@123>` from pinging
    return out + ("…" if len(text) > limit else "")


def _fit(text: str) -> str:
    if len(text) <= DISCORD_MAX:
        return text
    return text[: text.rfind("\n", 0, DISCORD_MAX - 1)] + "\n…"


SLASH_TOP = frozenset({"activate", "deactivate", "blacklist"})  # `/<name>`; every other one is `/tz <name>`


def slash_form(name: str) -> str:
    """How a command is typed as a slash command (edge/app_commands.py defines them)."""
    return f"/{name}" if name in SLASH_TOP else f"/tz {name}"


def overview(prefix: str, slash: bool = False) -> str:
    p = display_prefix(prefix)
    how = "type `/` and pick one, or start" if slash else "start"
    lines = [f"**Commands** ({how} each with `{p.strip()}`; <> is required, [] optional)"]
    lines += [f"`{p}{s.usage}`: {s.summary}" for s in _SPECS]
    lines.append(f"More about one: `{p}help <command>`.")
    return _fit("\n".join(lines))


def help_text(prefix: str = "!tz ", command: str | None = None, slash: bool = False) -> str:
    """The overview, or one command's usage and explanation (by its name or any alias, any case); `slash` when
    it was asked as a slash command, whose user is told the slash form too."""
    if command is None or not command.strip():
        return overview(prefix, slash)
    name = canonical(command.strip())
    if name is None:
        return _fit(f"No such command: {shown(command.strip())}.\n" + overview(prefix, slash))
    s, p = COMMANDS[name], display_prefix(prefix)
    lines = [f"`{p}{s.usage}`", s.summary[:1].upper() + s.summary[1:] + "."]
    if slash:
        lines[0] += f" (or `{slash_form(name)}`, its options named in Discord's menu)"
    if s.details:
        lines.append(s.details)
    if s.aliases:
        lines.append("Also: " + ", ".join(f"`{p}{a}`" for a in s.aliases))
    lines.append(f"Who: {s.who}.")
    return _fit("\n".join(lines))


def dm_hint(prefix: str) -> str:
    """What a DM that addresses nobody is told."""
    return (
        f"Tag a personality with `@name`, or reply to one of its messages, to talk to it here. "
        f"`{prefix}list` shows yours, `{prefix}add <name>` creates one, `{prefix}help` explains the rest."
    )
