"""Discord's invalid-request budget, counted for the whole bot, and the pace it sets.

Discord bans an IP for a while (Cloudflare) once it makes 10,000 invalid requests in 10 minutes: answers 401,
403, or 429 unless `X-RateLimit-Scope: shared`. REST calls happen in many actor processes, so the count lives
where the request budget does: a small file in the data directory (mode 0600), updated under `flock`. The
window is 61 slots of 10 s, so it never forgets anything younger than 10 minutes. One count costs a shared
lock and a 1 KB read; recording takes the exclusive lock only for an invalid answer.

The policy (`pace`, a pure function): below half the budget, normal; from half of it, every request costs
two of the shared gate's tokens (half the sending rate); from 90 %, nothing is sent until enough of the
window has passed. Crossing each line logs one WARNING `invalid_requests_high` in `events.log`.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from observability.events import EventLog

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
    """The bot-wide window, as one process sees it (every process opens the same file)."""

    def __init__(self, path: Path | str, budget: int = BUDGET, events: EventLog | None = None) -> None:
        self.path = Path(path)
        self.budget = budget
        self.events = events or EventLog.in_dir(self.path.parent, echo_level="warning")
        self._fd: int | None = None
        self._pid = 0

    def record(self, status: int, now: float | None = None) -> int:
        """Count one invalid answer; the window's count after it."""
        now = time.time() if now is None else now
        fd = self._file()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            head, slots = _decode(os.pread(fd, _SIZE, 0))
            totals, warned_at, warned = list(head[:3]), head[3], head[4]
            if status in STATUSES:
                totals[STATUSES.index(status)] += 1
            number = int(now // SLOT_S)
            kept = slots[number % SLOTS]
            slots[number % SLOTS] = (number, kept[1] + 1 if kept[0] == number else 1)
            count = window_count(slots, now)
            level = LEVELS.index(pace(count, self.budget).level)
            if level > LEVELS.index(pace(count - 1, self.budget).level) and (level > warned or
                                                                              now - warned_at > WINDOW_S):
                warned_at, warned = now, level
                self._warn(count, LEVELS[level])
            os.pwrite(fd, _HEAD.pack(*totals, warned_at, warned) + _SLOTS.pack(*(v for s in slots for v in s)), 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return count

    def count(self, now: float | None = None) -> int:
        return window_count(self._read()[1], time.time() if now is None else now)

    def hold_for(self, now: float | None = None) -> float:
        """Seconds until the window is back under the hold line (0 when it is)."""
        now = time.time() if now is None else now
        return seconds_until_below(self._read()[1], now, self.budget * HOLD_AT)

    def _warn(self, count: int, level: str) -> None:
        what = ("sending at half rate" if level == "slow" else
                "holding every send until the window frees")
        self.events.emit("warning", "invalid_requests_high", "discord", "rest",
                         f"{count} invalid Discord requests in 10 min (budget {self.budget:,}): {what}")

    def _read(self) -> tuple[tuple[Any, ...], list[tuple[int, int]]]:
        fd = self._file()
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            return _decode(os.pread(fd, _SIZE, 0))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # never share a descriptor's lock across fork
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


def _decode(raw: bytes) -> tuple[tuple[Any, ...], list[tuple[int, int]]]:
    if len(raw) < _SIZE:
        return (0, 0, 0, 0.0, 0), [(-1, 0)] * SLOTS
    flat = iter(_SLOTS.unpack_from(raw, _HEAD.size))
    return _HEAD.unpack_from(raw, 0), list(zip(flat, flat, strict=True))


def read_invalid(data_dir: Path | str, now: float | None = None) -> dict[str, Any]:
    """The window for the edge (status, metrics): never blocks on the lock, never creates the file."""
    now = time.time() if now is None else now
    try:
        fd = os.open(invalid_path(data_dir), os.O_RDONLY)
    except FileNotFoundError:
        raw = b""
    else:
        try:
            for _ in range(20):  # a writer holds it for microseconds; a stopped one must not stop us
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.001)
            raw = os.pread(fd, _SIZE, 0)
        finally:
            os.close(fd)  # closing releases the lock
    head, slots = _decode(raw)
    count = window_count(slots, now)
    return {"count": count, "budget": BUDGET, "pace": pace(count).level,
            "by_status": {str(s): int(n) for s, n in zip(STATUSES, head[:3], strict=True)}}
