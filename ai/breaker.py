"""The operator's AI circuit breaker, shared by every actor process: the pure rule (`actors/state/breaker.py`)
applied to numbers kept in a small locked file, like the Discord request gate. One file per model, so one
personality's broken model does not stop the others.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from actors.state.breaker import CLOSED, HALF_OPEN, OPEN, Breaker

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "Breaker", "SharedBreaker", "breaker_path"]

T = TypeVar("T")


def breaker_path(data_dir: Path, model: str) -> Path:
    """Where the operator's breaker for `model` keeps its state (one file per model)."""
    return data_dir / ("ai-breaker-" + hashlib.blake2b(model.encode(), digest_size=6).hexdigest())


_LAYOUT = struct.Struct("<idd")  # failures, opened_at, probing


class SharedBreaker:
    """The operator's breaker, shared by every actor process through a small locked file."""

    def __init__(self, path: Path | str, threshold: int = 5, cooldown_s: float = 30.0) -> None:
        self.path = Path(path)
        self.threshold, self.cooldown_s = threshold, cooldown_s
        self._fd: int | None = None
        self._pid = 0

    def allow(self, now: float | None = None) -> bool:
        return self._update(lambda b, t: b.allow(t), now)

    def record(self, ok: bool, now: float | None = None) -> bool:
        return self._update(lambda b, t: b.record(ok, t), now)

    def state(self, now: float | None = None) -> str:
        return self._update(lambda b, t: b.state(t), now)

    def _update(self, step: Callable[[Breaker, float], T], now: float | None) -> T:
        now = time.time() if now is None else now
        fd = self._file()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(fd, _LAYOUT.size, 0)
            failures, opened_at, probing = _LAYOUT.unpack(raw) if len(raw) == _LAYOUT.size else (0, 0.0, 0.0)
            breaker = Breaker(self.threshold, self.cooldown_s, failures, opened_at, probing)
            result = step(breaker, now)
            os.pwrite(fd, _LAYOUT.pack(breaker.failures, breaker.opened_at, breaker.probing), 0)
            return result
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd
