"""`python bot.py logs`: the supervisor log and the events log, merged, filtered and made readable.

Both are JSON lines. A line about a message carries `user`, `channel` and `trigger` (the message id), so
`--user ID` or `--channel ID` tells one message's whole story: received, addressed, queued, AI call,
answered (and the ids of the replies sent) or the error and its reference id.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervision.log import LEVELS, readable

FILES = ("supervisor.log", "events.log")
_SINCE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_since(text: str) -> float:
    """`10m`, `2h`, `30s`, `1d` -> seconds; a clear ValueError for anything else."""
    match = _SINCE.match(text.strip())
    if not match:
        raise ValueError(f"--since takes a number and s, m, h or d (like 10m), not {text!r}")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


@dataclass(frozen=True)
class Filter:
    user: int | None = None
    channel: int | None = None
    since_s: float | None = None
    level: str = "debug"

    def keeps(self, record: dict[str, Any], now: float) -> bool:
        if LEVELS.index(str(record.get("level", "info"))) < LEVELS.index(self.level):
            return False
        if self.user is not None and record.get("user") != self.user and str(record.get("key")) != str(self.user):
            return False
        if self.channel is not None and record.get("channel") != self.channel and str(record.get("key")) != str(
            self.channel
        ):
            return False
        if self.since_s is not None:
            cutoff = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - self.since_s))
            if str(record.get("ts", "")) < cutoff:
                return False
        return True


def pretty(record: dict[str, Any]) -> str:
    ids = " ".join(f"{k}={record[k]}" for k in ("user", "channel", "trigger") if record.get(k) is not None)
    return readable(record) + (f"  [{ids}]" if ids else "")


def read_all(data_dir: Path) -> list[dict[str, Any]]:
    records = []
    for name in FILES:
        try:
            with open(data_dir / name, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        continue
        except FileNotFoundError:
            continue
    records.sort(key=lambda r: str(r.get("ts", "")))
    return records


def follow(data_dir: Path, poll_s: float = 0.5) -> Iterator[dict[str, Any]]:
    """New records as they are written to either file (like `tail -f`), until interrupted."""
    offsets = {name: (data_dir / name).stat().st_size if (data_dir / name).exists() else 0 for name in FILES}
    while True:
        fresh = []
        for name in FILES:
            path = data_dir / name
            if not path.exists():
                continue
            with open(path, encoding="utf-8") as fh:
                fh.seek(offsets[name])
                chunk = fh.read()
                complete = chunk[: chunk.rfind("\n") + 1]
                offsets[name] += len(complete.encode("utf-8"))
            for line in complete.splitlines():
                try:
                    fresh.append(json.loads(line))
                except ValueError:
                    continue
        yield from sorted(fresh, key=lambda r: str(r.get("ts", "")))
        time.sleep(poll_s)
