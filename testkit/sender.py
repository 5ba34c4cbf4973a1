"""One process sending Discord REST requests at a steady rate through the real client, as a channel actor does.

`python -m testkit.sender --rate 40 --seconds 3 --channel 123` reads its settings from the environment (as the
bot does: DISCORD_API_BASE, DISCORD_TOKEN, TZUROT_DATA_DIR, TZUROT_DATABASE_URL, ...), builds the client with
`DiscordRest.from_settings`, so the bot-wide budget is whatever shared cell those settings name, and offers one
request every 1/rate seconds until the time is up. A request told to wait (the shared gate, a bucket) is
offered again after the wait, as an actor's timer would. It prints one JSON line: what it sent and what came
back. The shared-budget test runs two at once against one Discord emulator.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import config
from discord_rest.client import DiscordRest, Fail, Ok, Wait


def run(rate: float, seconds: float, channel_id: int, start_at: float) -> dict[str, int]:
    rest = DiscordRest.from_settings(config.load())
    counts = {"ok": 0, "failed": 0, "waits": 0, "global_429": 0, "other_429": 0}
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    end, due = start_at + seconds, start_at
    while True:
        now = time.time()
        if now >= end:
            break
        if now < due:
            time.sleep(due - now)
            continue
        result = rest.channel_messages(channel_id, limit=1)
        if isinstance(result, Ok):
            counts["ok"] += 1
            due += 1.0 / rate
        elif isinstance(result, Wait):
            counts["waits"] += 1
            if result.scope == "global":
                counts["global_429"] += 1
            elif result.scope not in ("gate", "bucket"):
                counts["other_429"] += 1
            due = max(due, time.time() + result.seconds)  # offered again after the wait, like an actor's timer
        elif isinstance(result, Fail):
            counts["failed"] += 1
            due += 1.0 / rate
    rest.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=40.0, help="requests offered per second")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--channel", type=int, required=True, help="the channel whose messages are read")
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch seconds to begin (both senders alike)")
    args = parser.parse_args(argv)
    counts = run(args.rate, args.seconds, args.channel, args.start_at or time.time())
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
