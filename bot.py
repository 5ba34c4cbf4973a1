"""The edge's command line: run the bot, or the sandbox (the bot against local Discord and AI emulators).

    python bot.py run                   the real bot (needs DISCORD_TOKEN and AI_BASE_URL)
    python bot.py sandbox [--port P]    everything local, on loopback
    python bot.py                       `run` when DISCORD_TOKEN is set, `sandbox` otherwise
    python bot.py config                every setting with its default
    python bot.py status [--json]       the running bot at a glance (from its HTTP server)
    python bot.py logs [--user ID] [--channel ID] [--since 10m] [--level warning] [--follow]
    python bot.py node                  one node of a tree over several hosts: the leader (the tree's Root and an
                                        edge) or, with TZUROT_CONVENTION_LEADER=host:port, a member (shards)
    python bot.py migrate [--to URL]    copy the data directory's SQLite store into PostgreSQL (bot stopped;
                                        default: TZUROT_DATABASE_URL)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import config


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # before anything forks or writes: every file the bot creates is its user's alone (0600)
    parser = argparse.ArgumentParser(prog="bot.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="the real bot")
    sub.add_parser("node", help="one node of a tree over several hosts (a Thespian Convention)")
    sandbox = sub.add_parser("sandbox", help="the bot against local Discord and AI emulators")
    sandbox.add_argument("--port", type=int, default=8080, help="the Discord emulator's port (default 8080)")
    sub.add_parser("config", help="every setting, its variable and default")
    status = sub.add_parser("status", help="the running bot at a glance")
    status.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    logs = sub.add_parser("logs", help="the supervisor and events logs, readable and filtered")
    logs.add_argument("--user", type=int)
    logs.add_argument("--channel", type=int)
    logs.add_argument("--since", help="like 10m, 2h, 1d")
    logs.add_argument("--level", default="debug", choices=["debug", "info", "warning", "error"])
    logs.add_argument("--follow", action="store_true", help="keep printing new lines")
    migrate = sub.add_parser("migrate", help="copy the SQLite store of TZUROT_DATA_DIR into PostgreSQL")
    migrate.add_argument("--to", metavar="URL", help="the PostgreSQL database (default: TZUROT_DATABASE_URL)")
    commands = sub.add_parser("commands", help="the slash commands: show them, or register them with Discord now")
    commands.add_argument("action", choices=["show", "sync"])
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
    if args.command == "status":
        return show_status(settings, args.json)
    if args.command == "logs":
        return show_logs(settings, args)
    if args.command == "migrate":
        return migrate_store(settings, args.to)
    if args.command == "commands":
        from edge.commands_cli import run as slash_commands

        return slash_commands(settings, args.action)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(logging.WARNING)
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "PyNaCl is not installed": no voice here
    # The actor system first, then the edge: every actor is forked from this process as it is when the system
    # starts, so discord.py, aiohttp and prometheus-client (edge.app) are imported only once it runs.
    from edge.launch import require_bot_settings, run_member, sandbox_settings, start_tree

    command = args.command or ("run" if settings.discord_token else "sandbox")
    port, ai_port = getattr(args, "port", 8080), None
    leader = config.parse_host_port(settings.convention_leader) if command == "node" else None
    try:
        if leader is not None:
            if settings.shard_ids.strip():
                require_bot_settings(settings)  # this member runs an edge too
            return run_member(settings, leader)
        if command in ("run", "node"):
            require_bot_settings(settings)
        else:
            settings, ai_port = sandbox_settings(settings, port)
        if command == "node":
            from supervision import nodes

            nodes.NODE_NAME = nodes.node_name(settings)
        tree = start_tree(settings, nodes=command == "node")
        try:
            from edge.app import run_bot, run_sandbox

            if command in ("run", "node"):
                return run_bot(settings, tree)
            return run_sandbox(settings, tree, port, ai_port)
        finally:
            tree.stop()
    except config.ConfigError as exc:  # found at start, like a key file that holds no key
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def migrate_store(settings: config.Settings, url: str | None) -> int:
    """Moving house: the data directory's SQLite store into PostgreSQL (store/move.py), with a report."""
    url = url if url is not None else settings.database_url
    if not url:
        print("migrate: say where to, with --to postgresql://user:password@host:5432/db (or TZUROT_DATABASE_URL)",
              file=sys.stderr)
        return 2
    try:
        config.check_database_url(url, "--to")
    except config.ConfigError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    from store.move import run

    return run(settings.data_dir, url)


def show_status(settings: config.Settings, as_json: bool) -> int:
    import json

    import httpx

    from observability.status import render

    host = settings.http_host.strip("[]") or "127.0.0.1"
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.http_port}/status"
    headers = {"Authorization": f"Bearer {settings.http_token}"} if settings.http_token else {}
    try:
        response = httpx.get(url, headers=headers, timeout=15)
    except httpx.HTTPError as exc:
        print(f"no bot answering at {url} ({type(exc).__name__}); is it running with this configuration?",
              file=sys.stderr)
        return 1
    if response.status_code == 401:
        print(f"the bot answered 401 at {url}: set TZUROT_HTTP_TOKEN to the bot's token", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"the bot answered {response.status_code}: {response.text[:200]}", file=sys.stderr)
        return 1
    print(json.dumps(response.json(), indent=2) if as_json else render(response.json()))
    return 0


def show_logs(settings: config.Settings, args: argparse.Namespace) -> int:
    import time

    from observability.logs import Filter, follow, parse_since, pretty, read_all

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    keep = Filter(args.user, args.channel, since, args.level)
    try:
        for record in read_all(settings.data_dir):
            if keep.keeps(record, time.time()):
                print(pretty(record))
        if args.follow:
            for record in follow(settings.data_dir):
                if keep.keeps(record, time.time()):
                    print(pretty(record), flush=True)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
