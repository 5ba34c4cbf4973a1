"""A local OpenAI-compatible chat-completions server for tests (loopback only).

Endpoints (the two ``/v1`` ones also answer without the prefix):

* ``POST /v1/chat/completions`` -- answers ``expected_reply(request)`` (see ``replies``), as
  JSON or, with ``"stream": true``, as OpenAI SSE chunks ending ``data: [DONE]``.
* ``GET /v1/models`` -- configured models plus every model requested so far.
* ``POST /v1/embeddings`` -- deterministic embeddings (see ``embeddings``).
* ``POST /_emulator/faults`` ``{"key"?, "model"?, "latency_s"?, "fail"?, "count"?, "retry_after"?}``
  adds a fault rule, ``DELETE`` clears them, ``GET`` lists them (keys as fingerprints).
  ``fail``: null, an HTTP status such as ``"429"``/``"500"``/``"401"``, or one of
  ``state.FAIL_WORDS``. 429 (and a 503 rule) carries ``Retry-After: <retry_after>`` (default 1).
  The first matching rule, in order added, applies; ``count`` uses, or until cleared.
* ``GET /_emulator/stats`` (``DELETE`` resets): totals by model, by key fingerprint, by
  outcome, in flight, max in flight, queued, and each capacity gate's state.
* ``POST /_emulator/capacity`` ``{"limit": n|null, "model"?, "when_full"?: "queue"|"429"}``: serve at
  most ``n`` requests at once, for every model without its own limit or (with ``model``) for that one;
  when full, queue FIFO like a provider's own queue, or answer 429 at once. ``GET`` lists the limits,
  ``DELETE`` restores the one given at start (``max_concurrent``) and drops the per-model ones.

Order of a request: matched against the fault rules on arrival, then it waits its turn in its
model's FIFO gate (``max_concurrent``, or ``/_emulator/capacity``), then its latency runs, then it is
answered. Like some providers, 401/403 answers echo the presented key, so the client's redaction is tested.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Collection, Iterable
from typing import Any

from aiohttp import web

from emulator.ai import wire
from emulator.ai.audio import transcriptions
from emulator.ai.embeddings import embeddings
from emulator.ai.replies import expected_reply, model_of, spread_s
from emulator.ai.state import Capacity, FaultRule, FaultTable, FifoGate, Stats
from emulator.ai.thread import EmulatorThread

JSON = dict[str, Any]
_FAULT_FIELDS = frozenset({"key", "model", "latency_s", "fail", "count", "retry_after"})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _error(status: int, message: str, code: str | int | None = None, retry_after: str | None = None) -> web.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return web.json_response(wire.error_body(message, status, code), status=status, headers=headers)


class AIEmulator:
    """The server. Configure faults from Python (thread-safe) or over HTTP."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        max_concurrent: int | None = None,
        *,
        api_keys: Collection[str] | None = None,
        models: Iterable[str] = ("emulator-model",),
        stream_piece_chars: int = 16,
        keepalive_interval_s: float = 0.1,
    ) -> None:
        """``api_keys``: if given, other keys (or none) get 401; None accepts any request."""
        if not _is_loopback(host):
            raise ValueError("the AI emulator only listens on loopback addresses")
        self.host = host
        self.port = port
        self._api_keys = frozenset(api_keys) if api_keys is not None else None
        self._models = dict.fromkeys(models)  # ordered set
        self._piece_chars = max(1, stream_piece_chars)
        self._keepalive_s = keepalive_interval_s
        self._faults = FaultTable()
        self._gate = FifoGate(max_concurrent)  # every model without a gate of its own
        self._start_limit = max_concurrent
        self._model_gates: dict[str, FifoGate] = {}
        self._capacity: dict[str | None, Capacity] = {None: Capacity(max_concurrent)}
        self._capacity_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stats = Stats()
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # ----- lifecycle -----

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL to give a client: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    async def start(self) -> None:
        """Bind and serve (``port=0`` picks a free port, readable afterwards as ``.port``)."""
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=26 * 1024 * 1024)  # an audio file up to 25 MB
        for prefix in ("/v1", ""):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._list_models)
            app.router.add_post(f"{prefix}/audio/transcriptions", transcriptions)
            app.router.add_post(f"{prefix}/embeddings", embeddings)
        app.router.add_route("*", "/_emulator/faults", self._faults_endpoint)
        app.router.add_route("*", "/_emulator/stats", self._stats_endpoint)
        app.router.add_route("*", "/_emulator/capacity", self._capacity_endpoint)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=2.0, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving; held ("timeout"/"trickle") requests are released first, so this is quick."""
        if self._runner is None:
            return
        self._stopping.set()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    def start_in_thread(self) -> EmulatorThread:
        """Run in a background thread with its own loop, for synchronous tests."""
        return EmulatorThread(self)

    # ----- configuration (thread-safe) -----

    def add_fault(
        self,
        *,
        key: str | None = None,
        model: str | None = None,
        latency_s: float = 0.0,
        fail: str | int | None = None,
        count: int | None = None,
        retry_after: float | str = 1,
    ) -> int:
        """Add a fault rule (see the module docstring) and return its id."""
        return self._faults.add(
            key=key, model=model, latency_s=latency_s, fail=fail, count=count, retry_after=retry_after
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[JSON]:
        return self._faults.describe()

    def stats(self) -> JSON:
        snapshot = self._stats.snapshot(self._gate)
        with self._capacity_lock:
            capacity = dict(self._capacity)
        gates = {"*": self._gate, **self._model_gates}
        snapshot["capacity"] = {
            name: {"limit": gate.limit, "in_flight": gate.active, "queued": gate.queued,
                   "when_full": capacity.get(None if name == "*" else name, Capacity(None)).when_full}
            for name, gate in gates.items()
        }
        return snapshot

    def set_capacity(self, limit: int | None, model: str | None = None, when_full: str = "queue") -> None:
        """Serve at most `limit` requests at once (None: unlimited) for `model`, or for every model without its
        own limit; when full, queue FIFO or (`when_full="429"`) refuse at once. Raises ValueError on bad values."""
        capacity = Capacity(limit, when_full)
        with self._capacity_lock:
            self._capacity[model] = capacity
        self._on_loop(self._apply_capacity)

    def clear_capacity(self) -> None:
        """Back to the limit given at start, for every model."""
        with self._capacity_lock:
            self._capacity = {None: Capacity(self._start_limit)}
        self._on_loop(self._apply_capacity)

    def capacity(self) -> JSON:
        with self._capacity_lock:
            return {name or "*": {"limit": c.limit, "when_full": c.when_full} for name, c in self._capacity.items()}

    def _on_loop(self, fn: Any) -> None:
        """Run `fn` on the server's loop (gates' futures belong to it), or now when it is not running."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            fn()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    def _apply_capacity(self) -> None:
        with self._capacity_lock:
            capacity = dict(self._capacity)
        for model in [m for m in self._model_gates if m not in capacity]:
            self._model_gates.pop(model).set_limit(None)  # its queued requests go on; new ones use the default
        for model, cap in capacity.items():
            gate = self._gate if model is None else self._model_gates.setdefault(model, FifoGate(None))
            gate.set_limit(cap.limit)

    def _gate_for(self, model: str) -> tuple[FifoGate, str]:
        with self._capacity_lock:
            cap = self._capacity.get(model) if model in self._model_gates else None
            cap = cap or self._capacity.get(None) or Capacity(None)
        return self._model_gates.get(model, self._gate), cap.when_full

    def last_requests(self, n: int = 10) -> list[JSON]:
        """The newest request bodies (messages and model; the key only as its fingerprint)."""
        return self._stats.last_requests(n)

    def reset_stats(self) -> None:
        self._stats.reset()
        self._gate.max_active = self._gate.active

    # ----- chat -----

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        key = _bearer(request)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "'messages' must be a list")
        model = model_of(body)
        self._models.setdefault(model)
        self._stats.arrived(model, key, body)
        if self._api_keys is not None and key not in self._api_keys:
            self._stats.outcome("401")
            return _error(401, f"Incorrect API key provided: {key}", "invalid_api_key")
        rule = self._faults.take(key, model)
        gate, when_full = self._gate_for(model)
        if when_full == "429" and gate.full:
            self._stats.outcome("429_full")
            return _error(429, "emulated capacity full", "rate_limit_exceeded", retry_after="1")
        async with gate:
            if rule is not None and rule.latency_s > 0 and await self._stopped_within(rule.latency_s):
                return _error(503, "emulator stopping")
            fail = rule.fail if rule is not None else None
            self._stats.outcome(fail or "ok")
            return await self._answer(request, body, model, key, rule)

    async def _answer(
        self, request: web.Request, body: JSON, model: str, key: str | None, rule: FaultRule | None
    ) -> web.StreamResponse:
        fail = rule.fail if rule is not None else None
        stream = body.get("stream") is True
        if fail == "timeout":
            await self._stopping.wait()
            return _error(503, "emulator stopping")
        if fail == "trickle":
            return await self._trickle(request, stream)
        if fail is not None and fail.isdigit():
            status = int(fail)
            retry_after = rule.retry_after if rule is not None and status in (429, 503) else None
            message = f"Incorrect API key provided: {key}" if status in (401, 403) else f"emulated {status}"
            return _error(status, message, retry_after=retry_after)
        reply = "" if fail == "empty" else expected_reply(body)
        if fail == "malformed":
            events = [b"data: {this is not json\n\n"] if stream else [b'{"answer": "not a completion"']
        elif fail == "error200":
            if not stream:
                return web.json_response(wire.error_body("emulated provider error", 502))
            events = wire.stream_error_events(model, reply[: self._piece_chars])
        elif stream:
            events = wire.stream_events(body, model, reply, self._piece_chars)
        else:
            if await self._stopped_within(spread_s(body)):
                return _error(503, "emulator stopping")
            return web.json_response(wire.completion_body(body, model, reply))
        return await self._send(request, events, stream, spread_s(body) if stream else 0.0)

    async def _send(
        self, request: web.Request, events: list[bytes], stream: bool, spread: float = 0.0
    ) -> web.StreamResponse:
        """Write `events`; with `spread`, the content pieces (all but the first two and last two) are paced evenly
        over that many seconds, as a model writing its answer."""
        content_type = "text/event-stream" if stream else "application/json"
        response = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
        await response.prepare(request)
        pause = spread / max(1, len(events) - 4)
        for i, event in enumerate(events):
            if pause and 2 <= i < len(events) - 2 and await self._stopped_within(pause):
                return response
            await response.write(event)
        await response.write_eof()
        return response

    async def _trickle(self, request: web.Request, stream: bool) -> web.StreamResponse:
        """200 headers then keep-alive bytes until the client leaves or the server stops."""
        content_type = "text/event-stream" if stream else "application/json"
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        keepalive = b": OPENROUTER PROCESSING\n\n" if stream else b" "
        try:
            while not await self._stopped_within(self._keepalive_s):
                await response.write(keepalive)
        except ConnectionError:
            pass  # the client gave up, which is the point
        return response

    async def _stopped_within(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the server starts stopping; True if it did."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # ----- other endpoints -----

    async def _list_models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "owned_by": "emulator"} for m in self._models]
        return web.json_response({"object": "list", "data": data})

    async def _faults_endpoint(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self.clear_faults()
            return web.json_response({"ok": True})
        if request.method == "GET":
            return web.json_response({"faults": self.faults()})
        if request.method != "POST":
            return _error(405, "use GET, POST or DELETE")
        try:
            spec = await request.json()
            if not isinstance(spec, dict) or not set(spec) <= _FAULT_FIELDS:
                raise ValueError(f"a JSON object with fields from {sorted(_FAULT_FIELDS)}")
            rule_id = self.add_fault(**{k: v for k, v in spec.items() if v is not None or k == "fail"})
        except (ValueError, TypeError) as exc:
            return _error(400, f"bad fault: {exc}")
        return web.json_response({"ok": True, "id": rule_id})

    async def _capacity_endpoint(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self.clear_capacity()
            return web.json_response({"ok": True})
        if request.method == "GET":
            return web.json_response({"capacity": self.capacity()})
        if request.method != "POST":
            return _error(405, "use GET, POST or DELETE")
        try:
            spec = await request.json()
            if not isinstance(spec, dict) or "limit" not in spec or not set(spec) <= {"limit", "model", "when_full"}:
                raise ValueError('a JSON object {"limit": n or null, "model"?, "when_full"?: "queue" or "429"}')
            model = spec.get("model")
            if model is not None and not isinstance(model, str):
                raise ValueError("model must be a string")
            self.set_capacity(spec["limit"], model, spec.get("when_full", "queue"))
        except (ValueError, TypeError) as exc:
            return _error(400, f"bad capacity: {exc}")
        return web.json_response({"ok": True, "capacity": self.capacity()})

    async def _stats_endpoint(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self.reset_stats()
            return web.json_response({"ok": True})
        if request.method != "GET":
            return _error(405, "use GET or DELETE")
        return web.json_response(self.stats())

