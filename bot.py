"""The edge: command line, and (with the Discord edge) the gateway client and the bridge into the actors.

`python bot.py` starts the actor system and its supervision tree and runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import config
from bridge import Bridge


def run_tree(settings: config.Settings) -> int:
    bridge = Bridge(settings).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    shards = [s.key for s in bridge.status()[1:]]
    print(f"actor tree up: {len(shards)} shards ({', '.join(shards)}), registry", flush=True)
    print(f"data: {settings.data_dir.resolve()}  supervisor log: {settings.supervisor_log_path}", flush=True)
    print("Ctrl-C stops it.", flush=True)
    try:
        stop.wait()
    finally:
        bridge.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot.py", description=__doc__)
    parser.add_argument("command", nargs="?", default="tree", choices=["tree", "config"])
    args = parser.parse_args(argv)
    try:
        settings = config.load()
    except config.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        for env, default, text in config.describe():
            print(f"{env:34} {default:18} {text}")
        return 0
    try:
        return run_tree(settings)
    except RuntimeError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
