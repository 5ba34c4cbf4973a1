"""Every command, given any arguments, through the real state classes and a real store, then a restart.

`Bot` wires UserState, ChannelState, RegistryState and BlacklistState in the tests' world (testkit/world.py), as
their shells do (a `Tell` is delivered to the actor it names, a `Call` is answered at once by a fake Discord, AI
or key service, `Save` and `SaveRow` write through to one SqliteStore, `Push` persists the routing fact). A user
types a command with arguments drawn from every Unicode category, mentions, markdown and attachments (huge,
deeply nested, malformed JSON); the property: nothing raises, every command is answered with a clear message
that Discord accepts, and a fresh bot started on the same store restores every row and routing fact and answers
again.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.effects import Call
from actors.messages import Author, Incoming, Place, RouteFact
from actors.results import Ok
from actors.state.blacklist import BlacklistState
from actors.state.channel import ChannelState
from actors.state.command_help import ALIASES as COMMAND_WORDS
from actors.state.registry import RegistryState
from actors.state.user import UserState
from config import Settings
from edge.routing import RoutingTable
from store import SqliteStore
from testkit.world import PureWorld

NOW = 1_700_000_000.0
SETTINGS = Settings(data_dir=Path("/nonexistent"), user_burst=10_000, user_command_burst=10_000)
STATES: dict[str, type] = {"user": UserState, "channel": ChannelState, "registry": RegistryState,
                           "blacklist": BlacklistState}
ALICE, BOB = 111111111111111111, 222222222222222222
PLACES = [
    Place(500, "text", guild_id=900, name="general", guild_name="Guild"),
    Place(501, "text", guild_id=900, nsfw=True, name="lounge", guild_name="Guild"),
    Place(502, "thread", guild_id=900, parent_id=500, name="ideas", guild_name="Guild"),
    Place(600, "dm"),
]
TRACEBACK_SIGNS = ("Traceback", "Error:", "Exception", "<object at")


@dataclass
class Said:
    text: str


class Bot(PureWorld):
    """The four state classes over one real store, as their shells run them (a miniature tree)."""

    def __init__(self, path: Path, first_id: int = 10**18) -> None:
        makers = {kind: (lambda key, data, cls=cls: cls.restore(key, data, SETTINGS)) for kind, cls in STATES.items()}
        services = dict.fromkeys(("ai", "keys", "work", "discord"), self.call)
        super().__init__(makers, services, now=NOW, listen=(), store=SqliteStore(path), start=True)
        self.sent: list[tuple[int, str]] = []  # (channel, content) of every message to Discord
        self.ids = itertools.count(first_id)  # Discord's ids only grow, across restarts too

    def call(self, call: Call) -> Any:
        """The outside world, answering at once: the AI echoes, the key service seals, Discord accepts."""
        service, method, args = call.service, call.method, call.args
        if (service, method) == ("ai", "available"):
            return True
        if (service, method) == ("ai", "complete"):
            return Said("an answer")
        if (service, method) == ("keys", "seal"):
            return "sealed-token"
        if (service, method) == ("work", "open_for_user"):
            return []
        assert service == "discord", call
        if method == "list_webhooks" or method == "channel_messages":
            return Ok(200, [])
        if method == "create_webhook":
            return Ok(200, {"id": str(next(self.ids)), "token": "t", "name": "Tzurot"})
        if method in ("execute_webhook", "create_message", "create_message_with_file"):
            payload = args[2] if method == "execute_webhook" else args[1]
            self.sent.append((args[0], str(payload.get("content", ""))))
            return Ok(200, {"id": str(next(self.ids)), "content": payload.get("content", "")})
        return Ok(204, None)  # typing, deleting a message

    def type(self, user: int, text: str, place: Place, attachment: str = "", perms: frozenset = frozenset()) -> int:
        mid = next(self.ids)
        incoming = Incoming(mid, place, Author(user, f"u{user % 1000}"), text, attachment_text=attachment,
                            perms=perms, created_at=NOW)
        self.deliver_to("channel", place.channel_id, incoming)
        return mid

    def close(self) -> None:
        self.store.close()


# ---- what people type -------------------------------------------------------------------------------

every_category = st.characters(blacklist_categories=("Cs",))  # lone surrogates are mended by the edge
word = st.one_of(
    st.text(every_category, min_size=1, max_size=24),
    st.sampled_from(["@everyone", "@here", "<@123456789012345678>", "<@&42>", "<#500>", "**bold**", "||spoiler||",
                     "`code`", "```block```", "~~x~~", "> quote", "\u202eevil", "\u200b", "👨‍👩‍👧", "ｆｕｌｌ",
                     "lilith", "on", "off", "default", "nsfw", "max-tokens", "prompt", "0123", "²²", "-1", "1e9"]),
)
command_word = st.one_of(
    st.sampled_from(sorted(COMMAND_WORDS)),
    st.sampled_from(["import", "add", "config", "alias", "auth", "blacklist", "activate", "reset", "remove"]),
    st.text(every_category, min_size=1, max_size=12),
)
nested = st.integers(1, 120_000).map(lambda n: "[" * n + "]" * n)
records = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(every_category, max_size=20)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
attachment = st.one_of(
    st.just(""),
    nested,
    st.integers(0, 256 * 1024).map(lambda n: "a" * n),
    records.map(json.dumps),
    st.lists(st.fixed_dictionaries(
        {"name": st.text(every_category, max_size=60)},
        optional={"prompt": records, "display_name": records, "nsfw": records, "max_tokens": records},
    ), max_size=5).map(json.dumps),
    st.text(every_category, max_size=200),
)


@st.composite
def commands(draw: Any) -> tuple[str, str, Place, frozenset[str]]:
    words = draw(st.lists(word, max_size=6))
    separator = draw(st.sampled_from([" ", "  ", "\u00a0", "\u3000", "\n"]))
    text = "!tz " + draw(command_word) + (separator + separator.join(words) if words else "")
    perms = draw(st.sampled_from([frozenset(), frozenset({"manage_messages"}), frozenset({"administrator"})]))
    return text, draw(attachment), draw(st.sampled_from(PLACES)), perms


FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


@FUZZ
@given(first=commands(), second=commands(), who=st.sampled_from([ALICE, BOB]))
def test_any_command_is_answered_clearly_and_the_bot_always_starts_again(first, second, who) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bot = Bot(Path(tmp) / "store.sqlite3")
        bot.type(ALICE, "!tz add lilith", PLACES[3])  # something to act on
        for text, attached, place, perms in (first, second):
            before = len(bot.sent)
            bot.type(who, text, place, attached, perms)
            answers = [content for channel, content in bot.sent[before:] if channel == place.channel_id]
            assert answers, f"no answer to {text[:80]!r}"
            for content in answers:
                assert content.strip() and len(content) <= 2000, content[:200]
                assert not any(sign in content for sign in TRACEBACK_SIGNS), content[:300]
        bot.close()

        again = Bot(Path(tmp) / "store.sqlite3", 2 * 10**18)  # a restart: every row and fact must load
        for kind, cls in STATES.items():
            for key in again.store.keys(cls.KIND):
                again.actor(kind, key)
        table = RoutingTable()
        problems: list[str] = []
        for kind, key, value in again.store.routes(problems.append):
            table.apply(RouteFact(kind, key, value), NOW)
        assert problems == []
        before = len(again.sent)
        again.type(who, "!tz ping", PLACES[3])
        assert any("Pong" in content for _, content in again.sent[before:])
        again.close()
