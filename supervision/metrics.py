"""Counting inside actor processes without a metrics server in each: buffer, then flush to the outlet.

Every actor process keeps its counts in a small buffer and sends the difference to the outlet (the edge,
which serves `/metrics`) on a timer, at most every `FLUSH_S` and only when something changed; a stopping
actor flushes what is left. Label values must come from small fixed sets (never a user id).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

FLUSH_S = 2.0
SAMPLES_CAP = 2_000  # observations kept per histogram between two flushes (the rest are counted, not kept)


@dataclass(frozen=True)
class MetricsDelta:
    counts: tuple[tuple[str, tuple[str, ...], float], ...]  # (name, label values, amount)
    samples: tuple[tuple[str, tuple[str, ...], tuple[float, ...]], ...]  # (name, label values, observations)
    levels: tuple[tuple[str, str, float], ...] = ()  # (name, actor key, current value): queue depths


@dataclass
class MetricsBuffer:
    counts: Counter[tuple[str, tuple[str, ...]]] = field(default_factory=Counter)
    samples: dict[tuple[str, tuple[str, ...]], list[float]] = field(default_factory=dict)
    levels: dict[tuple[str, str], float] = field(default_factory=dict)

    def inc(self, name: str, *labels: str, amount: float = 1.0) -> None:
        self.counts[(name, labels)] += amount

    def observe(self, name: str, value: float, *labels: str) -> None:
        kept = self.samples.setdefault((name, labels), [])
        if len(kept) < SAMPLES_CAP:
            kept.append(value)

    def level(self, name: str, key: str, value: float) -> None:
        self.levels[(name, key)] = value

    def __bool__(self) -> bool:
        return bool(self.counts) or bool(self.samples) or bool(self.levels)

    def drain(self) -> MetricsDelta:
        delta = MetricsDelta(
            tuple((name, labels, amount) for (name, labels), amount in self.counts.items()),
            tuple((name, labels, tuple(values)) for (name, labels), values in self.samples.items()),
            tuple((name, key, value) for (name, key), value in self.levels.items()),
        )
        self.counts.clear()
        self.samples.clear()
        self.levels.clear()
        return delta
