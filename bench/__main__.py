"""`python -m bench <scenario> [--quick] [--json] [--store sqlite|postgresql]`: measures the bot over its real
interfaces. With `--store postgresql` the bot keeps its state in a fresh database on the server at
TZUROT_TEST_POSTGRES (testkit/postgres.py), dropped after the run."""

from __future__ import annotations

import argparse
import contextlib
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
    "multihost": "bench.multihost",  # always on a fresh PostgreSQL database of its own
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="a shorter run (under 60 s)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.add_argument("--users", type=int, help="capacity only: how many users to ramp up (default 1,000)")
    parser.add_argument("--saturated", action="store_true",
                        help="fairness only: the AI backend is full (serves fewer at once than TZUROT_AI_SLOTS)")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite",
                        help="where the bot keeps its state (postgresql: a fresh database per run)")
    parser.add_argument("--pgbouncer", type=int, metavar="POOL",
                        help="with --store postgresql: the bot reaches it through a PgBouncer (transaction mode) "
                             "with this many server connections")
    args = parser.parse_args(argv)
    if args.users is not None and (args.scenario != "capacity" or args.users < 1):
        parser.error("--users takes a positive count, and only with capacity")
    if args.saturated and args.scenario != "fairness":
        parser.error("--saturated is a variant of fairness only")
    if args.pgbouncer is not None and (args.store != "postgresql" or args.pgbouncer < 1):
        parser.error("--pgbouncer takes a positive pool size, and only with --store postgresql")
    module = importlib.import_module(SCENARIOS[args.scenario])
    extra: dict = {"users": args.users} if args.users is not None else {}
    if args.saturated:
        extra["saturated"] = True
    name = args.scenario + (" --saturated" if args.saturated else "")
    if args.store == "sqlite":
        emit(name, {"store": "sqlite", **module.run(args.quick, **extra)}, args.json)
        return 0
    from bench import connections
    from testkit import pgbouncer, postgres, stack

    if (reason := postgres.unavailable_reason()) is not None:
        print(f"--store postgresql: {reason}", file=sys.stderr)
        return 2
    if args.pgbouncer is not None and (reason := pgbouncer.missing_reason()) is not None:
        print(f"--pgbouncer: {reason}", file=sys.stderr)
        return 2
    with postgres.fresh_database() as url, contextlib.ExitStack() as around:
        bot_url = url
        if args.pgbouncer is not None:
            bot_url = around.enter_context(pgbouncer.pgbouncer(url, pool_size=args.pgbouncer)).url_for(url)
            connections.DIRECT["bouncer"] = str(args.pgbouncer)
            stack.DEFAULT_ENV["TZUROT_DATABASE_LISTEN_URL"] = url  # LISTEN needs a session PgBouncer keeps not
        stack.DEFAULT_ENV["TZUROT_DATABASE_URL"] = bot_url
        connections.DIRECT["url"] = url
        try:
            figures = module.run(args.quick, **extra)
        finally:
            stack.DEFAULT_ENV.pop("TZUROT_DATABASE_URL", None)
            stack.DEFAULT_ENV.pop("TZUROT_DATABASE_LISTEN_URL", None)
            connections.DIRECT.clear()
    emit(name, {"store": "postgresql", **figures}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
