"""Small measuring tools the scenarios share: percentiles, message times, CPU (memory: testkit.process.pss_mb)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def snowflake_ms(snowflake: int | str) -> int:
    return (int(snowflake) >> 22) + DISCORD_EPOCH_MS


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
