"""The Prometheus metrics the edge serves at `/metrics`, fed by its own counts and the actors' deltas.

No label takes an unbounded value (no user or channel ids): kinds, reasons, scopes and outcomes only.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from supervision.metrics import MetricsDelta

DEPTHS_CAP = 10_000  # actors whose queue depth is remembered (only non-empty queues are kept)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.received = Counter("tzurot_messages_received", "Discord messages the edge saw", registry=r)
        self.forwarded = Counter("tzurot_messages_forwarded", "messages handed to a channel actor", registry=r)
        self.dropped = Counter("tzurot_messages_dropped", "messages dropped at the edge", ["reason"], registry=r)
        self.addressed = Counter("tzurot_messages_addressed", "messages that addressed a personality", ["how"],
                                 registry=r)
        self.answered = Counter("tzurot_messages_answered", "answers the model gave", registry=r)
        self.ai_errors = Counter("tzurot_ai_errors", "failed AI calls", ["kind"], registry=r)
        self.notices = Counter("tzurot_rate_limit_notices", "notices to users who sent too fast", registry=r)
        self.discord_429 = Counter("tzurot_discord_429", "Discord 429 answers", ["scope"], registry=r)
        self.deliver_sends = Counter("tzurot_deliver_sends", "messages sent from one actor to another in the tree, "
                                     "by path: direct (peer to peer), relayed (a leaf through its shard), "
                                     "forwarded (by a supervisor)", ["path"], registry=r)
        self.actor_events = Counter("tzurot_actor_events", "supervision events", ["event", "kind"], registry=r)
        self.restarts = Counter("tzurot_actor_restarts", "actor restarts", ["kind"], registry=r)
        self.parks = Counter("tzurot_actor_parks", "actors parked after too many restarts", ["kind"], registry=r)
        self.reply_latency = Histogram("tzurot_reply_latency_seconds", "Discord message -> first answer sent",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.ai_latency = Histogram("tzurot_ai_latency_seconds", "one AI call", buckets=LATENCY_BUCKETS, registry=r)
        self.live_actors = Gauge("tzurot_live_actors", "live actors", ["kind"], registry=r)
        self.gateway_connected = Gauge("tzurot_gateway_connected", "1 while the gateway is connected", registry=r)
        self.discord_invalid = Gauge("tzurot_discord_invalid_requests", "Discord 401, 403 and non-shared 429 "
                                     "answers in the last 10 minutes, bot-wide (Discord bans at 10,000)", registry=r)
        self.discord_invalid_by_status = Counter("tzurot_discord_invalid_responses", "Discord 401, 403 and "
                                                 "non-shared 429 answers, bot-wide", ["status"], registry=r)
        self._invalid_seen: dict[str, int] = {}
        for status in ("401", "403", "429"):
            self.discord_invalid_by_status.labels(status)
        self._counters = {
            "addressed": self.addressed, "answered": self.answered, "ai_error": self.ai_errors,
            "rate_limit_notice": self.notices, "discord_429": self.discord_429, "deliver_sends": self.deliver_sends,
        }
        self._histograms = {"reply_latency_s": self.reply_latency, "ai_latency_s": self.ai_latency}
        self.depths: dict[str, dict[str, float]] = {}  # e.g. "channel_depth" -> channel id -> chunks waiting

    def apply(self, delta: MetricsDelta) -> None:
        """Add what an actor process counted since its last flush."""
        for name, labels, amount in delta.counts:
            if name.startswith("actor_"):
                event, kind = name.removeprefix("actor_"), (labels or ("?",))[0]
                self.actor_events.labels(event, kind).inc(amount)
                if event == "restarted":
                    self.restarts.labels(kind).inc(amount)
                elif event == "parked":
                    self.parks.labels(kind).inc(amount)
            elif (counter := self._counters.get(name)) is not None:
                (counter.labels(*labels) if labels else counter).inc(amount)
        for name, _labels, values in delta.samples:
            if (histogram := self._histograms.get(name)) is not None:
                for value in values:
                    histogram.observe(value)
        for name, key, value in delta.levels:
            levels = self.depths.setdefault(name, {})
            if value and (key in levels or len(levels) < DEPTHS_CAP):
                levels[key] = value
            else:
                levels.pop(key, None)

    def observe_invalid(self, view: dict[str, Any]) -> None:
        """The shared invalid-request window (`discord_rest.invalid.read_invalid`): its count, and what the totals
        by status grew by since the last look (a new file starts them again)."""
        self.discord_invalid.set(view.get("count", 0))
        for status, total in view.get("by_status", {}).items():
            seen = self._invalid_seen.get(status, 0)
            grown = total - seen if total >= seen else total
            if grown > 0:
                self.discord_invalid_by_status.labels(status).inc(grown)
            self._invalid_seen[status] = total

    def deepest(self, name: str, n: int = 5) -> list[tuple[str, float]]:
        levels = self.depths.get(name, {})
        return sorted(levels.items(), key=lambda kv: -kv[1])[:n]

    def render(self) -> bytes:
        return generate_latest(self.registry)
