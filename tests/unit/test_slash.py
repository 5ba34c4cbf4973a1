"""Slash commands' pure parts: the prefix text a slash command stands for, who sees its answer, the definitions'
hash, the catalogue's suggestions, and the channel answering an interaction instead of the channel."""

from __future__ import annotations

from typing import Any

from actors.effects import Call, Done, Tell, WorkDone
from actors.messages import Author, Incoming, Interaction, Notify, Place, SuggestNames
from actors.results import Fail, Ok
from actors.state.channel import ChannelState
from actors.state.commands import Command, parse_command
from actors.state.proxies import incoming_from, incoming_to
from actors.state.registry import RegistryState
from edge.slash import command_text, definitions_hash, describe, ephemeral, modal_value, problem
from store.sqlite import decode, encode

NOW = 1_700_000_000.0
CID = 1_100_000_000_000_000_001
ALICE, BOB = 42, 43
TOKEN = "interaction-token-xyz"


def test_a_slash_command_reads_as_the_prefix_command_it_stands_for() -> None:
    text = command_text("!tz ", "config", ["lilith", "temperature", "0.7"])
    assert parse_command(text) == Command("config", ("lilith", "temperature", "0.7"))
    assert parse_command(command_text("!tz ", "list", [None])) == Command("list")
    assert parse_command(command_text("!tz ", "add", ["lilith", None])) == Command("add", ("lilith", ""))
    assert parse_command(command_text("!tz ", "alias", ["lilith", "my lil"])) == Command("alias", ("lilith", "my lil"))
    assert parse_command(command_text("!tz ", "persona", [None, "set", "I am Sam"])) == Command(
        "persona", ("set", "", "I am Sam"))
    assert parse_command(command_text("!tz ", "persona", ["lilith", "show", None])) == Command(
        "persona", ("show", "lilith"))
    assert parse_command(command_text("!tz ", "data", ["delete", "confirm", "keep"])) == Command(
        "data", ("delete", "confirm", "keep"))
    assert parse_command(command_text("!", "blacklist", ["add", 123456789012345678, "spam"]), "!") == Command(
        "blacklist", ("add", "123456789012345678", "spam"))


def test_a_name_with_spaces_is_refused_where_the_prefix_form_takes_one_word() -> None:
    assert problem("add", ["two words", None]) is not None
    assert problem("config", ["my lil", "model", "x"]) is not None
    assert problem("info", ["my lil"]) is None and problem("add", ["lilith", "two words"]) is None


def test_only_what_changes_the_channel_for_everyone_is_public() -> None:
    assert not ephemeral("activate") and not ephemeral("deactivate")
    assert all(ephemeral(c) for c in ("list", "info", "status", "auth", "export", "add", "blacklist"))


def test_the_definitions_hash_changes_with_the_definitions_and_the_scope() -> None:
    one = [{"name": "tz", "description": "x", "options": [{"type": 1, "name": "ping", "description": "p"}]}]
    assert definitions_hash(one, 0) == definitions_hash([dict(one[0])], 0)
    assert definitions_hash(one, 0) != definitions_hash(one, 7)
    assert definitions_hash(one, 0) != definitions_hash([{**one[0], "description": "y"}], 0)
    assert describe(one) == ["/tz ping"]


def registry() -> RegistryState:
    state = RegistryState()
    for name, owner, public, nsfw in (("lilith", ALICE, True, False), ("lily", BOB, False, False),
                                      ("lizard", BOB, True, True), ("max", BOB, True, False)):
        state.personalities[name] = {"name": name, "display_name": name.capitalize(), "owner_id": owner,
                                     "public": public, "nsfw": nsfw}
    state.aliases.update({"lil": "lilith", "little one": "lilith"})
    return state


def values(state: RegistryState, ask: SuggestNames) -> list[str]:
    return [value for _, value in state.suggest(ask)]


def test_suggestions_offer_only_what_the_user_may_use() -> None:
    state = registry()
    assert values(state, SuggestNames(ALICE, "li")) == ["lil", "lilith", "little one"]  # bob's private lily: no
    assert values(state, SuggestNames(BOB, "li")) == ["lily", "lil", "lilith", "little one"]  # his own first
    assert "lizard" in values(state, SuggestNames(ALICE, "li", nsfw_ok=True))
    assert values(state, SuggestNames(ALICE, "", owned_only=True)) == ["lil", "lilith"]  # one-word names only
    assert values(state, SuggestNames(ALICE, "zz")) == []


def slash_incoming(interaction: Interaction | None) -> Incoming:
    return Incoming(9_000_000_000_000_000_001, Place(CID, "text", 5), Author(ALICE, "alice"), "!tz auth status",
                    created_at=NOW, interaction=interaction)


def test_an_interaction_survives_the_work_table_and_the_channels_row() -> None:
    incoming = slash_incoming(Interaction(77, TOKEN, True))
    assert incoming_from(decode(encode(incoming_to(incoming)))) == incoming
    assert TOKEN not in repr(incoming)  # a token is shown to no log
    state = ChannelState.restore(str(CID), None)
    state.handle(incoming, NOW)
    again = ChannelState.restore(str(CID), decode(encode(state.snapshot())))
    assert again.interactions == state.interactions


def answer_calls(effects: list[Any]) -> list[Call]:
    return [e for e in effects if isinstance(e, Call) and e.service == "discord"]


def test_the_channel_answers_a_slash_command_through_its_interaction() -> None:
    state = ChannelState.restore(str(CID), None)
    incoming = slash_incoming(Interaction(77, TOKEN, True))
    handed = state.handle(incoming, NOW)
    assert any(isinstance(e, Tell) for e in handed)  # straight to the user, never held for a proxy
    effects = state.handle(Notify(CID, ALICE, "You are using your own key.", incoming.message_id), NOW)
    (call,) = answer_calls(effects)
    assert call.method == "answer_interaction"
    assert call.args[:5] == (77, TOKEN, True, {"content": "You are using your own key."}, True)
    done = state.handle(_done(call), NOW)
    assert any(isinstance(e, WorkDone) for e in done)


def test_a_prefix_command_is_still_answered_in_the_channel() -> None:
    state = ChannelState.restore(str(CID), None)
    incoming = slash_incoming(None)
    state.handle(incoming, NOW)
    (call,) = answer_calls(state.handle(Notify(CID, ALICE, "hi", incoming.message_id), NOW))
    assert call.method == "create_message"


def _done(call: Call) -> Done:
    return Done(call.tag, Ok(200, {"id": "123"}))


def test_an_interaction_that_can_no_longer_be_answered_closes_its_work() -> None:
    state = ChannelState.restore(str(CID), None)
    incoming = slash_incoming(Interaction(77, TOKEN, True))
    state.handle(incoming, NOW)
    (call,) = answer_calls(state.handle(Notify(CID, ALICE, "late", incoming.message_id), NOW))
    refused = state.handle(Done(call.tag, Fail(401, 50027, "Invalid Webhook Token")), NOW)
    assert [e.trigger_id for e in refused if isinstance(e, WorkDone)] == [incoming.message_id]  # not handed on again


def test_the_key_is_read_from_the_modal_however_discord_nests_it() -> None:
    rows = [{"type": 1, "components": [{"type": 4, "custom_id": "key", "value": "sk-x"}]}]
    labels = [{"type": 18, "component": {"type": 4, "custom_id": "key", "value": "sk-y"}}]
    assert modal_value(rows, "key") == "sk-x" and modal_value(labels, "key") == "sk-y"
    assert modal_value([{"type": 1, "components": []}], "key") is None


def test_every_prefix_command_has_a_slash_form() -> None:
    import discord
    from discord import app_commands

    from actors.state.command_help import COMMANDS, slash_form
    from edge.app_commands import define

    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    define(tree, None)
    names = set()
    for command in tree.get_commands():
        names.add(command.name)
        names.update(sub.name for sub in getattr(command, "commands", []))
    assert set(COMMANDS) - names == set(), "a command without its slash form (edge/app_commands.py)"
    top = {command.name for command in tree.get_commands()}
    for name in COMMANDS:  # what `/tz help` tells a slash user is what Discord's menu has
        where = slash_form(name).split()
        assert where[0][1:] in top and (len(where) == 1 or name in {s.name for s in tree.get_command("tz").commands})


def test_help_asked_as_a_slash_command_names_the_slash_forms() -> None:
    from actors.state.command_help import help_text

    assert "type `/` and pick one" in help_text("!tz ", None, slash=True)
    assert "type `/`" not in help_text("!tz ", None)
    assert "(or `/tz add`, its options named in Discord's menu)" in help_text("!tz ", "add", slash=True)
    assert "(or `/activate`" in help_text("!tz ", "activate", slash=True)
    assert "/tz" not in help_text("!tz ", "add")


def test_a_user_who_asks_help_by_slash_command_is_told_the_slash_forms() -> None:
    from actors.messages import Interaction
    from tests.unit.test_user_flow import ALICE, World

    world = World()
    world.send(ALICE, "!tz help add", interaction=Interaction(77, "token"))
    assert "`/tz add`" in world.notices(ALICE)[-1].text
    world.send(ALICE, "!tz help add")  # typed: the prefix form only
    assert "/tz" not in world.notices(ALICE)[-1].text
