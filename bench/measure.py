"""Small measuring tools the scenarios share: percentiles, message times, process memory and CPU."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from supervision.procs import descendants, pid_alive

DISCORD_EPOCH_MS = 1_420_070_400_000


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def snowflake_ms(snowflake: int | str) -> int:
    return (int(snowflake) >> 22) + DISCORD_EPOCH_MS


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


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bot_pids(stack: Any) -> set[int]:
    """Every live process of the bot: the edge, its descendants, and what its supervisor log names."""
    pids = {stack.bot.proc.pid} | descendants(stack.bot.proc.pid)
    for record in stack.bot.supervisor_log():
        pids.add(int(record["pid"]))
        pids.update(int(p) for p in re.findall(r"pid (\d+)", str(record.get("detail", ""))))
    return {p for p in pids if p != os.getpid() and pid_alive(p)}


def activation_ms(stack: Any, kind: str = "user") -> list[float]:
    out = []
    for record in stack.bot.supervisor_log():
        if record.get("event") == "activated" and record.get("kind") == kind:
            match = re.search(r"in (\d+) ms", str(record.get("detail", "")))
            if match:
                out.append(float(match.group(1)))
    return out


def scratch_dir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
