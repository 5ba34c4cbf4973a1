"""How much the edge pays for a message that addresses nobody (it must never wake an actor).

Builds the message outline the edge builds from discord.py's Message and runs the routing table's decision,
for a mix of chatter, bot messages and our own webhook echoes, against a table of realistic size.
"""

from __future__ import annotations

import random
import time
from types import SimpleNamespace
from typing import Any

from actors.messages import RouteFact
from edge.routing import RoutingTable
from edge.translate import outline_of


def _table() -> RoutingTable:
    table = RoutingTable()
    for n in range(2_000):
        table.apply(RouteFact("webhook", 10_000 + n, True))
        table.apply(RouteFact("alias", f"persona{n} the great", f"persona{n}"))
    for n in range(500):
        table.apply(RouteFact("activated", 50_000 + n, f"persona{n}"))
    return table


def _message(rng: random.Random, me: Any) -> Any:
    words = ["hello", "@someone", "what", "do", "you", "think", "about", "this", "<:emoji:1>", "lol"]
    author = SimpleNamespace(id=rng.randrange(1, 10**6), bot=rng.random() < 0.1)
    return SimpleNamespace(
        channel=SimpleNamespace(id=rng.randrange(90_000, 99_000)),
        author=author,
        content=" ".join(rng.choice(words) for _ in range(rng.randrange(3, 25))),
        webhook_id=10_000 + rng.randrange(2_000) if rng.random() < 0.1 else None,
        application_id=None,
        mentions=[],
        reference=None,
        guild=SimpleNamespace(id=900),
        type=None,
    )


def run(quick: bool) -> dict[str, Any]:
    rng = random.Random(7)
    me = SimpleNamespace(id=1)
    table = _table()
    messages = [_message(rng, me) for _ in range(20_000 if quick else 200_000)]
    started = time.perf_counter()
    forwarded = sum(table.decide(outline_of(m, me)) is None for m in messages)
    elapsed = time.perf_counter() - started
    return {
        "messages": len(messages),
        "forwarded": forwarded,
        "per_message_us": elapsed / len(messages) * 1e6,
        "messages_per_s": int(len(messages) / elapsed),
        "dropped_by_reason": dict(table.dropped),
    }
