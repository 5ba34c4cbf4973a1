"""`python bot.py sandbox --port P` in a subprocess, for the browser tests (self-contained on purpose).

`stop()` is Ctrl-C (SIGINT), a wait, and then every process the sandbox started (its descendants and every
pid its supervisor log names) is made sure gone: whatever is still alive after a grace period is SIGKILLed
by pid.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.stack import free_port
from observability import jsonlog
from supervision.procs import descendants, pid_alive

ROOT = Path(__file__).resolve().parents[2]
READY = "sandbox ready"
# Settings that would point the sandbox somewhere else must not leak in from the environment.
FOREIGN = ("DISCORD_TOKEN", "DISCORD_API_BASE", "DISCORD_GATEWAY_URL", "AI_BASE_URL", "AI_API_KEY", "AI_MODEL",
           "TZUROT_CONFIG")


class SandboxProcess:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.data_dir = tmp / "data"
        self.env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
        self.env.update(
            TZUROT_DATA_DIR=str(self.data_dir),
            TZUROT_ACTOR_ADMIN_PORT=str(free_port()),
            TZUROT_HTTP_PORT=str(free_port()),
            PYTHONUNBUFFERED="1",
        )
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._changed = threading.Event()  # the ready line was printed, or the output ended
        self.pids: set[int] = set()

    def start(self, timeout: float = 60.0) -> SandboxProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py"), "sandbox", "--port", str(self.port)],
            cwd=ROOT, env=self.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._read, name="sandbox-output", daemon=True).start()
        if not self._changed.wait(timeout):
            raise AssertionError(f"the sandbox was not ready within {timeout}s:\n{self.output()[-3000:]}")
        if not any(READY in line for line in self.lines):
            raise AssertionError("the sandbox exited:\n" + self.output()[-3000:])
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if READY in line:
                self._changed.set()
        self._changed.set()

    def output(self) -> str:
        return "".join(self.lines)

    def _logged_pids(self) -> set[int]:
        pids = set()
        for record in jsonlog.read(self.data_dir / "supervisor.log"):
            pids.add(int(record["pid"]))
            pids.update(int(p) for p in re.findall(r"pid (\d+)", str(record.get("detail", ""))))
        return pids

    def stop(self, grace: float = 20.0) -> None:
        if self.proc is None:
            return
        self.pids |= descendants(self.proc.pid) | {self.proc.pid} | self._logged_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.pids |= self._logged_pids()
        self.pids.discard(os.getpid())
        deadline = time.monotonic() + 10
        while [p for p in self.pids if pid_alive(p)] and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the condition "every process has exited"
        for pid in [p for p in self.pids if pid_alive(p)]:
            os.kill(pid, signal.SIGKILL)
        self.proc = None
