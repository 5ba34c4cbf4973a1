"""The real bot (`python bot.py run`) in a subprocess, pointed at emulators this test process owns.

The emulators run here, in threads; the bot is a separate process, so it starts its actor system before
any thread of its own exists, exactly as in production. `stop()` sends SIGTERM, waits, and then makes sure
every process the bot started (all pids its supervisor log names, and its descendants) is gone.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from edge.app import free_port
from observability import jsonlog
from supervision.procs import descendants, pid_alive

ROOT = Path(__file__).resolve().parents[1]


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)



class BotProcess:
    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.env = {**os.environ, **env, "TZUROT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.pids: set[int] = set()

    def start(self, ready: str = "bot ready", timeout: float = 30.0) -> BotProcess:
        self.earlier = getattr(self, "earlier", "") + "".join(self.lines)  # a restart waits for its own line
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py"), "run"], cwd=ROOT, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        try:
            wait_for(lambda: any(ready in line for line in self.lines) or self.proc.poll() is not None,
                     timeout, "the bot to connect")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise AssertionError("the bot exited:\n" + "".join(self.lines[-30:]))
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def supervisor_log(self) -> list[dict[str, Any]]:
        return jsonlog.read(self.data_dir / "supervisor.log")

    def output(self) -> str:
        """Everything the bot printed, over all its runs."""
        return getattr(self, "earlier", "") + "".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, patience_s: float = 10.0, strict: bool = True) -> None:
        """Stop the bot; then every process it started must be gone within `patience_s` (else killed, and,
        when `strict`, reported as a failure)."""
        if self.proc is None:
            return
        self.pids |= descendants(self.proc.pid) | {self.proc.pid}
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for record in self.supervisor_log():
            self.pids.add(int(record["pid"]))
            self.pids.update(int(p) for p in re.findall(r"pid (\d+)", str(record.get("detail", ""))))
        self.pids.discard(os.getpid())
        try:
            wait_for(lambda: not [p for p in self.pids if pid_alive(p)], patience_s, "every bot process to exit")
        except AssertionError:
            if strict:
                raise
        finally:
            for pid in [p for p in self.pids if pid_alive(p)]:
                os.kill(pid, signal.SIGKILL)
        self.proc = None


class Sandbox:
    """Talks to the Discord emulator's control API the way a test or the benchmark does."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.state = self.http.get("/_sandbox/state").json()

    def channel(self, name: str) -> int:
        for guild in self.state["guilds"]:
            for ch in guild["channels"]:
                if ch["name"] == name:
                    return int(ch["id"])
        raise KeyError(name)

    def user(self, name: str) -> int:
        return next(int(u["id"]) for u in self.state["users"] if u["username"] == name)

    def dm(self, name: str) -> int:
        uid = self.user(name)
        return next(int(d["id"]) for d in self.state["dm_channels"] if int(d["user_id"]) == uid)

    @property
    def bot_id(self) -> int:
        return next(int(u["id"]) for u in self.state["users"] if u["bot"])

    def post(
        self, channel_id: int, author: str, content: str, reply_to: int | None = None,
        attachments: list[dict[str, str]] | None = None,
    ) -> int:
        body: dict[str, Any] = {
            "channel_id": str(channel_id),
            "author": {"id": str(self.user(author)), "username": author},
            "content": content,
        }
        if reply_to is not None:
            body["reply_to"] = str(reply_to)
        if attachments:
            body["attachments"] = attachments
        response = self.http.post("/_sandbox/messages", json=body)
        response.raise_for_status()
        return int(response.json()["id"])

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        return self.http.get(f"/_sandbox/channels/{channel_id}/messages").json()

    def replies(self, channel_id: int, after: int) -> list[dict[str, Any]]:
        """Messages the bot (or its webhooks) posted after message `after`."""
        return [m for m in self.messages(channel_id) if int(m["id"]) > after and m["author"]["bot"]]

    def violations(self) -> list[dict[str, Any]]:
        return self.http.get("/_sandbox/violations").json()

    def fault(self, **fault: Any) -> None:
        self.http.post("/_sandbox/faults", json=fault).raise_for_status()


class Stack:
    """The Discord and AI emulators in this process, the real bot in a subprocess: what tests and benchmarks
    drive over the real interfaces (the control API, the gateway, the bot's HTTP server)."""

    def __init__(
        self,
        data_dir: Path,
        world: Any = None,
        env: dict[str, str] | None = None,
        ai_max_concurrent: int | None = None,
        discord_limits: Any = None,
    ) -> None:
        from emulator.ai import AIEmulator
        from emulator.discord import DiscordEmulator

        self.discord = DiscordEmulator(world=world, limits=discord_limits).start_in_thread()
        self.ai = AIEmulator(max_concurrent=ai_max_concurrent).start_in_thread()
        self.http_port = free_port()
        self.bot = BotProcess(
            {
                "DISCORD_TOKEN": "sandbox-token",
                "DISCORD_API_BASE": self.discord.api_base,
                "DISCORD_GATEWAY_URL": self.discord.gateway_url,
                "AI_BASE_URL": self.ai.base_url,
                "AI_MODEL": "e2e-model",
                "TZUROT_ACTOR_ADMIN_PORT": str(free_port()),
                "TZUROT_LIVENESS_PERIOD_S": "1",
                "TZUROT_HTTP_PORT": str(self.http_port),
                **(env or {}),
            },
            data_dir,
        )
        self.sandbox = Sandbox(self.discord.base_url)

    def start(self) -> Stack:
        self.bot.start()
        return self

    def status(self) -> dict[str, Any]:
        return httpx.get(f"http://127.0.0.1:{self.http_port}/status", timeout=30).json()

    def stop(self, strict: bool = True) -> list[dict[str, Any]]:
        """Stop everything; returns the emulator's recorded violations of Discord's rules. The emulators stop
        even when the bot was slow to go (their threads must not outlive the test)."""
        try:
            self.bot.stop(patience_s=30.0 if strict else 60.0, strict=strict)
        finally:
            problems = self.sandbox.violations()
            self.ai.stop()
            self.discord.stop()
        return problems
