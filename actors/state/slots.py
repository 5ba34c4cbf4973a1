"""The operator's AI capacity, handed out fairly when it is full: the least served user first.

Slots live in a small shared store (`Call("lease", ...)`: the slot file, `store/slot_leases.py`), so a user's
actor takes one there directly while there is room and nobody waits, with no round trip to this actor. This
actor keeps the line of those who found no room, and publishes there what the limit is and whether anyone
waits (a newcomer never jumps the line).

- The limit is adaptive (`actors/state/capacity.py`): every release says how its call went, and the limit
  follows what the backend really serves at once, never above `TZUROT_AI_SLOTS`.
- The line is ordered by each user's recent usage (slot-seconds, halving every `HALF_LIFE_S`), not by
  arrival: a user who used twice as much or more waits behind one who used less; near-equals (within a
  factor of two) go by arrival, so nobody among them is overtaken for long. It holds one
  place per user (a user's actor answers one message at a time) and at most `LINE_CAP` users.
- A holder that vanished is noticed by the slot store (its process is gone, or its lease ran out).
Nothing here is persisted: waiting actors ask again on their own timer.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from actors.effects import Call, Count, Done, Effect, Log, Reply, Tell, Timer, Wake
from actors.kinds import Kind
from actors.messages import GetSlots, Refused, SlotGranted, SlotRelease, SlotRequest, SlotsInfo
from actors.state.capacity import OVERLOAD, AdaptiveLimit

TICK_S = 10.0
HALF_LIFE_S = 30.0  # recent usage halves every 30 s: about "the last minute"
LINE_CAP = 5_000  # users waiting at once; more are not queued (their own retry timer asks again)
USAGE_CAP = 10_000  # users whose recent usage is remembered
FORGOTTEN = 0.01  # slot-seconds below which a user's usage is forgotten


@dataclass
class SlotsState:
    KIND = Kind.SLOTS
    SCHEMA = 1

    capacity: int = 8  # the ceiling (TZUROT_AI_SLOTS)
    lease_s: float = 150.0
    adaptive: bool = True
    holders: dict[int, tuple[int, float]] = field(default_factory=dict)  # granted here: user -> (trigger, since)
    waiting: dict[int, tuple[int, int]] = field(default_factory=dict)  # user -> (trigger, arrival number)
    usage: dict[int, tuple[float, float]] = field(default_factory=dict)  # user -> (slot-seconds, as of when)
    limiter: AdaptiveLimit = field(init=False)
    published: tuple[int, int] | None = None  # (limit, anyone waiting) last written to the slot store
    logged_limit: int = 0  # the limit the log last gave
    _arrivals: itertools.count = field(default_factory=itertools.count, repr=False)

    def __post_init__(self) -> None:
        self.limiter = AdaptiveLimit(self.capacity)
        self.logged_limit = self.capacity

    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None) -> SlotsState:
        if settings is None:
            return cls()
        return cls(settings.ai_slots, settings.ai_timeout_s + 30.0, settings.ai_slots_adaptive)

    def snapshot(self) -> dict[str, Any]:
        return {}

    @property
    def limit(self) -> int:
        return self.limiter.limit if self.adaptive else self.capacity

    def on_start(self, now: float) -> list[Effect]:
        return [*self._publish(force=True), Timer(TICK_S, "tick")]

    def depth(self) -> int:
        return len(self.waiting)

    def handle(self, msg: Any, now: float) -> list[Effect]:
        match msg:
            case SlotRequest(user_id=user, trigger_id=trigger):
                if user in self.holders:  # asked again (a retry, or a restarted actor): it still holds one
                    self.holders[user] = (trigger, now)  # a fresh lease for what it is doing now
                    return [Call("lease", "grant", (user, trigger), ("regrant",)), self._grant_msg(user, trigger)]
                if user not in self.waiting and len(self.waiting) >= LINE_CAP:
                    return [Count("slot_line_full")]
                arrival = self.waiting[user][1] if user in self.waiting else next(self._arrivals)
                self.waiting[user] = (trigger, arrival)  # keeps its place in line if it was already waiting
                return [*self._publish(), *self._grant(now)]
            case SlotRelease(user_id=user, trigger_id=trigger):
                held = self.holders.get(user)
                if held is not None and held[0] == trigger:
                    del self.holders[user]
                if user in self.waiting and self.waiting[user][0] == trigger:
                    del self.waiting[user]
                self._use(user, msg.held_s, now)
                return [Call("lease", "release", (user, trigger), ("released", msg))]
            case Done(tag=("released", SlotRelease() as release), result=in_use):
                effects: list[Effect] = []
                if release.outcome and self.adaptive and isinstance(in_use, int):
                    self.limiter.record(release.outcome, release.latency_s, release.model, in_use + 1, now)
                    # Said when it moved by two or more since last said, or the backend refused: a limit probing
                    # one up and one down around the backend's capacity is not news.
                    if abs(self.limit - self.logged_limit) >= 2 or (self.limit < self.logged_limit and
                                                                     release.outcome in OVERLOAD):
                        effects.append(Log("info", "slot_limit", f"{self.logged_limit} -> {self.limit} "
                                                                 f"({release.outcome}, ceiling {self.capacity})"))
                        self.logged_limit = self.limit
                return [*effects, *self._publish(), *self._grant(now)]
            case Done(tag=("grant", user, trigger), result=result):
                return self._granted(user, trigger, result, now)
            case Done(tag=("info",), result=in_use):
                in_use = in_use if isinstance(in_use, int) else len(self.holders)
                return [Reply(SlotsInfo(self.limit, in_use, len(self.waiting), self.capacity))]
            case Done():
                return []  # a store write whose answer changes nothing (a publish, a re-grant)
            case Wake(payload="tick"):
                expired = [u for u, (_, since) in self.holders.items() if now - since > self.lease_s]
                for user in expired:
                    del self.holders[user]
                self._forget(now)
                logs: list[Effect] = [Log("warning", "slot_expired", f"user {u}'s lease ran out") for u in expired]
                return [*logs, *self._publish(force=True), *self._grant(now), Timer(TICK_S, "tick")]
            case GetSlots():
                return [Call("lease", "in_use", (), ("info",))]
        return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]

    # ---- the line ----------------------------------------------------------------------------
    def served(self, user: int, now: float) -> float:
        """`user`'s recent usage in slot-seconds, decayed to `now`."""
        value, at = self.usage.get(user, (0.0, now))
        value *= 0.5 ** (max(0.0, now - at) / HALF_LIFE_S)
        return value if value >= FORGOTTEN else 0.0

    def standing(self, user: int, now: float) -> int:
        """How much `user` was served recently, in doublings: 0 for nothing, 3 for 7 to 15 slot-seconds, 4 for
        15 to 31 ... Users within a factor of two of each other stand together and go by arrival (reordering
        near-equals by every second of usage only makes somebody's wait long); one who used twice as much
        waits behind."""
        return int(math.log2(1.0 + self.served(user, now)))

    def next_in_line(self, now: float) -> int | None:
        """Who is served next: the least served recently (by standing), then the first to arrive."""
        if not self.waiting:
            return None
        return min(self.waiting, key=lambda u: (self.standing(u, now), self.waiting[u][1]))

    def _grant(self, now: float) -> list[Effect]:
        """Ask the slot store for a slot for the next in line (its answer comes back as `Done`)."""
        user = self.next_in_line(now)
        if user is None:
            return []
        return [Call("lease", "grant", (user, self.waiting[user][0]), ("grant", user, self.waiting[user][0]))]

    def _granted(self, user: int, trigger: int, result: Any, now: float) -> list[Effect]:
        if isinstance(result, BaseException):  # the slot store failed: count here, as before it existed
            result = len(self.holders) < self.limit
        if result is not True or self.waiting.get(user, (None,))[0] != trigger:
            return []  # full (the line waits for a release or the tick), or it left the line meanwhile
        del self.waiting[user]
        self.holders[user] = (trigger, now)
        return [self._grant_msg(user, trigger), *self._publish(), *self._grant(now)]

    def _use(self, user: int, held_s: float, now: float) -> None:
        if held_s > 0:
            self.usage[user] = (self.served(user, now) + held_s, now)

    def _forget(self, now: float) -> None:
        """Drop usage that has decayed to nothing, and the smallest beyond the cap."""
        for user in [u for u in self.usage if self.served(u, now) == 0.0]:
            del self.usage[user]
        if len(self.usage) > USAGE_CAP:
            for user in sorted(self.usage, key=lambda u: self.served(u, now))[: len(self.usage) - USAGE_CAP]:
                del self.usage[user]

    def _publish(self, force: bool = False) -> list[Effect]:
        """Tell the slot store the limit and whether anyone waits, when either changed."""
        now_published = (self.limit, len(self.waiting))
        if not force and self.published is not None and (self.published[0], bool(self.published[1])) == (
            now_published[0], bool(now_published[1])):
            return []
        self.published = now_published
        return [Call("lease", "publish", now_published, ("published",))]

    @staticmethod
    def _grant_msg(user: int, trigger: int) -> Tell:
        return Tell(Kind.USER, user, SlotGranted(trigger))
