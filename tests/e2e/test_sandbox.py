"""`python bot.py sandbox`: everything local, as a newcomer runs it, answered and then stopped with Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from supervision.procs import descendants, pid_alive
from testkit.process import SandboxProcess, wait_for
from testkit.stack import Sandbox


@pytest.fixture
def sandbox_bot(tmp_path: Path) -> Iterator[SandboxProcess]:
    bot = SandboxProcess(tmp_path / "data", {"TZUROT_LIVENESS_PERIOD_S": "1"})
    try:
        yield bot
    finally:
        bot.stop()  # whatever is still running, by pid


def test_the_sandbox_answers_a_mention_and_ctrl_c_stops_every_process(sandbox_bot: SandboxProcess) -> None:
    bot = sandbox_bot.start()
    port = bot.port
    out = bot.output()
    assert f"sandbox ready: http://127.0.0.1:{port}" in out  # the one URL to open
    assert "AI: the local AI emulator" in out, out
    assert f"sandbox ready: http://127.0.0.1:{port}" in out
    assert "sandbox-token" not in out  # the token is never printed

    sandbox = Sandbox(f"http://127.0.0.1:{port}")
    try:
        general = sandbox.channel("general")
        trigger = sandbox.post(general, "alice", f"<@{sandbox.bot_id}> hi")
        reply = wait_for(lambda: sandbox.replies(general, trigger), what="the sandbox's reply in #general")
        assert len(reply) == 1
        assert reply[0]["webhook_id"] is not None and reply[0]["author"]["username"] == "Tzurot"
        # The local AI emulator answers "[<model>] <persona> heard: <text>"; the sandbox's model is its own.
        assert reply[0]["content"].startswith("[sandbox-model] ") and reply[0]["content"].endswith(" hi")
        assert sandbox.violations() == []
    finally:
        sandbox.http.close()

    assert bot.proc is not None
    pids = bot.logged_pids() | descendants(bot.proc.pid)
    assert len(bot.logged_pids()) >= 9  # root, admin, logger, 6 shards, registry (and the channel, user actors)
    os.killpg(bot.proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group gets SIGINT
    try:
        code = bot.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("the sandbox did not exit within 20 s of Ctrl-C:\n" + bot.output()[-3000:]) from None
    assert code == 0, bot.output()[-3000:]
    pids |= bot.logged_pids()  # anything that logged while stopping
    try:
        wait_for(lambda: not [p for p in pids if pid_alive(p)], timeout=5, what="every process of the sandbox to exit")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still running: {sorted(p for p in pids if pid_alive(p))}") from None
    assert "Traceback" not in bot.output(), bot.output()[-3000:]
