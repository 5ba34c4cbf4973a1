"""How many AI requests to keep in flight on the operator's key: the backend's real concurrency, found from
the latency and the refusals of the calls themselves (`TZUROT_AI_SLOTS` is only the ceiling).

Operators rarely know their provider's real concurrency. Above it, requests queue in the provider's own FIFO,
where nobody can order them fairly; below it, capacity is wasted. So the limit follows the signals, as in
TCP Vegas and Netflix's concurrency-limits:

- every answered call is a latency sample. Its model's best latency (the time with no queue in front) gives
  the queue the backend holds: `limit * (latency - best) / latency` requests (less `NOISE_S`: a busy CPU on
our side is not the backend's queue), smoothed over the last few samples.
  Below `ALPHA` the limit grows (by 1/limit a sample: about one a round), above `beta` it shrinks by one,
  at most once per best latency (a round: the samples that saw the old queue are not counted twice);
- a 429, a 503 or a timeout is the backend saying it is full: the limit drops by a quarter (at most once per
  best latency, so one full moment's burst of refusals counts once);
- it never grows while the calls in flight do not use it (nothing was learnt about a higher limit), and it
  stays between 1 and the ceiling.

Each model keeps its own best latency (a 30 s model is not a queue in front of a 1 s one), and the best
drifts up slowly toward what is seen while the backend is lightly used, so one lucky sample does not hold the
limit down forever.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

OVERLOAD = frozenset({"rate_limited", "unavailable", "timeout"})  # the backend is full (outcome kinds)
ALPHA = 1.0  # requests queued at the backend below which the limit grows
BETA_SHARE = 0.2  # ... above max(2, this share of the limit) it shrinks
DECREASE = 0.75  # the limit after an overload refusal, as a share of what it was
DRIFT = 0.002  # how fast a model's best latency follows slower samples (a share of the gap, per sample)
NOISE_S = 0.25  # latency within this of the best is not a queue (our own CPU, the network): answers take seconds
SMOOTHING = 0.3  # weight of the newest sample in the queue estimate (one slow answer is noise, not a queue)
MODELS_CAP = 32  # models whose best latency is remembered (least recently seen forgotten first)


@dataclass
class AdaptiveLimit:
    """The adaptive concurrency limit; `limit` is what may be in flight now (an int between 1 and `ceiling`)."""

    ceiling: int
    value: float = 0.0  # the estimate, fractional so additive growth can be slow; starts at the ceiling
    best: OrderedDict[str, float] = field(default_factory=OrderedDict)  # model -> best latency seen (s)
    last_drop: float = float("-inf")
    queued: float = 0.0  # requests queued at the backend, smoothed over the last few samples

    def __post_init__(self) -> None:
        self.value = float(self.ceiling) if self.value <= 0 else min(self.value, float(self.ceiling))

    @property
    def limit(self) -> int:
        return max(1, min(self.ceiling, int(self.value)))

    def record(self, outcome: str, latency_s: float, model: str, in_flight: int, now: float) -> bool:
        """Learn from one finished call (`outcome` "ok" or an error kind; `in_flight` counting it). Returns
        whether `limit` changed."""
        before = self.limit
        if outcome in OVERLOAD:
            if now - self.last_drop >= self._best_of_all():
                self.value = max(1.0, self.value * DECREASE)
                self.last_drop = now
        elif outcome == "ok" and latency_s > 0:
            best = self._learn(model, latency_s, drift=in_flight <= self.limit // 2)
            waited = max(0.0, latency_s - best - NOISE_S)  # what the backend's queue added, beyond noise
            self.queued += SMOOTHING * (self.value * waited / latency_s - self.queued)
            if self.queued > max(2.0, BETA_SHARE * self.value):
                if now - self.last_drop >= best:  # once per round: the calls that saw the queue finish first
                    self.value = max(1.0, self.value - 1.0)
                    self.last_drop = now
            elif self.queued < ALPHA and in_flight >= self.limit - 1:  # only when the limit is being used
                self.value = min(float(self.ceiling), self.value + 1.0 / self.value)
        return self.limit != before

    def _learn(self, model: str, latency_s: float, drift: bool) -> float:
        """The model's best latency, after this sample. It drifts up only on samples taken while few calls were in
        flight: under load a slower answer may be our own queue, which must not become the new normal."""
        best = self.best.pop(model, latency_s)
        if latency_s < best:
            best = latency_s
        elif drift:
            best += DRIFT * (latency_s - best)
        self.best[model] = best
        while len(self.best) > MODELS_CAP:
            self.best.popitem(last=False)
        return best

    def _best_of_all(self) -> float:
        return min(self.best.values(), default=0.0)
