"""The supervisor log: one JSON object per line for tools, and a readable line on stderr for people.

Every process of the tree appends to the same file. Each record is written with a single `write` on a file
opened with O_APPEND, which keeps lines whole when several processes write at once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

LEVELS = ("debug", "info", "warning", "error")


class SupervisorLog:
    def __init__(self, path: Path | str, echo: bool = True, echo_level: str = "info") -> None:
        self.path = Path(path)
        self.echo = echo
        self._echo_from = LEVELS.index(echo_level)
        self._fd: int | None = None
        self._pid = 0

    def emit(self, level: str, event: str, kind: str, key: str, detail: str = "", **extra: Any) -> None:
        now = time.time()
        record = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
            "level": level,
            "event": event,
            "kind": kind,
            "key": key,
            "pid": os.getpid(),
            "detail": detail,
            **extra,
        }
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        try:
            os.write(self._file(), line.encode())
        except OSError as exc:  # the log must never take an actor down
            print(f"supervisor log unwritable: {exc}", file=sys.stderr)
        if self.echo and LEVELS.index(level) >= self._echo_from:
            print(readable(record), file=sys.stderr, flush=True)

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd


def readable(record: dict[str, Any]) -> str:
    """`12:00:01.123 ERROR   parked user/42 pid=123: 6 failures in 60s` — the one-line form for people.

    `pid=` is always the process of the actor named: a supervisor's record about a child names the child's
    process (`child_pid`, absent when unknown) and ends with the supervisor, `(supervisor user/1 pid 99)`."""
    ts = str(record.get("ts", ""))[11:23]
    where = f"{record.get('kind', '')}/{record.get('key', '')}".strip("/")
    detail = f": {record['detail']}" if record.get("detail") else ""
    level = str(record.get("level", "")).upper()
    head = f"{ts} {level:7} {record.get('event', '')} {where}"
    if "supervisor" not in record:
        return f"{head} pid={record.get('pid')}{detail}"
    child = f" pid={record['child_pid']}" if record.get("child_pid") else ""
    return f"{head}{child}{detail}  (supervisor {record['supervisor']} pid {record.get('pid')})"


def read(path: Path | str) -> list[dict[str, Any]]:
    """Every record in the log, skipping a torn last line."""
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        return []
    return out
