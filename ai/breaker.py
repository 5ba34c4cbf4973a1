"""The operator's AI circuit breaker, shared by every actor process: the pure rule (`actors/state/breaker.py`)
applied to numbers kept in a shared cell (`store/cells.py`), like the Discord request gate. One cell per model,
so one personality's broken model does not stop the others.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from actors.state.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from store.cells import Cell, as_cell

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "Breaker", "SharedBreaker", "breaker_name", "breaker_path"]

T = TypeVar("T")


def breaker_name(model: str) -> str:
    """The name of the cell where the operator's breaker for `model` keeps its state (one per model)."""
    return "ai-breaker-" + hashlib.blake2b(model.encode(), digest_size=6).hexdigest()


def breaker_path(data_dir: Path, model: str) -> Path:
    """That cell's file on a single host."""
    return data_dir / breaker_name(model)


_LAYOUT = struct.Struct("<idd")  # failures, opened_at, probing


class SharedBreaker:
    """The operator's breaker, shared by every actor process through a shared cell."""

    def __init__(self, cell: Cell | Path | str, threshold: int = 5, cooldown_s: float = 30.0) -> None:
        self.cell = as_cell(cell)
        self.threshold, self.cooldown_s = threshold, cooldown_s

    def allow(self, now: float | None = None) -> bool:
        return self._update(lambda b, t: b.allow(t), now)

    def record(self, ok: bool, now: float | None = None) -> bool:
        return self._update(lambda b, t: b.record(ok, t), now)

    def state(self, now: float | None = None) -> str:
        return self._update(lambda b, t: b.state(t), now)

    def _update(self, rule: Callable[[Breaker, float], T], now: float | None) -> T:
        now = time.time() if now is None else now

        def step(raw: bytes) -> tuple[bytes, T]:
            failures, opened_at, probing = _LAYOUT.unpack_from(raw) if len(raw) >= _LAYOUT.size else (0, 0.0, 0.0)
            breaker = Breaker(self.threshold, self.cooldown_s, failures, opened_at, probing)
            result = rule(breaker, now)
            return _LAYOUT.pack(breaker.failures, breaker.opened_at, breaker.probing), result

        return self.cell.update(step)
