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
import time
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


IDLE_S = 30.0  # a kept thread with nothing to do for this long leaves

Job = tuple[Callable[..., Any], tuple[Any, ...]] | None  # None: leave


class Workers:
    """Daemon threads kept for the next call. Starting a thread waits until it runs, which on a busy machine was
    the largest part of a streamed call's own cost; a daemon dies with its process, so a stop (or a kill -9)
    never waits for a call (concurrent.futures' threads are joined at exit). Each thread has its own queue: a
    call goes to an idle thread or to a new one, never waits behind another call. An idle thread leaves after
    IDLE_S; `close` sends the idle ones away at once (a process that starts an actor system must have none)."""

    def __init__(self, idle_s: float = IDLE_S) -> None:
        self._lock = threading.Lock()
        self._idle: dict[queue.SimpleQueue[Job], threading.Thread] = {}  # each idle thread, by its queue
        self._threads: set[threading.Thread] = set()
        self._closed = False
        self._idle_s = idle_s

    def submit(self, work: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            inbox = self._idle.popitem()[0] if self._idle else None
            if inbox is None:
                inbox = queue.SimpleQueue()
                thread = threading.Thread(target=self._serve, args=(inbox,), daemon=True, name="ai-stream")
                self._threads.add(thread)
                thread.start()
        inbox.put((work, args))

    def close(self, wait_s: float = 2.0) -> None:
        """Send the threads away: the idle ones at once, a busy one when its call ends (waited for `wait_s`)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
            threads = list(self._threads)
        for inbox in idle:
            inbox.put(None)
        deadline = time.monotonic() + wait_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _serve(self, inbox: queue.SimpleQueue[Job]) -> None:
        job = inbox.get()
        while job is not None:
            job[0](*job[1])
            with self._lock:
                if self._closed:
                    break
                self._idle[inbox] = threading.current_thread()
            try:
                job = inbox.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:
                    taken = inbox not in self._idle  # a call chose us just now: its job is on its way
                    self._idle.pop(inbox, None)
                job = inbox.get() if taken else None
        with self._lock:
            self._threads.discard(threading.current_thread())


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

    def close(self) -> None:
        """Send the kept threads away (a call still running goes on until it ends)."""
        self._threads.close()

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
