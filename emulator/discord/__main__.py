"""`python -m emulator.discord --port PORT`: serve the default world until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .server import DEFAULT_TOKEN, DiscordEmulator


async def _serve(host: str, port: int, token: str, shards: int) -> None:
    emulator = DiscordEmulator(token=token, host=host, port=port, shards=shards)
    await emulator.start()
    print(f"base_url    {emulator.base_url}", flush=True)
    print(f"api_base    {emulator.api_base}", flush=True)
    print(f"gateway_url {emulator.gateway_url}", flush=True)
    print(f"sandbox     {emulator.base_url}/_sandbox/state", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator.discord", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0 picks a free one)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bot token clients must present")
    parser.add_argument("--shards", type=int, default=1, help="gateway shard count clients must use (default 1)")
    args = parser.parse_args()
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    asyncio.run(_serve(args.host, args.port, args.token, args.shards))


if __name__ == "__main__":
    main()
