"""`python -m bench <scenario> [--quick] [--json]`: measures the bot over its real interfaces."""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.report import emit

SCENARIOS = {
    "droppath": "bench.droppath",
    "latency": "bench.latency",
    "fairness": "bench.fairness",
    "capacity": "bench.capacity",
    "chatter": "bench.chatter",
    "chaos": "bench.chaos",
    "restart": "bench.restart",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="a shorter run (under 60 s)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.add_argument("--users", type=int, help="capacity only: how many users to ramp up (default 1,000)")
    parser.add_argument("--saturated", action="store_true",
                        help="fairness only: the AI backend is full (serves fewer at once than TZUROT_AI_SLOTS)")
    args = parser.parse_args(argv)
    if args.users is not None and (args.scenario != "capacity" or args.users < 1):
        parser.error("--users takes a positive count, and only with capacity")
    if args.saturated and args.scenario != "fairness":
        parser.error("--saturated is a variant of fairness only")
    module = importlib.import_module(SCENARIOS[args.scenario])
    extra: dict = {"users": args.users} if args.users is not None else {}
    if args.saturated:
        extra["saturated"] = True
    emit(args.scenario + (" --saturated" if args.saturated else ""), module.run(args.quick, **extra), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
