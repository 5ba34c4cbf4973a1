"""The AI emulator served from a thread of its own, for synchronous tests and the sandbox."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.ai.server import AIEmulator


class EmulatorThread:
    """An ``AIEmulator`` serving from a daemon thread; ``stop()`` (or ``with``) shuts it down.

    Public attributes of the emulator (``add_fault``, ``stats``, ``base_url``...) are
    available directly on this handle; they are safe to call from the test's thread.
    """

    def __init__(self, emulator: AIEmulator, start_timeout_s: float = 10.0) -> None:
        self.emulator = emulator
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ai-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(start_timeout_s):
            raise RuntimeError("AI emulator did not start in time")
        if self._failure is not None:
            self._thread.join()
            raise self._failure

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.emulator, name)

    def __enter__(self) -> EmulatorThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.emulator.start())
        except BaseException as exc:  # reported to the starting thread
            self._failure = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
            self._loop.run_until_complete(self.emulator.stop())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server and join its thread (idempotent)."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise RuntimeError("AI emulator thread did not stop in time")
