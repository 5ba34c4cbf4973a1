"""What one channel's actor owns and decides: its activation and the reply map (message id -> personality).

The webhook pool and the outbox join this state with the Discord edge; the reply map is bounded so a busy
channel cannot grow it without limit (oldest entries go first).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from actors.effects import Effect, Reply, Save
from actors.messages import (
    ActivatePersonality,
    ChannelInfo,
    DeactivateChannel,
    GetChannelInfo,
    LookupReply,
    RecordSent,
    Refused,
    ReplyTarget,
)
from actors.state.names import name_problem

REPLY_MAP_CAP = 1000


@dataclass
class ChannelState:
    KIND = "channel"
    SCHEMA = 1

    channel_id: int
    activated: str | None = None
    activated_by: int | None = None
    sent: OrderedDict[int, str] = field(default_factory=OrderedDict)  # message id -> personality

    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None) -> ChannelState:
        state = cls(int(key))
        if data:
            state.activated = data.get("activated")
            state.activated_by = data.get("activated_by")
            state.sent = OrderedDict((int(m), str(p)) for m, p in data.get("sent", []))
        return state

    def snapshot(self) -> dict[str, Any]:
        return {
            "activated": self.activated,
            "activated_by": self.activated_by,
            "sent": [[m, p] for m, p in self.sent.items()],
        }

    def view(self) -> ChannelInfo:
        return ChannelInfo(self.channel_id, self.activated, self.activated_by, len(self.sent))

    def handle(self, msg: Any, now: float) -> list[Effect]:
        match msg:
            case GetChannelInfo():
                return [Reply(self.view())]
            case ActivatePersonality(personality=name, by_user=user):
                if problem := name_problem(name):
                    return [Reply(Refused(problem))]
                if self.activated == name:
                    return [Reply(self.view())]
                self.activated, self.activated_by = name, user
                return [Save(), Reply(self.view())]
            case DeactivateChannel():
                if self.activated is None:
                    return [Reply(self.view())]
                self.activated = self.activated_by = None
                return [Save(), Reply(self.view())]
            case RecordSent(message_id=mid, personality=name):
                if self.sent.get(mid) == name:
                    return []
                self.sent[mid] = name
                while len(self.sent) > REPLY_MAP_CAP:
                    self.sent.popitem(last=False)
                return [Save()]
            case LookupReply(message_id=mid):
                return [Reply(ReplyTarget(self.channel_id, mid, self.sent.get(mid)))]
        return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]
