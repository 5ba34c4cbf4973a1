"""Discord's per-bot request budget, shared by every actor process: a token bucket in a shared cell.

Discord allows 50 requests per second per bot, across everything the bot does, and a global 429 means every
sender must pause. Each channel actor runs in its own process (and with PostgreSQL, on any host), so the bucket
cannot live in memory: it is 24 bytes in a shared cell (`store/cells.py`: a locked file in the data directory,
or a row in PostgreSQL). An acquire never sleeps: it answers how long to wait, and the actor sets a timer.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

from store.cells import Cell, as_cell

_LAYOUT = struct.Struct("<ddd")  # tokens, last refill time, paused until
CELL_NAME = "discord-gate"


class GlobalGate:
    def __init__(self, cell: Cell | Path | str, rate: float = 40.0, burst: float = 2.0) -> None:
        self.cell = as_cell(cell)
        self.rate = rate
        self.burst = burst

    def acquire(self, now: float | None = None, cost: float = 1.0) -> float:
        """Take one request's tokens (`cost` 2 sends at half the rate): 0.0 when granted, else the seconds to wait
        before asking again."""
        now = time.time() if now is None else now
        cost = min(cost, self.burst)  # a cost above the burst could never be paid

        def step(raw: bytes) -> tuple[bytes, float]:
            tokens, last, paused = self._decode(raw, now)
            # A process that waited for the lock holds an older `now`: time never runs backwards here.
            at = max(now, last)
            tokens = min(self.burst, tokens + (at - last) * self.rate)
            if paused > at:
                wait = paused - at
            elif tokens >= cost:
                tokens -= cost
                wait = 0.0
            else:
                wait = (cost - tokens) / self.rate
            return _LAYOUT.pack(tokens, at, paused), wait

        return self.cell.update(step)

    def pause_until(self, until: float) -> None:
        """A global 429: nobody sends before `until` (a later pause never shortens an earlier one)."""

        def step(raw: bytes) -> tuple[bytes, None]:
            tokens, last, paused = self._decode(raw, time.time())
            return _LAYOUT.pack(tokens, last, max(paused, until)), None

        self.cell.update(step)

    def paused_for(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return max(0.0, self._decode(self.cell.peek(), now)[2] - now)

    def _decode(self, raw: bytes, now: float) -> tuple[float, float, float]:
        if len(raw) < _LAYOUT.size:
            return self.burst, now, 0.0
        return _LAYOUT.unpack_from(raw)
