"""Two processes keep one bot-wide Discord budget (issue 14): the real REST client in each, one Discord emulator.

Each process offers 40 requests a second, so alone each would stay under Discord's 50/s, and together they
would send 80/s. Sharing one budget cell (a PostgreSQL row, or on one host the data directory's file), the
emulator sees no global 429 and the two together still use most of the budget (TZUROT_DISCORD_GLOBAL_RATE,
40/s). The control gives each process its own budget: then the emulator answers global 429s, which shows the
first two cases would notice a budget that is not shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.discord import DiscordEmulator
from emulator.discord.server import DEFAULT_TOKEN
from testkit.stack import in_thread

RATE, SECONDS, GATE_RATE = 40.0, 4.0, 40.0
ROOT = Path(__file__).resolve().parents[2]


def _send_together(api_base: str, channels: list[int], envs: list[dict[str, str]]) -> list[dict[str, int]]:
    """Start one sender per env at the same instant; their counts."""
    start_at = time.time() + 2.0  # both have imported and connected by then
    procs = []
    for channel, env in zip(channels, envs, strict=True):
        full = {**os.environ, "DISCORD_API_BASE": api_base, "DISCORD_TOKEN": DEFAULT_TOKEN,
                "TZUROT_DISCORD_GLOBAL_RATE": str(GATE_RATE), **env}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "testkit.sender", "--rate", str(RATE), "--seconds", str(SECONDS),
             "--channel", str(channel), "--start-at", str(start_at)],
            cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=SECONDS + 60)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _run(tmp_path: Path, shared: dict[str, str] | None) -> tuple[list[dict[str, int]], list[Any]]:
    """Two senders against a fresh emulator: sharing `shared` (env), or each with its own data dir when None."""
    emulator = DiscordEmulator()
    with in_thread(emulator) as handle:
        channels = handle.call(lambda: [c.id for c in emulator.world.channels.values() if not c.is_dm][:2])
        envs = []
        for i in range(2):
            data_dir = tmp_path / ("shared" if shared is not None else f"own{i}")
            envs.append({"TZUROT_DATA_DIR": str(data_dir), **(shared or {})})
        counts = _send_together(emulator.api_base, channels, envs)
        records = handle.call(emulator.requests)
    return counts, records


def _global_429s(records: list[Any]) -> int:
    return sum(1 for r in records if r.rate_limited and r.scope == "global")


def _check_shared(counts: list[dict[str, int]], records: list[Any]) -> None:
    assert _global_429s(records) == 0, counts
    sent = sum(c["ok"] for c in counts)
    assert sent <= GATE_RATE * SECONDS + 10  # never past the budget (a burst and the edges of the run)
    assert sent >= GATE_RATE * SECONDS * 0.75, counts  # and the budget is used, not wasted on waiting
    assert all(c["ok"] >= GATE_RATE * SECONDS * 0.25 for c in counts), counts  # both got a fair part of it


def test_two_processes_share_one_budget_in_postgresql(tmp_path: Path, postgres_url: str) -> None:
    counts, records = _run(tmp_path, {"TZUROT_DATABASE_URL": postgres_url})
    _check_shared(counts, records)
    assert not (tmp_path / "shared" / "discord-gate").exists()  # the budget lived in the database


def test_two_processes_share_one_budget_in_the_data_directory(tmp_path: Path) -> None:
    counts, records = _run(tmp_path, {})
    _check_shared(counts, records)


def test_control_separate_budgets_draw_global_429s(tmp_path: Path) -> None:
    counts, records = _run(tmp_path, None)
    assert _global_429s(records) > 0, counts
    assert sum(c["global_429"] for c in counts) > 0


@pytest.fixture(autouse=True)
def _no_database_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZUROT_DATABASE_URL", raising=False)
