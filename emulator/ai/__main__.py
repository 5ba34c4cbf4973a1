"""``python -m emulator.ai --port PORT``: run the AI emulator standalone until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from emulator.ai.server import AIEmulator


async def _serve(args: argparse.Namespace) -> None:
    emulator = AIEmulator(args.host, args.port, args.max_concurrent)
    await emulator.start()
    print(f"AI emulator listening: {emulator.base_url}", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, done.set)
    try:
        await done.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator.ai", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="port (0 = pick a free one)")
    parser.add_argument("--max-concurrent", type=int, default=None, help="concurrent request limit")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
