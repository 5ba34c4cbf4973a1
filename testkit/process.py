"""The real bot (`python bot.py run`, or `python bot.py sandbox`) in a subprocess, and making sure every process
it started is gone afterwards: the one launcher the end-to-end, browser and system tests and the benchmarks use.

The bot runs from this checkout (`bot.py` at its root, as its own directory on the path), in a session of its
own. `stop()` signals it, waits, and then waits for every process it started (its descendants, and every pid its
supervisor log names) to exit, killing by pid whatever is left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from edge.launch import free_port
from observability import jsonlog
from supervision.procs import descendants, pid_alive

ROOT = Path(__file__).resolve().parents[1]
# Settings that would point the sandbox somewhere else (a real AI, a real Discord) must not leak in from the
# environment the tests run in.
FOREIGN = ("DISCORD_TOKEN", "DISCORD_API_BASE", "DISCORD_GATEWAY_URL", "AI_BASE_URL", "AI_API_KEY", "AI_MODEL",
           "TZUROT_DATABASE_URL", "TZUROT_CONFIG")

__all__ = ["ROOT", "BotProcess", "SandboxProcess", "free_port", "pss_mb", "reap", "wait_for", "waiting"]


def waiting(timeout: float, what: str) -> Iterator[None]:
    """Yields until `timeout` seconds have passed, then fails naming `what`: the loop of every wait here."""
    deadline = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition",
             interval: float = 0.05) -> Any:
    """Poll until `condition()` is truthy (returning it) or fail after `timeout` seconds."""
    for _ in waiting(timeout, what):
        value = condition()
        if value:
            return value
        time.sleep(interval)


async def await_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition",
                    interval: float = 0.01) -> Any:
    """`wait_for` inside an event loop."""
    import asyncio

    for _ in waiting(timeout, what):
        value = condition()
        if value:
            return value
        await asyncio.sleep(interval)


def named_pids(records: Iterable[dict[str, Any]]) -> set[int]:
    """Every pid supervisor log records name: their writer's, a child's, and `pid N` in their detail."""
    pids: set[int] = set()
    for record in records:
        pids.add(int(record["pid"]))
        if record.get("child_pid"):
            pids.add(int(record["child_pid"]))
        pids.update(int(p) for p in re.findall(r"pid (\d+)", str(record.get("detail", ""))))
    return pids


def reap(pids: Iterable[int], patience_s: float, strict: bool = True, what: str = "every bot process to exit") -> None:
    """Wait for these processes to exit; SIGKILL (by pid) whatever is left, and fail when `strict`."""
    pids = set(pids) - {os.getpid()}

    def alive() -> list[int]:
        return [p for p in pids if pid_alive(p)]

    try:
        wait_for(lambda: not alive(), patience_s, what)
    except AssertionError:
        if strict:
            raise
    finally:
        for pid in alive():
            os.kill(pid, signal.SIGKILL)


def pss_mb(pids: set[int]) -> float:
    """Proportional set size of these processes together (shared pages split between their users)."""
    total_kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            continue
    return total_kb / 1024


class BotProcess:
    """`python bot.py <command>` with `env` over this environment and its data in `data_dir`."""

    command: tuple[str, ...] = ("run",)
    ready = "bot ready"
    drop: tuple[str, ...] = ()  # environment variables it must not inherit
    prefix: tuple[str, ...] = ()  # a command that runs it (`ip netns exec NS`: on another "host")

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        inherited = {k: v for k, v in os.environ.items() if k not in self.drop}
        self.env = {**inherited, **env, "TZUROT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.earlier = ""  # what earlier runs printed
        self.pids: set[int] = set()

    def spawn(self) -> subprocess.Popen[str]:
        """Start the process (in a session of its own); its output is collected in `lines`."""
        self.earlier += "".join(self.lines)  # a restart waits for its own ready line
        self.lines = []
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, str(ROOT / "bot.py"), *self.command], cwd=ROOT, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        return self.proc

    def run_to_end(self, timeout: float) -> int | None:
        """Spawn a bot that must stop by itself (a refused start); its exit status, None if it went on running
        (then `stop()` it). Everything it printed is in `output()`."""
        proc = self.spawn()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(10)
        return proc.returncode

    def start(self, timeout: float = 30.0) -> BotProcess:
        """Spawn, and wait for the ready line; a bot that exits instead fails with what it printed."""
        proc = self.spawn()
        try:
            wait_for(lambda: any(self.ready in line for line in self.lines) or proc.poll() is not None,
                     timeout, f"the bot to print {self.ready!r}")
        except AssertionError:
            self.stop()
            raise
        if proc.poll() is not None:
            raise AssertionError("the bot exited:\n" + self.output()[-3000:])
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def supervisor_log(self) -> list[dict[str, Any]]:
        return jsonlog.read(self.data_dir / "supervisor.log")

    def logged_pids(self) -> set[int]:
        """Every pid the supervisor log names (never this test process)."""
        return named_pids(self.supervisor_log()) - {os.getpid()}

    def live_pids(self) -> set[int]:
        """Every live process of the bot: itself, its descendants, and what its supervisor log names."""
        assert self.proc is not None
        pids = {self.proc.pid} | descendants(self.proc.pid) | self.logged_pids()
        return {p for p in pids if pid_alive(p)}

    def output(self) -> str:
        """Everything the bot printed, over all its runs."""
        return self.earlier + "".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, patience_s: float = 10.0, strict: bool = True) -> None:
        """Stop the bot; then every process it started must be gone within `patience_s` (else killed, and,
        when `strict`, reported as a failure)."""
        if self.proc is None:
            return
        self.pids |= descendants(self.proc.pid) | {self.proc.pid} | self.logged_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.pids |= self.logged_pids()  # anything that logged while stopping
        try:
            reap(self.pids, patience_s, strict)
        finally:
            self.proc = None


class SandboxProcess(BotProcess):
    """`python bot.py sandbox --port P`: the whole bot with its own emulators, as a newcomer runs it."""

    ready = "sandbox ready"
    drop = FOREIGN

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        super().__init__({"TZUROT_ACTOR_ADMIN_PORT": str(free_port()), "TZUROT_HTTP_PORT": str(free_port()),
                          **(env or {})}, data_dir)
        self.command = ("sandbox", "--port", str(self.port))

    def start(self, timeout: float = 60.0) -> SandboxProcess:
        super().start(timeout)
        return self

