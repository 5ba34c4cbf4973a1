"""What the edge itself says to a user: only when no actor can (the actor is parked, or a message was given up).

Each user hears each kind of notice at most once a window, so a flood of messages to a parked actor costs one
Discord request, not one per message. Bounded: the oldest entries are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict

WINDOW_S = 60.0
CAP = 10_000  # (user, kind) pairs remembered


class NoticeWindow:
    def __init__(self, window_s: float = WINDOW_S, cap: int = CAP) -> None:
        self.window_s, self.cap = window_s, cap
        self._until: OrderedDict[tuple[int, str], float] = OrderedDict()

    def due(self, user_id: int, kind: str, now: float) -> bool:
        """True (and the window starts) when `user_id` may be told a notice of `kind` now."""
        key = (user_id, kind)
        if self._until.get(key, 0.0) > now:
            return False
        self._until[key] = now + self.window_s
        self._until.move_to_end(key)
        while len(self._until) > self.cap:
            self._until.popitem(last=False)
        return True
