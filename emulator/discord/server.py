"""`DiscordEmulator`: REST, gateway and sandbox control on one loopback port, plus a thread runner."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from . import proxies
from .attachments import CDN_PATH, serve_attachment
from .context import CONTEXT_KEY, Context
from .control import PREFIX as CONTROL_PREFIX
from .control import control_app
from .control_interactions import add_routes as add_interaction_routes
from .faults import Faults
from .gateway import GatewayHub
from .journal import RequestRecord, Violation
from .models import Message
from .openapi import load_spec
from .page import Page
from .ratelimit import RateLimiter, RateLimits
from .rest import API_PREFIX, MAX_UPLOAD_BYTES, handle_api
from .world import World, default_world

DEFAULT_TOKEN = "sandbox-token"
_SHUTDOWN_TIMEOUT = 2.0
T = TypeVar("T")


class DiscordEmulator:
    """A fake Discord that a real discord.py client can log in to; one instance, one world."""

    def __init__(
        self,
        world: World | None = None,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: RateLimits | None = None,
        page_bot_http: str | None = None,
        shards: int = 1,
    ) -> None:
        """`shards`: the gateway shard count clients must IDENTIFY with (and `GET /gateway/bot` recommends)."""
        self.world = world if world is not None else default_world()
        self.token = token
        self.host = host
        self._wanted_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._ctx = Context(
            world=self.world,
            token=token,
            spec=load_spec(),
            limiter=RateLimiter(limits or RateLimits()),
            faults=Faults(),
            gateway=GatewayHub(self.world, token, shards),
        )
        self.page_bot_http = page_bot_http  # the bot's HTTP server, for the page's actor tree (None: unavailable)
        self.page = Page(self._ctx, lambda: self.page_bot_http)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind (port 0 picks a free port) and serve; returns once requests are accepted."""
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._wanted_port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._ctx.base_url = self.base_url
        self._ctx.gateway.resume_url = self.gateway_url
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def stop(self) -> None:
        """Close gateway connections, then the server; safe to call when not started."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self._ctx.gateway.close()
        await runner.cleanup()

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 10.0) -> EmulatorThread:
        """Run on a private event loop in a background thread (for synchronous tests)."""
        return EmulatorThread(self, timeout)

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app[CONTEXT_KEY] = self._ctx
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", handle_api)
        app.router.add_get("/gateway", self._ctx.gateway.handle)
        app.router.add_get(CDN_PATH, serve_attachment)
        control = control_app()
        add_interaction_routes(control)
        app.add_subapp(CONTROL_PREFIX, control)
        self.page.mount(app)
        return app

    # --- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + "/gateway"

    # --- inspection (call from the emulator's loop; see EmulatorThread.call otherwise) ----------

    def requests(self, *, channel_id: int | None = None, webhook_id: int | None = None) -> list[RequestRecord]:
        """Every answered REST request (time, status, 429 or not), oldest first."""
        return self.world.journal.requests(channel_id=channel_id, webhook_id=webhook_id)

    def violations(self) -> list[Violation]:
        return self.world.journal.violations()

    def messages(self, channel_id: int) -> list[Message]:
        return self.world.messages(channel_id)

    @property
    def connected_sessions(self) -> int:
        """Gateway sessions with a live websocket."""
        return self._ctx.gateway.connected_sessions

    def gateway_state(self) -> dict[str, Any]:
        """Down or not, sessions, connected sessions, IDENTIFYs waiting (as GET /_sandbox/gateway shows it)."""
        return self._ctx.gateway.view()

    def reconnect_gateway(self) -> None:
        """Send op 7 RECONNECT to every client, which then RESUMEs."""
        self._ctx.gateway.request_reconnect()

    # --- simulated third parties (call from the emulator's loop, or through EmulatorThread.call) --

    def proxy_message(
        self,
        channel_id: int,
        original_message_id: int,
        display_name: str,
        content: str,
        avatar_url: str | None = None,
        application_id: int | None = None,
    ) -> int:
        """Act as a proxy bot (see `World.add_proxy_app`): delete the human's message, repost it through the
        app's webhook as `display_name`; returns the new message's id. ValueError if it cannot be done."""
        message = proxies.proxy_message(
            self._ctx,
            channel_id,
            original_message_id,
            display_name,
            content,
            avatar_url=avatar_url,
            application_id=application_id,
        )
        return message.id


class EmulatorThread:
    """An emulator serving from its own event loop in a daemon thread; `stop()` shuts both down."""

    def __init__(self, emulator: DiscordEmulator, timeout: float = 10.0) -> None:
        self.emulator = emulator
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="discord-emulator", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("emulator thread did not start")
        if self._error is not None:
            self._thread.join(timeout)
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.emulator.start())
        except BaseException as exc:  # handed to the starting thread
            self._error = exc
            self._loop.close()
            return
        finally:
            self._started.set()
        self._loop.run_forever()
        self._loop.close()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the emulator's loop, where reading or changing the world is safe."""

        async def run() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(self._timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.emulator.stop(), self._loop).result(self._timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self._timeout)

    def __enter__(self) -> EmulatorThread:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self.emulator.base_url

    @property
    def api_base(self) -> str:
        return self.emulator.api_base

    @property
    def gateway_url(self) -> str:
        return self.emulator.gateway_url

    @property
    def port(self) -> int:
        return self.emulator.port

    def requests(self, *, channel_id: int | None = None, webhook_id: int | None = None) -> list[RequestRecord]:
        return self.call(lambda: self.emulator.requests(channel_id=channel_id, webhook_id=webhook_id))

    def violations(self) -> list[Violation]:
        return self.call(self.emulator.violations)

    def proxy_message(self, channel_id: int, original_message_id: int, display_name: str, content: str) -> int:
        """`DiscordEmulator.proxy_message`, run on the emulator's loop."""
        return self.call(self.emulator.proxy_message, channel_id, original_message_id, display_name, content)
