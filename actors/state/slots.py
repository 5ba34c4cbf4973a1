"""The operator's AI capacity, handed out fairly: at most `capacity` requests at once on the operator's key.

Requests wait in one FIFO line, one place per user (a user's actor answers one message at a time, so no user
ever holds more than one slot while others wait). A holder that vanished (its actor killed mid-call) is
released when its lease runs out. Nothing here is persisted: waiting actors ask again on their own timer.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from actors.effects import Effect, Log, Reply, Tell, Timer, Wake
from actors.kinds import Kind
from actors.messages import GetSlots, Refused, SlotGranted, SlotRelease, SlotRequest, SlotsInfo

TICK_S = 10.0


@dataclass
class SlotsState:
    KIND = Kind.SLOTS
    SCHEMA = 1

    capacity: int = 8
    lease_s: float = 150.0
    holders: dict[int, tuple[int, float]] = field(default_factory=dict)  # user id -> (trigger, since)
    waiting: OrderedDict[int, int] = field(default_factory=OrderedDict)  # user id -> trigger, oldest first

    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None) -> SlotsState:
        if settings is None:
            return cls()
        return cls(settings.ai_slots, settings.ai_timeout_s + 30.0)

    def snapshot(self) -> dict[str, Any]:
        return {}

    def on_start(self, now: float) -> list[Effect]:
        return [Timer(TICK_S, "tick")]

    def depth(self) -> int:
        return len(self.waiting)

    def handle(self, msg: Any, now: float) -> list[Effect]:
        match msg:
            case SlotRequest(user_id=user, trigger_id=trigger):
                if user in self.holders:  # asked again (a retry, or a restarted actor): it still holds one
                    self.holders[user] = (trigger, now)  # a fresh lease for what it is doing now
                    return [self._grant_msg(user, trigger)]
                if len(self.holders) < self.capacity and not self.waiting:
                    self.holders[user] = (trigger, now)
                    return [self._grant_msg(user, trigger)]
                self.waiting[user] = trigger  # keeps its place in line if it was already waiting
                return self._grant(now)
            case SlotRelease(user_id=user, trigger_id=trigger):
                held = self.holders.get(user)
                if held is not None and held[0] == trigger:
                    del self.holders[user]
                if self.waiting.get(user) == trigger:
                    del self.waiting[user]
                return self._grant(now)
            case Wake(payload="tick"):
                expired = [u for u, (_, since) in self.holders.items() if now - since > self.lease_s]
                for user in expired:
                    del self.holders[user]
                logs: list[Effect] = [Log("warning", "slot_expired", f"user {u}'s lease ran out") for u in expired]
                return [*logs, *self._grant(now), Timer(TICK_S, "tick")]
            case GetSlots():
                return [Reply(SlotsInfo(self.capacity, len(self.holders), len(self.waiting)))]
        return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]

    def _grant(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        while self.waiting and len(self.holders) < self.capacity:
            user, trigger = self.waiting.popitem(last=False)
            self.holders[user] = (trigger, now)
            out.append(self._grant_msg(user, trigger))
        return out

    @staticmethod
    def _grant_msg(user: int, trigger: int) -> Tell:
        return Tell(Kind.USER, user, SlotGranted(trigger))
