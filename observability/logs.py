"""`python bot.py logs`: the supervisor log and the events log, merged, filtered and made readable.

Both are JSON lines. A line about a message carries `user`, `channel` and `trigger` (the message id), so
`--user ID` or `--channel ID` tells one message's whole story: received, addressed, queued, AI call,
answered (and the ids of the replies sent) or the error and its reference id.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from observability.events import FILE as EVENTS_FILE
from observability.jsonlog import LEVELS, open_generations, readable

FILES = ("supervisor.log", EVENTS_FILE)
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


def _records(data: bytes) -> list[dict[str, Any]]:
    out = []
    for line in data.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a torn last line (a writer killed mid-write), or not ours
            continue
    return out


def read_all(data_dir: Path) -> list[dict[str, Any]]:
    """Every record of both logs, their rotated files included (oldest first), merged by time."""
    records = []
    for name in FILES:
        for fh in open_generations(data_dir / name):
            with fh:
                records += _records(fh.read())
    records.sort(key=lambda r: str(r.get("ts", "")))
    return records


class Tail:
    """New complete lines of one log as it grows (like `tail -F`). When the file is rotated (the path names
    another file), the rest of the old one is read first, then the new one from its start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: Any = None
        self.pending = b""
        self._reopen(at_end=True)

    def _reopen(self, at_end: bool) -> None:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open across polls
        except FileNotFoundError:
            return
        if self.fh is not None:
            self.fh.close()
        self.fh, self.pending = fh, b""
        if at_end:
            fh.seek(0, 2)

    def poll(self) -> list[dict[str, Any]]:
        if self.fh is None:
            self._reopen(at_end=False)  # the log did not exist yet: all of it is new
            if self.fh is None:
                return []
        out = self._complete(self.fh.read())
        if self._rotated():
            out += self._complete(self.fh.read())  # the old file's last records, up to the rename
            self._reopen(at_end=False)
            out += self._complete(self.fh.read())
        return out

    def _rotated(self) -> bool:
        try:
            now = os.stat(self.path)
        except FileNotFoundError:  # between the renames of a rotation: look again next time
            return False
        mine = os.fstat(self.fh.fileno())
        return (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino)

    def _complete(self, data: bytes) -> list[dict[str, Any]]:
        data, self.pending = self.pending + data, b""
        cut = data.rfind(b"\n") + 1
        self.pending = data[cut:]
        return _records(data[:cut])


def follow(data_dir: Path, poll_s: float = 0.5) -> Iterator[dict[str, Any]]:
    """New records as they are written to either log (like `tail -F`, across rotations), until interrupted."""
    tails = [Tail(data_dir / name) for name in FILES]
    return _follow(tails, poll_s)


def _follow(tails: list[Tail], poll_s: float) -> Iterator[dict[str, Any]]:
    while True:
        fresh = [record for tail in tails for record in tail.poll()]
        yield from sorted(fresh, key=lambda r: str(r.get("ts", "")))
        time.sleep(poll_s)
