"""Streamed AI calls that run beside their actor: the call in a thread, its text read back by the actor.

A blocking call holds the actor for the whole answer, and what it tells other actors leaves only when its
handler returns; a streamed answer must reach the channel while it is still being written. So the call runs in a
thread of the actor's own process (it dies with it: nothing outlives a kill -9), filling one `Run`, and the actor
asks `progress(key, wait_s)`, which returns as soon as the answer is complete, or after `wait_s` with the text so
far: the actor then hands that text on, goes back to its mailbox, and asks again.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from actors.results import StreamProgress
from ai.errors import UnavailableError


class Run:
    """One streamed call: the text so far and, once it ended, its result (a completion or an exception)."""

    def __init__(self) -> None:
        self.text = ""
        self.result: Any = None
        self.done = threading.Event()
        self.lock = threading.Lock()

    def grew(self, text: str) -> None:
        with self.lock:
            self.text = text

    def snapshot(self) -> StreamProgress:
        with self.lock:
            return StreamProgress(self.text, self.done.is_set(), self.result if self.done.is_set() else None)


class Workers:
    """Daemon threads kept for the next call. Starting a thread waits until it runs, which on a busy machine was
    the largest part of a streamed call's own cost; a daemon dies with its process, so a stop (or a kill -9)
    never waits for a call (concurrent.futures' threads are joined at exit)."""

    def __init__(self, most: int = 8) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = self._count = 0
        self._most = most

    def submit(self, work: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            start = self._idle == 0 and self._count < self._most
            self._count += start
        self._jobs.put((work, args))
        if start:
            threading.Thread(target=self._serve, daemon=True, name="ai-stream").start()

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            work, args = self._jobs.get()
            with self._lock:
                self._idle -= 1
            work(*args)


class StreamRuns:
    """The streamed calls of one actor process, by key (the turn's trigger id)."""

    def __init__(self, complete: Callable[[dict[str, Any], str | None], Any]) -> None:
        self._complete = complete  # AIService.complete: the user's key or the operator's, with its breaker
        self._runs: dict[Any, Run] = {}
        self._threads = Workers()

    def start(self, key: Any, request: dict[str, Any], sealed_key: str | None, wait_s: float) -> StreamProgress:
        """Begin streaming `request` (a run already going under `key` is left to finish); then as `progress`."""
        if key not in self._runs or self._runs[key].done.is_set():
            run = self._runs[key] = Run()
            streamed = {**request, "stream": True, "on_text": run.grew}
            self._threads.submit(self._work, run, streamed, sealed_key)
        return self.progress(key, wait_s)

    def progress(self, key: Any, wait_s: float) -> StreamProgress:
        """The text so far, as soon as the answer is complete or after `wait_s`; a finished run is forgotten."""
        run = self._runs.get(key)
        if run is None:
            return StreamProgress("", True, UnavailableError("the streamed answer was lost"))
        run.done.wait(max(0.0, wait_s))
        progress = run.snapshot()
        if progress.done:
            del self._runs[key]
        return progress

    def _work(self, run: Run, request: dict[str, Any], sealed_key: str | None) -> None:
        result = self._call(request, sealed_key)
        if getattr(result, "kind", "") == "bad_request" and not run.text:
            # A backend that refuses to stream (a 400 before any text) is asked once more for the whole answer.
            result = self._call({k: v for k, v in request.items() if k not in ("stream", "on_text")}, sealed_key)
        with run.lock:
            run.result = result
            run.done.set()

    def _call(self, request: dict[str, Any], sealed_key: str | None) -> Any:
        try:
            return self._complete(request, sealed_key)
        except Exception as exc:  # noqa: BLE001 - handed to the state as data, like a plain call's error
            return exc
