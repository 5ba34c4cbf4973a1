"""The blacklist, as the bot owner and server admins use it: typed in Discord, checked by the user's actor,
decided by BlacklistState, pushed to the edge as `RouteFact("blacklist", ...)`."""

from __future__ import annotations

from typing import Any

import pytest

from actors.effects import Reply, Save, Tell
from actors.messages import Author, CommandFor, Heard, Incoming, Notify, Origin, Place, Refused, RouteFact
from actors.state.blacklist import BlacklistState
from actors.state.commands import Command
from actors.state.user import UserOptions, UserState
from store.sqlite import decode, encode
from testkit.world import PureWorld, pushed

NOW = 1_700_000_000.0
OWNER, ADMIN, MOD, ALICE = 100000000000000001, 100000000000000002, 100000000000000003, 100000000000000004
SPAMMER, TROLL = 200000000000000001, 200000000000000002
GUILD, OTHER_GUILD = 900, 901
SERVER = Place(500, "text", guild_id=GUILD, name="general", guild_name="Guild")
OTHER_SERVER = Place(510, "text", guild_id=OTHER_GUILD, name="general", guild_name="Other")
DM = Place(600, "dm")
ADMIN_PERMS = frozenset({"manage_guild"})


class Moderation(PureWorld):
    """People typing `!tz blacklist ...`: their user actor checks the rights, the blacklist decides."""

    def __init__(self) -> None:
        super().__init__({"user": lambda key, _: UserState(int(key), UserOptions(bot_owner=OWNER)),
                          "blacklist": lambda key, _: BlacklistState.restore(key, None)}, now=NOW, listen={"channel"})
        self.mid = 0

    @property
    def blacklist(self) -> BlacklistState:
        return self.actor("blacklist", "blacklist")

    @property
    def facts(self) -> dict[Any, Any]:
        return {key: value for (_, key), value in self.routes.items()}

    def type(self, user: int, text: str, place: Place = SERVER, perms: frozenset[str] = frozenset()) -> list[Any]:
        """What the user's actor and the blacklist did (but the user's actor asking the blacklist)."""
        self.mid += 1
        heard = Heard(Incoming(self.mid, place, Author(user, f"u{user}"), text, perms=perms), None, None)
        return [e for e in self.deliver_to("user", user, heard) if not (isinstance(e, Tell) and e.kind == "blacklist")]

    def said(self, user: int, text: str, place: Place = SERVER, perms: frozenset[str] = frozenset()) -> str:
        notices = [e.body.text for e in self.type(user, text, place, perms) if isinstance(e.body, Notify)]
        assert len(notices) == 1, notices
        return notices[0]


@pytest.fixture
def mod() -> Moderation:
    return Moderation()


# ---- the bot owner: everywhere -----------------------------------------------------------------------


def test_the_bot_owner_blacklists_someone_everywhere(mod: Moderation) -> None:
    effects = mod.type(OWNER, f"!tz blacklist add {SPAMMER} spam bot", DM)
    assert Save() in effects
    assert pushed(effects) == [RouteFact("blacklist", SPAMMER, True)]
    assert any(isinstance(e, Tell) and f"I will ignore <@{SPAMMER}> everywhere" in e.body.text for e in effects)
    assert mod.blacklist.everywhere == {SPAMMER: "spam bot"}


def test_the_bot_owner_lists_checks_and_removes(mod: Moderation) -> None:
    mod.type(OWNER, f"!tz blacklist add <@{SPAMMER}> spam", DM)
    assert mod.said(OWNER, "!tz blacklist list", DM) == f"Blacklisted everywhere: <@{SPAMMER}> (spam)."
    assert mod.said(OWNER, f"!tz blacklist check {SPAMMER}", DM) == f"<@{SPAMMER}> is blacklisted everywhere."
    assert mod.said(OWNER, f"!tz blacklist check {TROLL}", DM) == f"<@{TROLL}> is not blacklisted."
    effects = mod.type(OWNER, f"!tz blacklist remove {SPAMMER}", DM)
    assert pushed(effects) == [RouteFact("blacklist", SPAMMER, None)]
    assert mod.facts[SPAMMER] is None
    assert "was not blacklisted" in mod.said(OWNER, f"!tz blacklist remove {SPAMMER}", DM)
    assert mod.said(OWNER, "!tz blacklist list", DM) == "Blacklisted everywhere: nobody."


def test_a_globally_blacklisted_user_shows_as_such_in_a_server_check(mod: Moderation) -> None:
    mod.type(OWNER, f"!tz blacklist add {SPAMMER}", DM)
    text = mod.said(ADMIN, f"!tz blacklist check {SPAMMER}", SERVER, ADMIN_PERMS)
    assert text == f"<@{SPAMMER}> is blacklisted everywhere."


# ---- a server's admins: their server -------------------------------------------------------------------


@pytest.mark.parametrize("perms", [frozenset({"manage_guild"}), frozenset({"administrator"})])
def test_a_server_admin_blacklists_in_their_server(mod: Moderation, perms: frozenset[str]) -> None:
    effects = mod.type(ADMIN, f"!tz blacklist add {TROLL} rude", SERVER, perms)
    assert pushed(effects) == [RouteFact("blacklist", f"{GUILD}:{TROLL}", True)]
    assert mod.blacklist.servers[GUILD] == {TROLL: "rude"}
    assert mod.blacklist.everywhere == {}
    assert mod.said(ADMIN, "!tz blacklist list", SERVER, perms) == f"Blacklisted in this server: <@{TROLL}> (rude)."
    assert mod.said(ADMIN, f"!tz blacklist check {TROLL}", SERVER, perms) == f"<@{TROLL}> is blacklisted."
    # Another server's list is its own.
    assert mod.said(ADMIN, "!tz blacklist list", OTHER_SERVER, perms) == "Blacklisted in this server: nobody."
    assert mod.said(ADMIN, f"!tz blacklist check {TROLL}", OTHER_SERVER, perms) == f"<@{TROLL}> is not blacklisted."
    removed = mod.type(ADMIN, f"!tz blacklist remove {TROLL}", SERVER, perms)
    assert pushed(removed) == [RouteFact("blacklist", f"{GUILD}:{TROLL}", None)]
    assert mod.blacklist.servers[GUILD] == {}


def test_a_moderator_without_manage_server_is_refused(mod: Moderation) -> None:
    effects = mod.type(MOD, f"!tz blacklist add {TROLL}", SERVER, frozenset({"manage_messages"}))
    assert pushed(effects) == []
    assert "Only the bot owner" in effects[0].body.text
    assert mod.blacklist.servers == {}


def test_an_ordinary_user_cannot_even_list(mod: Moderation) -> None:
    assert "Only the bot owner" in mod.said(ALICE, "!tz blacklist list", SERVER)


# ---- nobody blacklists themselves; DMs are for the bot owner --------------------------------------------


def test_nobody_can_blacklist_themselves(mod: Moderation) -> None:
    assert mod.said(OWNER, f"!tz blacklist add {OWNER}", DM) == "You cannot blacklist yourself."
    assert mod.said(ADMIN, f"!tz blacklist add {ADMIN}", SERVER, ADMIN_PERMS) == "You cannot blacklist yourself."
    assert mod.blacklist.everywhere == {} and not any(mod.blacklist.servers.values())


def test_a_dm_without_owner_rights_is_refused(mod: Moderation) -> None:
    for text in (f"!tz blacklist add {TROLL}", "!tz blacklist list", f"!tz blacklist check {TROLL}"):
        effects = mod.type(ALICE, text, DM, ADMIN_PERMS)
        assert len(effects) == 1 and "Only the bot owner" in effects[0].body.text
    assert mod.blacklist.everywhere == {}


def test_the_blacklist_itself_refuses_a_server_list_outside_a_server() -> None:
    state = BlacklistState.restore("blacklist", None)
    origin = Origin(ALICE, "alice", 600, 1, "dm", None, frozenset(), False)
    effects = state.handle(CommandFor(Command("blacklist", ("add", str(TROLL), "")), origin), NOW)
    assert len(effects) == 1 and "managed from a channel of that server" in effects[0].body.text
    assert state.everywhere == {} and state.servers == {}


def test_the_blacklist_answers_anything_else_with_a_refusal() -> None:
    effects = BlacklistState.restore("blacklist", None).handle("hello", NOW)
    assert effects == [Reply(Refused("I do not understand str."))]


def test_the_blacklist_survives_a_restart(mod: Moderation) -> None:
    mod.type(OWNER, f"!tz blacklist add {SPAMMER} spam", DM)
    mod.type(ADMIN, f"!tz blacklist add {TROLL}", SERVER, ADMIN_PERMS)
    restored = BlacklistState.restore("blacklist", decode(encode(mod.blacklist.snapshot())))
    assert restored.everywhere == {SPAMMER: "spam"}
    assert restored.servers == {GUILD: {TROLL: ""}}
