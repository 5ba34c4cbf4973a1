"""Circuit breakers for the AI backend: one per user's own key (in that user's state), and one shared by
every actor process for the operator's key (its state in a locked file, like the Discord request gate).

closed: calls go through; `threshold` failures in a row open it. open: calls are refused at once (users get
one clear answer instead of a timeout each) until `cooldown_s` passes. half-open: one probe call goes
through; its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class Breaker:
    """The pure rule; `failures`, `opened_at` and `probing` are all the state there is."""

    threshold: int = 5
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float = 0.0
    probing: float = 0.0  # when the current probe started (0: none); a lost probe expires after cooldown_s

    def state(self, now: float) -> str:
        if self.failures < self.threshold:
            return CLOSED
        return HALF_OPEN if now - self.opened_at >= self.cooldown_s else OPEN

    def allow(self, now: float) -> bool:
        state = self.state(now)
        if state == CLOSED:
            return True
        if state == HALF_OPEN and (not self.probing or now - self.probing > self.cooldown_s):
            self.probing = now  # exactly one probe at a time
            return True
        return False

    def record(self, ok: bool, now: float) -> bool:
        """Note a call's outcome; True when this outcome opened the breaker."""
        was_open = self.failures >= self.threshold
        self.probing = 0.0
        if ok:
            self.failures = 0
            return False
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = now
            return not was_open
        return False


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

    def _update(self, step, now: float | None):  # type: ignore[no-untyped-def]
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
