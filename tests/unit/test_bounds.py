"""Every table that grows with use is bounded where its data is created, and says so when full: the edge
never drops a fact silently (it used to stop taking aliases and blacklist entries at 100,000), and
conversations expire with the conversation."""

from __future__ import annotations

from pathlib import Path

from actors.messages import CommandFor, Notify, Origin, RouteFact
from actors.state.blacklist import SERVER_CAP, TOTAL_CAP, BlacklistState
from actors.state.commands import Command
from edge.routing import Outline, RoutingTable
from store import SqliteStore

NOW = 1_700_000_000.0


def test_the_edge_takes_every_alias_and_blacklist_entry_it_is_given() -> None:
    table = RoutingTable()
    for i in range(150_000):  # more than the old silent limit
        table.apply(RouteFact("alias", f"name{i}", f"name{i}"))
        table.apply(RouteFact("blacklist", 10**17 + i, True))
    table.apply(RouteFact("alias", "latecomer", "latecomer"))
    table.apply(RouteFact("blacklist", 42, True))  # the bot owner's newest entry still counts
    assert table.decide(Outline(channel_id=1, author_id=7, content="hi @latecomer"), NOW) is None
    assert table.decide(Outline(channel_id=1, author_id=42, content="!tz help"), NOW) == "blacklisted"


def test_conversations_expire_with_the_conversation() -> None:
    table = RoutingTable()
    table.apply(RouteFact("conversation", 1, NOW - 1), NOW)  # over before it arrived: nothing kept
    assert table.conversations == {}
    for channel in range(1_000):
        table.apply(RouteFact("conversation", channel, NOW + 10), NOW)
    for channel in range(1_000, 2_000):  # later: the first thousand have ended meanwhile
        table.apply(RouteFact("conversation", channel, NOW + 100), NOW + 50)
    assert len(table.conversations) <= 1_000 + 64 and all(u == NOW + 100 for u in table.conversations.values())
    assert table.expire(NOW + 200) > 0 and table.conversations == {}


def test_ended_conversations_are_deleted_from_the_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    store.put_route("conversation", 1, NOW - 5)
    store.put_route("conversation", 2, NOW + 5)
    store.put_route("alias", "bob", "bob")
    assert store.expire_routes("conversation", NOW) == 1
    assert sorted(store.routes(), key=repr) == [("alias", "bob", "bob"), ("conversation", 2, NOW + 5)]
    store.close()


def blacklist_add(state: BlacklistState, guild: int, user: int) -> str:
    origin = Origin(1, "admin", 500, 1, "text", guild, frozenset({"manage_guild"}))
    [tell] = [e for e in state.handle(CommandFor(Command("blacklist", ("add", str(user), "")), origin), NOW)
              if isinstance(getattr(e, "body", None), Notify)]
    return tell.body.text


def test_a_server_blacklist_is_capped_and_says_so() -> None:
    state = BlacklistState()
    state.servers[900] = {10**17 + i: "" for i in range(SERVER_CAP)}
    assert "full" in blacklist_add(state, 900, 5) and 5 not in state.servers[900]
    assert "ignore" in blacklist_add(state, 901, 5)  # another server's list has room


def test_all_server_blacklists_together_are_capped_and_say_so() -> None:
    state = BlacklistState()
    per = SERVER_CAP - 1
    for guild in range(TOTAL_CAP // per + 1):
        state.servers[guild] = {10**17 + i: "" for i in range(per)}
    assert "server blacklists are full" in blacklist_add(state, 10**9, 5)
