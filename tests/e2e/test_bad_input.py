"""Bad and unexpected input through the real bot: malformed gateway payloads, odd Unicode, over-long text,
answers at the 2,000-character edge, and every command given bad arguments. The bot never dies, never goes
silent and never shows a traceback."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from emulator.discord.gateway import Intent
from emulator.discord.payloads import member_payload, message_payload
from testkit.process import wait_for

ZWSP, RLM, RLO, ZWJ_FAMILY = "\u200b", "\u200f", "\u202e", "\U0001f468\u200d\U0001f469\u200d\U0001f467"


# ---- malformed gateway payloads ------------------------------------------------------------------------


def dispatch_raw(stack, payload: Any, guild_id: int | None) -> None:
    """Send one MESSAGE_CREATE exactly as given over the emulator's gateway (it checks nothing)."""
    hub = stack.discord.emulator._ctx.gateway
    intent = Intent.GUILD_MESSAGES if guild_id is not None else Intent.DIRECT_MESSAGES
    stack.discord.call(lambda: hub.dispatch("MESSAGE_CREATE", payload, intent, guild_id=guild_id))


def template(stack, channel: int, message_id: int) -> dict[str, Any]:
    """The MESSAGE_CREATE payload the emulator sent for a message (with its member), to mutate."""
    world = stack.discord.emulator.world

    def build() -> dict[str, Any]:
        message = world.message(channel, message_id)
        payload = message_payload(world, message)
        member = world.members.get((message.guild_id or 0, message.author.id))
        if member is not None:
            payload["member"] = member_payload(world, member, with_user=False)
        return payload

    return stack.discord.call(build)


def _without(key: str) -> Callable[[dict], Any]:
    def mutate(p: dict) -> dict:
        p.pop(key, None)
        return p

    return mutate


def _set(key: str, value: Any) -> Callable[[dict], Any]:
    def mutate(p: dict) -> dict:
        p[key] = value
        return p

    return mutate


MALFORMED: list[tuple[str, Callable[[dict], Any]]] = [
    ("no author", _without("author")),
    ("author is a string", _set("author", "alice")),
    ("author without id", _set("author", {"username": "ghost"})),
    ("author id not a number", _set("author", {"id": "not-a-snowflake", "username": "x", "discriminator": "0"})),
    ("no id", _without("id")),
    ("id not a number", _set("id", "abc")),
    ("no channel", _without("channel_id")),
    ("unknown channel", _set("channel_id", "999999999999999999")),
    ("unknown guild", _set("guild_id", "888888888888888888")),
    ("content is a number", _set("content", 12345)),
    ("content is null", _set("content", None)),
    ("content missing", _without("content")),
    ("mentions is a string", _set("mentions", "everyone")),
    ("mentions hold garbage", _set("mentions", [{"id": "x"}, 5, None])),
    ("attachments hold garbage", _set("attachments", [{"bogus": 1}])),
    ("timestamp is garbage", _set("timestamp", "yesterday-ish")),
    ("reference to nowhere", _set("message_reference", {"message_id": "nope"})),
    ("referenced message is garbage", _set("referenced_message", {"id": "1"})),
    ("member is garbage", _set("member", {"roles": "all"})),
    ("type is unknown", _set("type", 9999)),
    ("empty object", lambda p: {}),
    ("null", lambda p: None),
    ("a list", lambda p: [1, 2, 3]),
]


def test_malformed_gateway_messages_are_logged_and_skipped_and_the_bot_keeps_answering(make_stack) -> None:
    stack = make_stack()
    sb = stack.sandbox
    general, dm = sb.channel("general"), sb.dm("alice")
    guild_id = int(sb.state["guilds"][0]["id"])
    first = sb.command(general, "alice", sb.mention("template"), "template")
    base = template(stack, general, first)
    dm_first = sb.command(dm, "alice", "@tzurot dm template", "dm template")
    dm_base = template(stack, dm, dm_first)
    world = stack.discord.emulator.world

    for n, (name, mutate) in enumerate(MALFORMED):
        for payload_base, gid in ((base, guild_id), (dm_base, None)):
            payload = copy.deepcopy(payload_base)
            payload["id"] = str(stack.discord.call(world.ids.next))
            payload["content"] = sb.mention(f"malformed {n}: {name}") if gid else f"@tzurot malformed {n}"
            dispatch_raw(stack, mutate(payload), gid)

    sb.command(general, "bob", sb.mention("still there after the garbage?"), "still there after the garbage?")
    carol_dm = sb.dm("carol")  # alice's well-formed odd messages used up her rate limit: ask as carol
    sb.command(carol_dm, "carol", "@tzurot and in DMs?", "and in DMs?")
    assert stack.bot.proc.poll() is None, "the bot process died"
    assert stack.discord.emulator.connected_sessions == 1  # the same gateway session, never dropped
    output = stack.bot.output()
    assert output.count("skipped a malformed MESSAGE_CREATE") >= 10  # logged, not silently lost
    assert "malformed 0:" not in output  # the log names the error, never the message's text


def test_a_message_with_a_lone_surrogate_is_answered_and_its_user_keeps_being_answered(make_stack) -> None:
    """JSON lets a gateway payload carry `\\ud83d` alone; such text cannot be stored or sent as UTF-8."""
    stack = make_stack()
    sb = stack.sandbox
    general = sb.channel("general")
    guild_id = int(sb.state["guilds"][0]["id"])
    first = sb.command(general, "alice", sb.mention("template"), "template")
    base = template(stack, general, first)
    world = stack.discord.emulator.world
    payload = copy.deepcopy(base)
    payload["id"] = str(stack.discord.call(world.ids.next))
    payload["content"] = sb.mention("lone \ud83d surrogate")
    payload["author"] = {**payload["author"], "global_name": "ali\udc00ce"}
    dispatch_raw(stack, payload, guild_id)

    answer = sb.said(general, first, "surrogate")[0]
    assert "lone \ufffd surrogate" in answer["content"]
    # her actor is not stuck on a message it cannot save
    sb.command(general, "alice", sb.mention("and after it?"), "and after it?")


ODD_ENV = {"TZUROT_USER_RATE_PER_MIN": "600", "TZUROT_USER_BURST": "100"}  # many addressed messages, quickly


def test_odd_unicode_and_over_long_input_and_answers_at_the_2000_character_edge(make_stack) -> None:
    stack = make_stack(env=ODD_ENV)
    sb = stack.sandbox
    general = sb.channel("general")

    # Commands are answered in #help and #lounge, personalities in #general: a bot may post 5 per 5 s in each.
    rooms = itertools.cycle([sb.channel("help"), sb.channel("lounge")])

    def command(text: str, expect: str) -> str:
        room = next(rooms)
        t = sb.post(room, "alice", text)
        return sb.said(room, t, expect)[0]["content"]

    command("!tz add lilith", "Added")
    command("!tz add ליליט", "Added")  # right-to-left names are names
    command("!tz add 🔥blaze", "Added")  # so are emoji
    assert "printable" in command(f"!tz add li{ZWSP}lith2", "")  # an invisible character is refused, clearly
    assert "printable" in command(f"!tz add {RLO}evil", "")
    assert "alias may only use" in command("!tz alias lilith 🔥", "")
    assert "alias may only use" in command(f"!tz alias lilith zero{ZWSP}width", "")
    assert "alias may only use" in command("!tz alias lilith שלום", "")

    for text, expect in [
        ("@ליליט שלום עולם", "שלום עולם"),
        (f"@🔥blaze hi {ZWJ_FAMILY} 👍🏽", f"hi {ZWJ_FAMILY} 👍🏽"),
        (f"@lilith {RLM}مرحبا{ZWSP} and {RLO}reversed", f"{RLM}مرحبا{ZWSP} and {RLO}reversed"),
    ]:
        t = sb.post(general, "bob", text)
        assert sb.said(general, t, expect)

    # A 4,001+ character message that addresses a personality: answered, in messages Discord accepts.
    long_in = "@lilith " + "word " * 820
    assert len(long_in) > 4000
    t = sb.post(general, "carol", long_in)
    answers = wait_for(lambda: [m for m in sb.replies(general, t)], what="an answer to the long message")
    assert all(0 < len(m["content"]) <= 2000 for m in answers)

    # Answers of exactly 2,000 and 2,001 characters: one message, then two.
    t = sb.post(general, "carol", "@lilith LONG:2000")
    [one] = sb.said(general, t, "Sentence 1 ")
    assert len(one["content"]) == 2000
    t = sb.post(general, "carol", "@lilith LONG:2001")
    two = sb.said(general, t, "", n=2)
    assert len(two) == 2 and all(len(m["content"]) <= 2000 for m in two)
    assert sum(len(m["content"]) for m in two) >= 2001 - 2  # only the whitespace at the cut is dropped
    assert stack.bot.proc.poll() is None and "Traceback" not in stack.bot.output()


# ---- every command, given bad input -----------------------------------------------------------------------

LONG = "x" * 4100
BAD_COMMANDS: list[tuple[str, str, str, str]] = [  # (where, who, what they post, what the answer says)
    ("general", "alice", "!tz", "Commands"),
    ("general", "alice", "!tz frobnicate", "Unknown command"),
    ("general", "alice", "!tz ａｄｄ x", "Unknown command"),
    ("general", "alice", "!tz add", "Give the new personality a name"),
    ("general", "alice", "!tz add x", "2 to 50 characters"),
    ("general", "alice", "!tz add " + "n" * 60, "2 to 50 characters"),
    ("general", "alice", "!tz add lilith", "lilith"),  # taken
    ("general", "alice", f"!tz add li{ZWSP}lith", "printable"),
    ("general", "alice", f"!tz add {RLO}evil", "printable"),
    ("dm:alice", "alice", "!tz add bob 🔥🔥", "alias may only use"),
    ("dm:alice", "alice", "!tz add <@123456789012345678>", "cannot be a mention"),
    ("dm:alice", "alice", "!tz remove", "Which personality"),
    ("dm:alice", "alice", "!tz remove nobody", "I don't know a personality called"),
    ("help", "alice", "!tz alias", "name and then the alias"),
    ("help", "alice", "!tz alias lilith", "name and then the alias"),
    ("help", "alice", "!tz alias nobody x", "I don't know a personality called"),
    ("help", "alice", "!tz alias lilith bad!alias", "alias may only use"),
    ("help", "alice", "!tz alias lilith " + "a" * 60, "at most 50"),
    ("help", "alice", "!tz list x", "whole number"),
    ("help", "alice", "!tz list 1 2", "only a page number"),
    ("help", "alice", "!tz list 99999", "whole number"),
    ("dm:alice", "alice", "!tz info", "Which personality"),
    ("dm:alice", "alice", "!tz info nobody", "I don't know a personality called"),
    ("dm:alice", "alice", "!tz info " + "x" * 200, "that long"),
    ("dm:alice", "alice", f"!tz info lilith{ZWSP}", "invisible"),
    ("lounge", "alice", "!tz config", "Which personality, which setting"),
    ("lounge", "alice", "!tz config lilith", "Which setting"),
    ("lounge", "alice", "!tz config lilith nokey v", "Unknown setting"),
    ("lounge", "alice", "!tz config lilith temperature 9", "temperature is a number"),
    ("lounge", "alice", "!tz config lilith temperature", "Give a value"),
    ("lounge", "alice", "!tz config lilith avatar ftp://x", "http"),
    ("lounge", "alice", "!tz config lilith model has spaces!", "model id"),
    ("lounge", "alice", "!tz config lilith vision maybe", "on or off"),
    ("lounge", "alice", "!tz config lilith display " + "d" * 100, "at most 80"),
    ("dm:bob", "bob", "!tz config nobody vision on", "I don't know a personality called"),
    ("dm:bob", "bob", "!tz config lilith prompt " + "p" * 4100, "too long"),
    ("ideas", "alice", "!tz activate", "Which personality"),
    ("ideas", "alice", "!tz activate nobody", "I don't know a personality called"),
    ("ideas", "alice", "!tz autorespond maybe", "Choose one of"),
    ("ideas", "alice", "!tz autorespond on off", "Choose one of"),
    ("ideas", "alice", "!tz reset", "Which personality"),
    ("ideas", "alice", "!tz reset nobody", "I don't know that personality"),
    ("ideas", "alice", "!tz verify", "age-restricted"),
    ("ideas", "alice", "!tz help nosuch", "No such command"),
    ("help", "alice", "!tz purgbot maybe", "Choose one of"),
    ("dm:carol", "carol", "!tz auth bogus", "Unknown auth option"),
    ("dm:carol", "carol", "!tz auth key", "Give your API key"),
    ("dm:carol", "carol", "!tz auth key short", "8 to 512"),
    ("dm:carol", "carol", "!tz auth key has spaces in it", "no spaces"),
    ("dm:carol", "carol", "!tz auth key ключ-кириллица", "visible ASCII"),
    ("dm:carol", "carol", "!tz auth status extra", "takes nothing more"),
    ("dm:carol", "carol", "!tz activate lilith", "not in DMs"),
    ("dm:carol", "carol", "!tz blacklist frob", "Choose add, remove, check or list"),
    ("dm:carol", "carol", "!tz blacklist add", "Which user"),
    ("dm:carol", "carol", "!tz blacklist add notanid", "must be a mention"),
    ("ideas", "carol", "!tz blacklist remove 123456789012345678 extra", "takes only the user"),
    ("ideas", "carol", "!tz blacklist add 123456789012345678 " + "r" * 300, "at most 200"),
    ("dm:alice", "alice", "!tz import", "attach"),
    ("dm:alice", "alice", "!tz " + LONG, "too long"),
    ("dm:bob", "bob", "!tz ping extra words", "Pong"),
    ("dm:bob", "bob", "!tz status extra", ""),
    ("dm:bob", "bob", "!tz export extra", ""),
    ("dm:bob", "bob", "!tz deactivate extra", "not in DMs"),
    ("dm:bob", "bob", "!tz reset " + "ש" * 60, "that long"),
    ("dm:bob", "bob", "!tz purgbot all extra", "Choose one of"),
    ("dm:bob", "bob", "!tz info 🔥 @everyone <@123456789012345678>", "I don't know a personality called"),
]


@pytest.mark.slow  # over 7 s: make test stays under 8 minutes
def test_every_command_given_bad_input_answers_clearly(make_stack) -> None:
    """Posted all at once (each user's commands are answered in order, users and channels in parallel); every
    one gets an answer that replies to it and says what is wrong: never silence, never a traceback."""
    stack = make_stack(env={"TZUROT_USER_COMMAND_BURST": "200"})  # dozens at once: about input, not limits
    sb = stack.sandbox
    t = sb.post(sb.channel("general"), "alice", "!tz add lilith")
    sb.said(sb.channel("general"), t, "Added")

    def where(name: str) -> int:
        return sb.dm(name[3:]) if name.startswith("dm:") else sb.channel(name)

    posted = [(where(w), sb.post(where(w), who, text), text, expect) for w, who, text, expect in BAD_COMMANDS]
    problems = []
    for channel, trigger, text, expect in posted:
        def answer(channel: int = channel, trigger: int = trigger) -> list[dict]:
            return [m for m in sb.replies(channel, trigger) if m["reply_to"] == str(trigger)]

        try:
            reply = wait_for(answer, 30, what=f"an answer to {text[:60]!r}")[0]["content"]
        except AssertionError as exc:
            problems.append(str(exc))
            continue
        if expect.lower() not in reply.lower() or "Traceback" in reply or "Error:" in reply:
            problems.append(f"{text[:60]!r} -> {reply[:300]!r}")
    assert problems == []
    assert stack.bot.proc.poll() is None
