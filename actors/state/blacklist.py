"""Users the bot ignores: globally (the bot owner's list) or in one server (that server's admins' list).

The edge drops a blacklisted author's messages before any actor wakes, silently, so every entry is pushed
to it as a routing fact (`user id` for global entries, `"guild:user"` for a server's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.effects import Effect, Push, Reply, Save, Tell
from actors.kinds import Kind
from actors.messages import CommandFor, Notify, Origin, Refused, RouteFact

CAP = 10_000  # entries in the bot owner's list (everywhere)
SERVER_CAP = 1_000  # entries in one server's list
TOTAL_CAP = 100_000  # entries in all servers' lists together: what bounds the edge's blacklist table


@dataclass
class BlacklistState:
    KIND = Kind.BLACKLIST
    SCHEMA = 1

    everywhere: dict[int, str] = field(default_factory=dict)  # user id -> reason
    servers: dict[int, dict[int, str]] = field(default_factory=dict)  # guild id -> user id -> reason

    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None) -> BlacklistState:
        state = cls()
        if data:
            state.everywhere = {int(u): str(r) for u, r in data.get("everywhere", {}).items()}
            state.servers = {
                int(g): {int(u): str(r) for u, r in users.items()} for g, users in data.get("servers", {}).items()
            }
        return state

    def snapshot(self) -> dict[str, Any]:
        return {"everywhere": self.everywhere, "servers": self.servers}

    def handle(self, msg: Any, now: float) -> list[Effect]:
        if not isinstance(msg, CommandFor):
            return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]
        origin, args = msg.origin, msg.command.args
        global_scope = origin.bot_owner
        if not global_scope and origin.guild_id is None:
            return [self._say(origin, "A server blacklist is managed from a channel of that server.")]
        entries = self.everywhere if global_scope else self.servers.setdefault(origin.guild_id or 0, {})
        scope = "everywhere" if global_scope else "in this server"
        action = args[0]
        if action == "list":
            shown = ", ".join(f"<@{u}>" + (f" ({r})" if r else "") for u, r in list(entries.items())[:50])
            return [self._say(origin, f"Blacklisted {scope}: {shown or 'nobody'}.")]
        user = int(args[1])
        key: int | str = user if global_scope else f"{origin.guild_id}:{user}"
        if action == "check":
            listed = user in entries or user in self.everywhere
            return [
                self._say(
                    origin,
                    f"<@{user}> is {'' if listed else 'not '}blacklisted"
                    f"{' everywhere' if user in self.everywhere else ''}.",
                )
            ]
        if action == "add":
            if user == origin.user_id:
                return [self._say(origin, "You cannot blacklist yourself.")]
            if user not in entries and (full := self._full(entries, global_scope)):
                return [self._say(origin, full)]
            entries[user] = args[2] if len(args) > 2 else ""
            return [
                Save(),
                Push(RouteFact("blacklist", key, True)),
                self._say(origin, f"I will ignore <@{user}> {scope}."),
            ]
        if action == "remove":
            if entries.pop(user, None) is None:
                return [self._say(origin, f"<@{user}> was not blacklisted {scope}.")]
            return [
                Save(),
                Push(RouteFact("blacklist", key, None)),
                self._say(origin, f"<@{user}> is no longer ignored {scope}."),
            ]
        return [self._say(origin, f"Unknown blacklist action `{action}`.")]

    def _full(self, entries: dict[int, str], global_scope: bool) -> str | None:
        """Why no entry can be added to this list now, or None."""
        cap = CAP if global_scope else SERVER_CAP
        if len(entries) >= cap:
            return f"This blacklist is full ({cap} entries); remove someone first."
        if not global_scope and sum(len(users) for users in self.servers.values()) >= TOTAL_CAP:
            return "The bot's server blacklists are full; ask the bot's owner."
        return None

    @staticmethod
    def _say(origin: Origin, text: str) -> Tell:
        return Tell(Kind.CHANNEL, origin.channel_id, Notify(origin.channel_id, origin.user_id, text, origin.trigger_id))
