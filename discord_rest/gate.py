"""Discord's per-bot request budget, shared by every actor process: a token bucket in a locked file.

Discord allows 50 requests per second per bot, across everything the bot does, and a global 429 means every
sender must pause. Each channel actor runs in its own process, so the bucket cannot live in memory: it is 24
bytes in a file in the data directory, updated under `flock`. An acquire costs a few microseconds and never
sleeps: it answers how long to wait, and the actor sets a timer.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
from pathlib import Path

_LAYOUT = struct.Struct("<ddd")  # tokens, last refill time, paused until


class GlobalGate:
    def __init__(self, path: Path | str, rate: float = 40.0, burst: float = 2.0) -> None:
        self.path = Path(path)
        self.rate = rate
        self.burst = burst
        self._fd: int | None = None
        self._pid = 0

    def acquire(self, now: float | None = None, cost: float = 1.0) -> float:
        """Take one request's tokens (`cost` 2 sends at half the rate): 0.0 when granted, else the seconds to wait
        before asking again."""
        now = time.time() if now is None else now
        cost = min(cost, self.burst)  # a cost above the burst could never be paid
        with self._locked() as fd:
            tokens, last, paused = self._read(fd, now)
            # A process that waited for the lock holds an older `now`: time never runs backwards here.
            now = max(now, last)
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if paused > now:
                wait = paused - now
            elif tokens >= cost:
                tokens -= cost
                wait = 0.0
            else:
                wait = (cost - tokens) / self.rate
            os.pwrite(fd, _LAYOUT.pack(tokens, now, paused), 0)
        return wait

    def pause_until(self, until: float) -> None:
        """A global 429: nobody sends before `until` (a later pause never shortens an earlier one)."""
        with self._locked() as fd:
            tokens, last, paused = self._read(fd, time.time())
            os.pwrite(fd, _LAYOUT.pack(tokens, last, max(paused, until)), 0)

    def paused_for(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        with self._locked() as fd:
            return max(0.0, self._read(fd, now)[2] - now)

    def _read(self, fd: int, now: float) -> tuple[float, float, float]:
        raw = os.pread(fd, _LAYOUT.size, 0)
        if len(raw) < _LAYOUT.size:
            return self.burst, now, 0.0
        return _LAYOUT.unpack(raw)

    def _locked(self) -> _Lock:
        if self._fd is None or self._pid != os.getpid():  # never share a descriptor's lock across fork
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return _Lock(self._fd)


class _Lock:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> int:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self.fd

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
