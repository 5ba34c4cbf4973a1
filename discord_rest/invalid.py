"""Discord's invalid-request budget, counted for the whole bot, and the pace it sets.

Discord bans an IP for a while (Cloudflare) once it makes 10,000 invalid requests in 10 minutes: answers 401,
403, or 429 unless `X-RateLimit-Scope: shared`. REST calls happen in many actor processes (and hosts), so
the count lives where the request budget does: a shared cell (`store/cells.py`: a file in the data
directory, or a PostgreSQL row). The window is 61 slots of 10 s, so it never forgets anything younger than
10 minutes. One count is a 1 KB read; recording takes the exclusive lock only for an invalid answer.

The policy (`pace`, a pure function): below half the budget, normal; from half of it, every request costs
two of the shared gate's tokens (half the sending rate); from 90 %, nothing is sent until enough of the
window has passed. Crossing each line logs one WARNING `invalid_requests_high` in `events.log`.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from observability.events import EventLog
from store.cells import Cell, FileCell, as_cell

BUDGET = 10_000
WINDOW_S = 600.0
SLOT_S = 10.0
SLOTS = 61  # one more than 600 / 10: the window covers at least 10 minutes, at most 10 min 10 s
SLOW_AT, HOLD_AT = 0.5, 0.9
FILE_NAME = "discord-invalid"
STATUSES = (401, 403, 429)
LEVELS = ("normal", "slow", "hold")

_HEAD = struct.Struct("<qqqdq")  # totals for 401, 403, 429; last warning's time and level
_SLOTS = struct.Struct("<" + "qq" * SLOTS)  # per slot: its number (time // SLOT_S), invalid answers in it
_SIZE = _HEAD.size + _SLOTS.size


def is_invalid(status: int, scope: str | None) -> bool:
    """What Discord counts against the budget: 401, 403, and a 429 that is not `shared`."""
    return status in (401, 403) or (status == 429 and scope != "shared")


@dataclass(frozen=True)
class Pace:
    level: str  # normal, slow (half the rate) or hold (send nothing)
    cost: float  # the shared gate's tokens one request takes


def pace(count: int, budget: int = BUDGET) -> Pace:
    """How to send with `count` invalid requests in the current window."""
    if count >= budget * HOLD_AT:
        return Pace("hold", 0.0)
    if count >= budget * SLOW_AT:
        return Pace("slow", 2.0)
    return Pace("normal", 1.0)


def window_count(slots: list[tuple[int, int]], now: float) -> int:
    current = int(now // SLOT_S)
    return sum(n for number, n in slots if current - SLOTS < number <= current)


def seconds_until_below(slots: list[tuple[int, int]], now: float, limit: float) -> float:
    """How long until fewer than `limit` remain in the window (slots leave it oldest first)."""
    current = int(now // SLOT_S)
    live = sorted((number, n) for number, n in slots if current - SLOTS < number <= current and n)
    count, leaves_at = sum(n for _, n in live), now
    for number, n in live:
        if count < limit:
            break
        count -= n
        leaves_at = (number + SLOTS) * SLOT_S
    return max(0.0, leaves_at - now)


def invalid_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / FILE_NAME


class InvalidRequests:
    """The bot-wide window, as one process sees it (every process opens the same cell)."""

    def __init__(self, cell: Cell | Path | str, budget: int = BUDGET, events: EventLog | None = None) -> None:
        self.cell = as_cell(cell)
        self.budget = budget
        if events is None and isinstance(self.cell, FileCell):
            events = EventLog.in_dir(self.cell.path.parent, echo_level="warning")
        self.events = events

    def record(self, status: int, now: float | None = None) -> int:
        """Count one invalid answer; the window's count after it."""
        now = time.time() if now is None else now

        def step(raw: bytes) -> tuple[bytes, tuple[int, str | None]]:
            head, slots = _decode(raw)
            totals, warned_at, warned = list(head[:3]), head[3], head[4]
            if status in STATUSES:
                totals[STATUSES.index(status)] += 1
            number = int(now // SLOT_S)
            kept = slots[number % SLOTS]
            slots[number % SLOTS] = (number, kept[1] + 1 if kept[0] == number else 1)
            count = window_count(slots, now)
            level = LEVELS.index(pace(count, self.budget).level)
            warn = None
            if level > LEVELS.index(pace(count - 1, self.budget).level) and (level > warned or
                                                                              now - warned_at > WINDOW_S):
                warned_at, warned, warn = now, level, LEVELS[level]
            return _HEAD.pack(*totals, warned_at, warned) + _SLOTS.pack(*(v for s in slots for v in s)), (count, warn)

        count, warn = self.cell.update(step)
        if warn is not None:  # logged outside the cell's lock: nothing slow is done while holding it
            self._warn(count, warn)
        return count

    def count(self, now: float | None = None) -> int:
        return window_count(_decode(self.cell.peek())[1], time.time() if now is None else now)

    def hold_for(self, now: float | None = None) -> float:
        """Seconds until the window is back under the hold line (0 when it is)."""
        now = time.time() if now is None else now
        return seconds_until_below(_decode(self.cell.peek())[1], now, self.budget * HOLD_AT)

    def _warn(self, count: int, level: str) -> None:
        if self.events is None:
            return
        what = ("sending at half rate" if level == "slow" else
                "holding every send until the window frees")
        self.events.emit("warning", "invalid_requests_high", "discord", "rest",
                         f"{count} invalid Discord requests in 10 min (budget {self.budget:,}): {what}")


def _decode(raw: bytes) -> tuple[tuple[Any, ...], list[tuple[int, int]]]:
    if len(raw) < _SIZE:
        return (0, 0, 0, 0.0, 0), [(-1, 0)] * SLOTS
    flat = iter(_SLOTS.unpack_from(raw, _HEAD.size))
    return _HEAD.unpack_from(raw, 0), list(zip(flat, flat, strict=True))


def read_invalid(where: Cell | Path | str, now: float | None = None) -> dict[str, Any]:
    """The window for the edge (status, metrics), from the shared cell or a data directory: never blocks on
    the lock, never creates the cell. When the cell cannot be read (the database is down) the pace is "unknown":
    a status screen still answers."""
    now = time.time() if now is None else now
    cell = where if isinstance(where, Cell) else FileCell(invalid_path(where))
    try:
        raw = cell.peek()
    except Exception:  # noqa: BLE001 - any backend's failure: the status says so instead of failing
        return {"count": 0, "budget": BUDGET, "pace": "unknown", "by_status": {}}
    head, slots = _decode(raw)
    count = window_count(slots, now)
    return {"count": count, "budget": BUDGET, "pace": pace(count).level,
            "by_status": {str(s): int(n) for s, n in zip(STATUSES, head[:3], strict=True)}}
