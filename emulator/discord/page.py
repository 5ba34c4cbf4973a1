"""The sandbox's browser page: a Discord-like chat over the emulator, with the bot's live actor tree beside it.

Routes (mounted on the emulator's own app by `Page.mount`):

* ``GET /``: the page (``static/index.html``); its CSS and JS are under ``/_page/static/``. No build step.
* ``GET /_page/config``: ``{"bot_http": str | null}``, where the page fetches the actor tree from.
* ``GET /_page/events``: a server-sent-events stream of what the page must show live, for every channel:
  ``message_create`` / ``message_update`` (the message as ``GET /_sandbox/channels/{id}/messages`` lists it),
  ``message_delete`` (``{"id", "channel_id"}``), ``typing_start`` (``{"channel_id", "user_id", "username"}``)
  and ``channels`` (the guild's channels or threads changed: fetch ``/_sandbox/state`` again).

The page reads and writes through the existing control API (``/_sandbox/state``, ``/_sandbox/messages``,
``/_sandbox/channels/{id}/messages?as=<author>``, with the author's ephemeral answers); the stream only tells it
what changed. ``static/slash.js`` is the ``/`` menu: ``/_sandbox/commands`` and ``/_sandbox/interactions``.

Events are taken where the emulator dispatches gateway events (`GatewayHub.dispatch`), so a message posted
through REST, a webhook, the control API or a simulated proxy reaches the page exactly as it reaches the bot.
Each subscriber has a bounded queue: one that falls that far behind is dropped (its stream ends, the browser's
EventSource reconnects and the page reloads the channel), so a stuck tab never grows the emulator's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .context import Context
from .control import message_summary
from .gateway import GatewayHub

log = logging.getLogger("emulator.discord.page")

STATIC_DIR = Path(__file__).with_name("static")
STATIC_PREFIX = "/_page/static"
SUBSCRIBER_QUEUE = 1_000
"""Events one stream may have waiting; past that the subscriber is dropped (and reconnects)."""
SUBSCRIBERS_CAP = 64
"""Open streams at most; a further one is refused with 503 (EventSource retries)."""
KEEPALIVE_S = 15.0
"""A comment line this often, so a closed tab is noticed (its write fails) and proxies keep the stream."""
RETRY_MS = 1_000

_MESSAGE_EVENTS = {"MESSAGE_CREATE": "message_create", "MESSAGE_UPDATE": "message_update"}
_CHANNEL_EVENTS = frozenset(
    {"CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE", "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE"}
)
_NO_CACHE = {"Cache-Control": "no-cache"}


class _Subscriber:
    """One open stream: a bounded queue of encoded events; `None` ends the stream."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(SUBSCRIBER_QUEUE)

    def end(self) -> None:
        """Drop whatever is waiting and end the stream at once."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


def encode_event(name: str, data: Any) -> bytes:
    """One server-sent event; JSON never contains a raw newline, so `data:` is a single line."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Page:
    """The page's routes and its event stream; taps the emulator's gateway hub once, at construction."""

    def __init__(self, ctx: Context, bot_http: Callable[[], str | None]) -> None:
        self._ctx = ctx
        self._bot_http = bot_http
        self._subscribers: set[_Subscriber] = set()
        self.dropped = 0  # subscribers dropped for falling behind (for tests and curiosity)
        self._tap(ctx.gateway)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self._index)
        app.router.add_get("/_page/config", self._config)
        app.router.add_get("/_page/events", self._events)
        app.router.add_static(STATIC_PREFIX, STATIC_DIR, append_version=False)
        app.on_shutdown.append(self._close_streams)

    # --- the tap ----------------------------------------------------------------------------------

    def _tap(self, hub: GatewayHub) -> None:
        """Wrap this hub's `dispatch`: every event still goes to the gateway first, then to the page."""
        dispatch = hub.dispatch

        def dispatch_and_publish(
            event: str, data: dict[str, Any], intent: int, *, guild_id: int | None, redacted: Any = None
        ) -> None:
            dispatch(event, data, intent, guild_id=guild_id, redacted=redacted)
            if self._subscribers:
                try:
                    self._publish_gateway(event, data)
                except Exception:  # the page must never break the gateway
                    log.exception("page: could not publish %s", event)

        hub.dispatch = dispatch_and_publish  # type: ignore[method-assign]

    def _publish_gateway(self, event: str, data: dict[str, Any]) -> None:
        world = self._ctx.world
        if event in _MESSAGE_EVENTS:
            message = world.message(int(data["channel_id"]), int(data["id"]))
            if message is not None:
                self.publish(_MESSAGE_EVENTS[event], message_summary(self._ctx, message))
        elif event == "MESSAGE_DELETE":
            self.publish("message_delete", {"id": str(data["id"]), "channel_id": str(data["channel_id"])})
        elif event == "TYPING_START":
            user = world.users.get(int(data["user_id"]))
            self.publish(
                "typing_start",
                {
                    "channel_id": str(data["channel_id"]),
                    "user_id": str(data["user_id"]),
                    "username": user.username if user is not None else str(data["user_id"]),
                },
            )
        elif event in _CHANNEL_EVENTS:
            self.publish("channels", {"event": event.lower()})

    def publish(self, name: str, data: Any) -> None:
        """Queue one event for every subscriber; one whose queue is full is dropped."""
        frame = encode_event(name, data)
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._subscribers.discard(subscriber)
                self.dropped += 1
                subscriber.end()

    # --- routes -----------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response({"bot_http": self._bot_http()}, headers=_NO_CACHE)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if len(self._subscribers) >= SUBSCRIBERS_CAP:
            return web.json_response({"error": "too many page streams"}, status=503)
        subscriber = _Subscriber()
        self._subscribers.add(subscriber)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        try:
            await response.prepare(request)
            await response.write(f"retry: {RETRY_MS}\n: tzurot sandbox page\n\n".encode())
            while True:
                try:
                    frame = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    frame = b": keepalive\n\n"
                if frame is None:
                    break
                await response.write(frame)
        except (ConnectionResetError, ConnectionError):
            pass  # the tab went away
        finally:
            self._subscribers.discard(subscriber)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response

    async def _close_streams(self, app: web.Application) -> None:
        """End every stream when the emulator stops, so shutdown does not wait on them."""
        for subscriber in list(self._subscribers):
            self._subscribers.discard(subscriber)
            subscriber.end()
