"""Who is using the bot, roughly: requests per user over the last hour, in bounded memory."""

from __future__ import annotations

import time
from collections import Counter

SLOTS = 6  # ten-minute slots: the last hour
TRACKED_CAP = 5_000  # distinct users counted per slot; the rest are counted only in `other`


class Activity:
    def __init__(self) -> None:
        self.slots: list[tuple[int, Counter[int]]] = []
        self.other = 0

    def add(self, user_id: int, now: float | None = None) -> None:
        slot = int((now if now is not None else time.time()) // 600)
        if not self.slots or self.slots[-1][0] != slot:
            self.slots.append((slot, Counter()))
            self.slots = self.slots[-SLOTS:]
        counts = self.slots[-1][1]
        if user_id in counts or len(counts) < TRACKED_CAP:
            counts[user_id] += 1
        else:
            self.other += 1

    def top(self, n: int = 5, now: float | None = None) -> list[tuple[int, int]]:
        current = int((now if now is not None else time.time()) // 600)
        total: Counter[int] = Counter()
        for slot, counts in self.slots:
            if current - slot < SLOTS:
                total.update(counts)
        return total.most_common(n)
