"""A log file of JSON lines shared by many processes: one object per line for tools, a readable line on stderr for
people. The supervisor log (supervision/log.py) and the application's event log (observability/events.py) are
two such files, read together by `bot.py logs`.

Every process of the tree appends to the same file. Each record is written with a single `write` on a file
opened with O_APPEND, which keeps lines whole when several processes write at once.

The file is rotated by size (`max_bytes`, keeping `keep` older files: name.1 the newest, name.N the oldest), by
whichever process is about to push it over the limit, under an flock on `name.lock` so that one process
rotates at a time. A process notices that its file was rotated away by the file's size (an fstat before each
write, no stat of the path): a rotated file is full, so its next record does not fit, and it reopens the
current file then. Renaming never touches a record already written, so none is lost, torn or duplicated.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
DEFAULT_MAX_BYTES = 10_000_000  # TZUROT_LOG_MAX_BYTES
DEFAULT_KEEP = 5  # TZUROT_LOG_KEEP


class JsonLinesLog:
    """Appends records to one rotating JSON-lines file; safe to share across processes and forks."""

    WHAT = "log"  # what the file is, for the one line printed when it cannot be written

    def __init__(
        self,
        path: Path | str,
        echo: bool = True,
        echo_level: str = "info",
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
    ) -> None:
        self.path = Path(path)
        self.echo = echo
        self._echo_from = LEVELS.index(echo_level)
        self.max_bytes, self.keep = max_bytes, max(1, keep)
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
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
        try:
            os.write(self._file(len(line)), line)
        except OSError as exc:  # the log must never take an actor down
            print(f"{self.WHAT} unwritable: {exc}", file=sys.stderr)
        if self.echo and LEVELS.index(level) >= self._echo_from:
            print(readable(record), file=sys.stderr, flush=True)

    def _file(self, incoming: int) -> int:
        """The descriptor to append `incoming` bytes to: rotated first if they would push the file over."""
        if self._fd is None or self._pid != os.getpid():
            self._open()
        assert self._fd is not None
        st = os.fstat(self._fd)
        if st.st_nlink == 0 or (st.st_size > 0 and st.st_size + incoming > self.max_bytes):
            self._rotate(incoming)
        return self._fd

    def _open(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)  # a forked child keeps the parent's descriptor number open: leave it
        self._fd = None
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._pid = os.getpid()

    def _rotate(self, incoming: int) -> None:
        """Under the lock: if the path still names our full file, shift name -> name.1 -> ... -> name.keep;
        then (also when another process rotated it first) reopen the path."""
        with _locked(self.path, fcntl.LOCK_EX):
            assert self._fd is not None
            mine = os.fstat(self._fd)
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            if (
                current is not None
                and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino)
                and current.st_size > 0
                and current.st_size + incoming > self.max_bytes
            ):
                for n in range(self.keep - 1, 0, -1):
                    older = self.path.with_name(f"{self.path.name}.{n}")
                    if older.exists():
                        os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
                os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
            self._open()


class _locked:
    """flock on the sidecar `name.lock` (0600): one rotation at a time, and readers see no half-done one."""

    def __init__(self, path: Path, how: int) -> None:
        self.lock_path, self.how = path.with_name(path.name + ".lock"), how
        self.fd: int | None = None

    def __enter__(self) -> None:
        flags = os.O_RDWR | os.O_CREAT if self.how == fcntl.LOCK_EX else os.O_RDONLY
        try:
            self.fd = os.open(self.lock_path, flags | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:  # a reader before any rotation: nothing to wait for
            return
        fcntl.flock(self.fd, self.how)

    def __exit__(self, *_: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the flock


def generations(path: Path) -> list[Path]:
    """The log's files, oldest first: name.N ... name.1 (rotated), then name itself (those that exist)."""
    rotated = [(int(p.name.rsplit(".", 1)[1]), p) for p in path.parent.glob(path.name + ".*")
               if p.name.rsplit(".", 1)[1].isdigit()]
    return [p for _, p in sorted(rotated, reverse=True)] + ([path] if path.exists() else [])


def open_generations(path: Path) -> list[Any]:
    """The log's files, oldest first, opened (binary) while no rotation is half done: read them at leisure."""
    out = []
    with _locked(path, fcntl.LOCK_SH):
        for p in generations(path):
            try:
                out.append(open(p, "rb"))  # noqa: SIM115 - the caller closes them
            except FileNotFoundError:
                continue
    return out


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
