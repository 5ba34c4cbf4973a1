"""Restart storms: many child restarts under one supervisor in a short time are one WARNING, not one per restart."""

from __future__ import annotations

from collections import deque

STORM_RESTARTS = 10  # more child restarts than this within STORM_WINDOW_S is a restart storm (one WARNING)
STORM_WINDOW_S = 60.0


class StormWatch:
    """Counts one supervisor's child restarts over a sliding window; says when a storm begins, once per storm.

    A storm begins when the count goes over `limit` and ends when it falls back to `limit` or fewer; only a
    beginning is reported, so an operator gets one `restart_storm` WARNING per storm, not one per restart.
    """

    def __init__(self, limit: int = STORM_RESTARTS, window_s: float = STORM_WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self.times: deque[float] = deque()
        self.raging = False

    def restarted(self, now: float) -> int | None:
        """Note one restart; the number of restarts in the window when this one began a storm, else None."""
        self.times.append(now)
        while self.times and now - self.times[0] > self.window_s:
            self.times.popleft()
        if len(self.times) <= self.limit:
            self.raging = False
            return None
        if self.raging:
            return None
        self.raging = True
        return len(self.times)
