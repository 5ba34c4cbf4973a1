"""The logs stay bounded: supervisor.log and events.log (written by every process at once) rotate by size into
numbered files, keeping TZUROT_LOG_KEEP of them; actors.log and thespian.log are bounded too; and `bot.py logs`
reads across rotations, `--follow` included."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

import config
from observability.events import EventLog
from observability.logs import read_all
from supervision.log import SupervisorLog
from supervision.runtime import log_defs
from testkit.process import wait_for
from tests.unit.test_supervisor_log import exit_code, fork, write_at_once

ROOT = Path(__file__).resolve().parents[2]


def generations(path: Path) -> list[Path]:
    """The log and its rotated files, oldest first (name.N ... name.1, name), as an operator lists them."""
    rotated = [p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()]
    return sorted(rotated, key=lambda p: -int(p.suffix[1:])) + ([path] if path.exists() else [])


def records(files: list[Path]) -> list[dict]:
    """Every record of the files in order; every line must be a whole JSON object (none torn or interleaved)."""
    return [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]


# ---- one writer ----------------------------------------------------------------------------------------


def test_writing_past_the_limit_rotates_into_numbered_files_keeping_keep(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    log = SupervisorLog(path, echo=False, max_bytes=2_000, keep=3)
    for i in range(100):
        log.emit("info", "activated", "user", str(i), "x" * 50)
    files = generations(path)
    assert [f.name for f in files] == ["supervisor.log.3", "supervisor.log.2", "supervisor.log.1", "supervisor.log"]
    assert all(f.stat().st_size <= 2_000 for f in files), [f.stat().st_size for f in files]
    kept = [int(r["key"]) for r in records(files)]
    assert kept == list(range(kept[0], 100))  # the newest records, in order, none missing in between
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)


def test_a_writer_whose_file_was_rotated_away_reopens_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    idle = SupervisorLog(path, echo=False, max_bytes=1_000, keep=2)
    idle.emit("info", "first", "user", "1")  # its descriptor now names the first file
    busy = SupervisorLog(path, echo=False, max_bytes=1_000, keep=2)  # another descriptor, as another process has
    for i in range(60):
        busy.emit("info", "busy", "user", str(i))  # many rotations: idle's file is long deleted
    idle.emit("info", "late", "user", "1")
    assert "late" in [r["event"] for r in records([path])]
    idle.emit("info", "later", "user", "1")
    assert [r["event"] for r in records([path])][-2:] == ["late", "later"]
    assert len(generations(path)) <= 3


def test_the_default_limits_are_the_documented_settings(tmp_path: Path) -> None:
    settings = config.load({})
    assert (settings.log_max_bytes, settings.log_keep) == (10_000_000, 5)
    log = SupervisorLog(tmp_path / "supervisor.log")
    assert (log.max_bytes, log.keep) == (settings.log_max_bytes, settings.log_keep)
    tuned = config.load({"TZUROT_LOG_MAX_BYTES": "200000", "TZUROT_LOG_KEEP": "2"})
    assert (tuned.log_max_bytes, tuned.log_keep) == (200_000, 2)


def test_bad_log_limits_are_refused_naming_the_variable() -> None:
    for variable, value in [("TZUROT_LOG_MAX_BYTES", "0"), ("TZUROT_LOG_MAX_BYTES", "1k"),
                            ("TZUROT_LOG_MAX_BYTES", "100"), ("TZUROT_LOG_KEEP", "0"), ("TZUROT_LOG_KEEP", "-1")]:
        with pytest.raises(config.ConfigError, match=f"^{variable}:"):
            config.load({variable: value})


# ---- many processes ------------------------------------------------------------------------------------


def test_many_processes_rotating_at_once_keep_every_record_exactly_once_and_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    log = SupervisorLog(path, echo=False, max_bytes=4_000, keep=500)  # keep all: every record must be found
    log.emit("info", "started", "root", "")
    assert write_at_once(log, each=300, pad=40) == [0, 0, 0, 0]

    files = generations(path)
    assert len(files) > 20  # it did rotate, many times, under all four writers
    found = records(files)
    assert Counter((r.get("writer"), r.get("seq")) for r in found[1:]) == {
        (n, i): 1 for n in range(4) for i in range(300)
    }
    for n in range(4):  # a writer only ever moves on to newer files: its records stay in order
        assert [r["seq"] for r in found if r.get("writer") == n] == list(range(300))
    longest = max(len(line) + 1 for f in files for line in f.read_text().splitlines())
    assert max(f.stat().st_size for f in files) <= 4_000 + 4 * longest  # at most a record per racing writer over


def test_many_processes_rotating_at_once_leave_at_most_keep_plus_one_files(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    log = SupervisorLog(path, echo=False, max_bytes=2_000, keep=2)

    def writer(n: int) -> None:
        for i in range(200):
            log.emit("info", "activated", "user", f"{n}-{i}", writer=n, seq=i)

    children = [fork(lambda n=n: writer(n)) for n in range(4)]
    assert [exit_code(pid) for pid in children] == [0, 0, 0, 0]
    log_files = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert log_files == ["supervisor.log", "supervisor.log.1", "supervisor.log.2"]
    assert len(records(generations(path))) > 20  # whole lines only


# ---- reading: bot.py logs ------------------------------------------------------------------------------


def line(ts: str, event: str) -> str:
    return json.dumps({"ts": f"2026-01-02T10:00:{ts}Z", "level": "info", "event": event, "kind": "user",
                       "key": "1", "pid": 1, "detail": ""}) + "\n"


def test_read_all_reads_the_rotated_files_oldest_first_merged_by_time(tmp_path: Path) -> None:
    (tmp_path / "supervisor.log.2").write_text(line("00.000", "s-oldest"))
    (tmp_path / "supervisor.log.1").write_text(line("02.000", "s-older"))
    (tmp_path / "supervisor.log").write_text(line("04.000", "s-newest"))
    (tmp_path / "events.log.1").write_text(line("01.000", "e-older") + line("02.000", "e-same-second"))
    (tmp_path / "events.log").write_text(line("03.000", "e-newest"))
    (tmp_path / "supervisor.log.lock").write_text("")  # the rotation lock is no log
    events = [r["event"] for r in read_all(tmp_path)]
    assert events == ["s-oldest", "e-older", "s-older", "e-same-second", "e-newest", "s-newest"]


def test_read_all_after_a_real_rotation_has_every_kept_record(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.log", echo=False, max_bytes=1_500, keep=50)
    for i in range(40):
        log.emit("info", "said", "user", str(i))
    assert len(generations(tmp_path / "events.log")) > 3
    assert [int(r["key"]) for r in read_all(tmp_path)] == list(range(40))


class Follower:
    """`python bot.py logs --follow` as an operator runs it; its output lines collected by a thread."""

    def __init__(self, data_dir: Path) -> None:
        env = {**os.environ, "TZUROT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "logs", "--follow"], cwd=ROOT, env=env,
                                     text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self.lines.append(text)

    def saw(self, event: str) -> bool:
        return any(f" {event} " in text for text in self.lines)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.reader.join(timeout=10)


def test_follow_keeps_following_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    path.write_text(line("00.000", "before_start"))
    follower = Follower(tmp_path)
    try:
        wait_for(lambda: follower.saw("before_start") or follower.proc.poll() is not None, 20, "the logs so far")

        def probe_seen() -> bool:  # written after the logs so far were read: shown only once it is following
            if follower.saw("probe") or follower.proc.poll() is not None:
                return True
            with open(path, "a") as fh:
                fh.write(line("01.000", "probe"))
            return False

        wait_for(probe_seen, 20, "the follower to show a probe")
        assert follower.proc.poll() is None, "".join(follower.lines)
        with open(path, "a") as fh:
            fh.write(line("10.000", "last_in_old_file"))
        os.rename(path, tmp_path / "supervisor.log.1")  # what a rotation does
        with open(path, "w") as fh:
            fh.write(line("11.000", "first_in_new_file"))
        with open(tmp_path / "supervisor.log.1", "a") as fh:  # a writer that has not noticed yet
            fh.write(line("11.500", "late_in_old_file"))
        wait_for(lambda: follower.saw("first_in_new_file"), 10, "the first record of the new file")
        with open(path, "a") as fh:
            fh.write(line("12.000", "second_in_new_file"))
        wait_for(lambda: follower.saw("second_in_new_file"), 10, "the next record of the new file")
        assert follower.saw("last_in_old_file")
        events = [text.split()[2] for text in follower.lines]
        for event in ("before_start", "last_in_old_file", "first_in_new_file", "second_in_new_file"):
            assert events.count(event) == 1, (event, events)
    finally:
        follower.stop()


# ---- actors.log and thespian.log -----------------------------------------------------------------------


def test_actors_log_is_written_through_a_rotating_handler_with_the_same_limits(tmp_path: Path) -> None:
    defs = log_defs(tmp_path, max_bytes=2_000, keep=2)
    handler = defs["handlers"]["file"]
    assert handler["class"] == "logging.handlers.RotatingFileHandler"
    assert (handler["maxBytes"], handler["backupCount"]) == (2_000, 2)
    assert handler["filename"] == str(tmp_path / "actors.log")
    # Applied the way Thespian's logger process applies it (dictConfig), on a logger of its own here.
    root = defs.pop("root")
    defs["loggers"] = {"actors-test": {**root, "propagate": False}}
    logging.config.dictConfig(defs)
    logger = logging.getLogger("actors-test")
    try:
        for i in range(200):
            logger.warning("line %d %s", i, "x" * 40)
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
            h.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["actors.log", "actors.log.1", "actors.log.2"]
    assert all((tmp_path / n).stat().st_size <= 2_000 for n in names)
