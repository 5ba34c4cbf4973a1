"""Data rights: `data export` hands a user everything the bot holds about them; `data delete` erases it.

What a user's actor holds is its own record (settings, persona, conversations, key) and, through its services,
the memory rows and their old messages in the work table (`store/memories.py`). What others hold is reached
by message: each channel the user spoke in erases their words from its recent conversation (`ForgetUser`),
and the catalogue deletes or disowns their personalities (`ForgetOwner`). The key is never exported: only
whether one is set. Deleting asks for a confirmation first, which is good for CONFIRM_S.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from actors.effects import Call, Effect, Save, Tell
from actors.kinds import Kind
from actors.messages import ForgetOwner, ForgetUser, Heard, Notify, OwnedReply, OwnedRequest
from actors.state.memory import Remembered

CONFIRM_S = 300.0
EXPORT_MEMORIES = 5_000  # at most this many memories in one export (newest first)


@dataclass(frozen=True)
class DataRights:
    state: Any  # the UserState whose records are exported or erased

    @property
    def voice(self) -> Any:
        return self.state.voice

    def command(self, args: tuple[str, ...], heard: Heard, now: float) -> list[Effect]:
        uid, p = self.voice.user_id, self.voice.options.prefix
        if args[0] == "export":
            if heard.incoming.place.kind != "dm":
                return [self.voice.notify(heard, f"Your data is private: run `{p}data export` in a DM with me.")]
            self.state.exports[heard.incoming.message_id] = heard  # until the catalogue sends what they own
            while len(self.state.exports) > 5:
                self.state.exports.pop(next(iter(self.state.exports)))
            return [Tell(Kind.REGISTRY, Kind.REGISTRY, OwnedRequest(uid, heard.incoming.message_id))]
        if len(args) == 1:
            self.state.delete_asked = now
            return [self.voice.notify(heard, (
                "This erases everything I hold about you: your settings, persona, key, conversations, memories, "
                "and your words in the recent conversation of the channels you spoke in. It cannot be undone. "
                f"Within 5 minutes, send `{p}data delete confirm delete` to delete the personalities you own too, "
                f"or `{p}data delete confirm keep` to leave them public, owned by nobody."))]
        if not self.state.delete_asked or now - self.state.delete_asked > CONFIRM_S:
            return [self.voice.notify(heard, f"Nothing to confirm: send `{p}data delete` first.")]
        return self._erase(heard, args[2] == "delete")

    def _erase(self, heard: Heard, delete_owned: bool) -> list[Effect]:
        s, uid = self.state, self.voice.user_id
        channels = {*s.places, *s.conversations, *(int(k.split(":", 1)[0]) for k in s.histories),
                    heard.incoming.place.channel_id}
        s.profile = type(s.profile)()  # settings, persona, key: as for someone never seen
        s.delete_asked = 0.0
        for records in (s.histories, s.conversations, s.answers, s.places, s.personas):
            records.clear()
        return [
            Save(),
            Tell(Kind.REGISTRY, Kind.REGISTRY, ForgetOwner(uid, delete_owned)),
            *(Tell(Kind.CHANNEL, cid, ForgetUser(cid, uid)) for cid in sorted(channels)),
            Call("memory", "forget_user", (uid,), ("data", "erased", heard, delete_owned)),
        ]

    def owned(self, reply: OwnedReply, now: float) -> list[Effect]:
        """The catalogue sent the personalities they own: now the memories, then the file."""
        heard = self.state.exports.pop(reply.trigger_id, None)
        if heard is None:
            return []
        return [Call("memory", "list", (self.voice.user_id, EXPORT_MEMORIES),
                     ("data", "export", heard, now, reply.records))]

    def done(self, tag: tuple[Any, ...], result: Any) -> list[Effect]:
        heard = tag[2]
        if isinstance(result, BaseException):
            saved: list[Effect] = []
            if tag[1] == "erased":  # some may be left: look for them again before each turn
                self.state.profile.remembered = Remembered(known=False)
                saved.append(Save())
            what = "export your memories" if tag[1] == "export" else "erase your memories"
            return [*saved, self.voice.notify(heard, f"I couldn't {what} just now (the rest is done); please run the "
                                             "command again in a moment.")]
        if tag[1] == "erased":
            owned = "deleted" if tag[3] else "kept, public, owned by nobody"
            return [self.voice.notify(heard, f"Erased: your settings, persona, key, conversations, {int(result)} "
                                             f"memories and your words in channels' recent conversation. The "
                                             f"personalities you owned are {owned}.")]
        return [self._export(heard, result, tag[3], tag[4])]

    def _export(self, heard: Heard, memories: Any, now: float, owned: tuple[dict[str, Any], ...]) -> Tell:
        s, msg = self.state, heard.incoming
        data = {
            "user_id": str(self.voice.user_id),
            "exported_at": datetime.fromtimestamp(now, UTC).isoformat(),
            "settings": {"autorespond": s.profile.autorespond, "verified": s.profile.verified,
                         "memory": s.profile.memory, "own_api_key_set": s.profile.sealed_key is not None,
                         "aliases": dict(s.profile.aliases)},
            "personas": {name or "*": text for name, text in s.profile.personas.items()},
            "conversations": [{"channel_id": str(key.split(":", 1)[0]), "personality": key.split(":", 1)[1],
                               "turns": turns} for key, turns in s.histories.items()],
            "memories": list(memories or []),
            "personalities": list(owned),  # the form `import` reads
        }
        text = json.dumps(data, ensure_ascii=False, indent=1, default=str)
        said = "Here is everything I hold about you, as JSON (your key is never included)."
        cid = msg.place.channel_id
        return Tell(Kind.CHANNEL, cid, Notify(cid, self.voice.user_id, said, msg.message_id, "my-data.json", text))


def remember_place(places: OrderedDict[int, float], channel_id: int, now: float, cap: int = 200) -> None:
    """A channel this user's words may be held in (its recent conversation): `data delete` tells it to forget."""
    places.pop(channel_id, None)
    places[channel_id] = now
    while len(places) > cap:
        places.popitem(last=False)
