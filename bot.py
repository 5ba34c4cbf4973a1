"""The edge's command line: run the bot, or the sandbox (the bot against local Discord and AI emulators).

    python bot.py run                   the real bot (needs DISCORD_TOKEN and AI_BASE_URL)
    python bot.py sandbox [--port P]    everything local, on loopback
    python bot.py                       `run` when DISCORD_TOKEN is set, `sandbox` otherwise
    python bot.py config                every setting with its default
"""

from __future__ import annotations

import argparse
import logging
import sys

import config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="the real bot")
    sandbox = sub.add_parser("sandbox", help="the bot against local Discord and AI emulators")
    sandbox.add_argument("--port", type=int, default=8080, help="the Discord emulator's port (default 8080)")
    sub.add_parser("config", help="every setting, its variable and default")
    args = parser.parse_args(argv)
    try:
        settings = config.load()
    except config.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        for env, default, text in config.describe():
            print(f"{env:34} {default:30} {text}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(logging.WARNING)
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "PyNaCl is not installed": no voice here
    from edge.app import run_bot, run_sandbox  # imported late: discord.py is not needed for `config`

    command = args.command or ("run" if settings.discord_token else "sandbox")
    try:
        if command == "run":
            return run_bot(settings)
        return run_sandbox(settings, getattr(args, "port", 8080))
    except RuntimeError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
