"""The supervisor log (one JSON object per line, shared by every process) and the stable shard hash."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from observability.jsonlog import read, readable
from supervision.log import SupervisorLog
from supervision.sharding import shard_key, shard_of

REQUIRED = {"ts", "level", "event", "kind", "key", "pid", "detail"}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def fork(work: Callable[[], None]) -> int:
    """Run `work()` in a forked child that never returns into pytest; return the child's pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    return pid


def exit_code(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def write_at_once(log: SupervisorLog, each: int, pad: int, writers: int = 4) -> list[int]:
    """`writers` forked processes emit `each` records apiece into `log`, all at once; their exit codes."""

    def writer(n: int) -> None:
        for i in range(each):
            log.emit("info", "activated", "user", f"{n}-{i}", "x" * (i % pad), writer=n, seq=i)

    children = [fork(lambda n=n: writer(n)) for n in range(writers)]
    return [exit_code(pid) for pid in children]


# ---- emit ----------------------------------------------------------------------------------------


def test_each_emit_appends_one_json_line_with_the_standard_fields(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    log = SupervisorLog(path, echo=False)
    log.emit("error", "parked", "user", "42", "6 failures in 60s", supervisor="user/2", restarts=6)
    log.emit("info", "activated", "channel", "7")
    raw = lines(path)
    assert len(raw) == 2
    first, second = (json.loads(line) for line in raw)
    assert REQUIRED <= set(first)
    assert first["level"] == "error" and first["event"] == "parked"
    assert (first["kind"], first["key"]) == ("user", "42")
    assert first["pid"] == os.getpid()
    assert first["detail"] == "6 failures in 60s"
    assert first["supervisor"] == "user/2" and first["restarts"] == 6
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert second["detail"] == "" and REQUIRED <= set(second)
    assert read(path) == [first, second]


def test_detail_with_newlines_and_unicode_stays_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    log = SupervisorLog(path, echo=False)
    log.emit("error", "failed", "user", "42", "Traceback:\n  boom \u2014 caf\u00e9 \U0001f916", when=object())
    [record] = read(path)
    assert len(lines(path)) == 1
    assert record["detail"] == "Traceback:\n  boom \u2014 caf\u00e9 \U0001f916"
    assert record["when"].startswith("<object")  # anything not JSON is written as text, not an exception


def test_a_second_log_object_appends_rather_than_truncates(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    SupervisorLog(path, echo=False).emit("info", "started", "root", "")
    SupervisorLog(path, echo=False).emit("info", "stopped", "root", "")
    assert [r["event"] for r in read(path)] == ["started", "stopped"]


def test_echo_prints_the_readable_line_on_stderr_from_the_echo_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = SupervisorLog(tmp_path / "supervisor.log", echo=True, echo_level="warning")
    log.emit("info", "activated", "user", "1")
    log.emit("warning", "exited", "user", "2", "exit code 1")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "WARNING" in err[0] and "exited user/2" in err[0] and "exit code 1" in err[0]
    assert len(read(tmp_path / "supervisor.log")) == 2  # the file gets every level


def test_an_unwritable_log_never_raises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "supervisor.log"
    path.mkdir()  # a directory where the file should be: every write fails
    log = SupervisorLog(path, echo=True)
    log.emit("error", "failed", "user", "42", "the actor must not die of this")
    log.emit("info", "activated", "user", "42")
    err = capsys.readouterr().err
    assert "supervisor log unwritable" in err
    assert "failed user/42" in err  # people still see the event on stderr
    assert path.is_dir() and list(path.iterdir()) == []


def test_a_log_under_a_file_instead_of_a_directory_never_raises(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a directory")
    SupervisorLog(tmp_path / "data" / "supervisor.log", echo=False).emit("error", "failed", "user", "1")


# ---- readable and read ---------------------------------------------------------------------------


def test_readable_is_one_line_with_level_event_and_where() -> None:
    record = {
        "ts": "2024-05-01T12:00:01.123Z",
        "level": "error",
        "event": "parked",
        "kind": "user",
        "key": "42",
        "pid": 123,
        "detail": "6 failures in 60s",
    }
    text = readable(record)
    assert "\n" not in text
    assert text == "12:00:01.123 ERROR   parked user/42 pid=123: 6 failures in 60s"


def test_readable_of_an_emitted_record_without_detail(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    SupervisorLog(path, echo=False).emit("info", "started", "root", "")
    text = readable(read(path)[0])
    assert " INFO " in text and "started root " in text and text.endswith(f"pid={os.getpid()}")


def test_read_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    log = SupervisorLog(path, echo=False)
    log.emit("info", "activated", "user", "1")
    log.emit("info", "activated", "user", "2")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"ts": "2024-05-01T12:00:01.123Z", "level": "err')  # a writer killed mid-line
    records = read(path)
    assert [r["key"] for r in records] == ["1", "2"]


def test_read_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert read(tmp_path / "never-written.log") == []


# ---- many processes ------------------------------------------------------------------------------


def test_four_processes_writing_at_once_keep_every_line_whole(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.log"
    log = SupervisorLog(path, echo=False)
    log.emit("info", "started", "root", "")  # the parent's descriptor exists before the fork
    assert write_at_once(log, each=200, pad=50) == [0, 0, 0, 0]

    raw = lines(path)
    assert len(raw) == 801
    records = [json.loads(line) for line in raw]  # every line parses: none interleaved or torn
    by_writer = Counter(r.get("writer") for r in records[1:])
    assert by_writer == {0: 200, 1: 200, 2: 200, 3: 200}
    assert len({r["pid"] for r in records[1:]}) == 4 and os.getpid() not in {r["pid"] for r in records[1:]}
    for n in range(4):  # each process's lines are in its own order
        assert [r["seq"] for r in records if r.get("writer") == n] == list(range(200))


# ---- sharding ------------------------------------------------------------------------------------

KNOWN = [  # computed once: these must never change, or every actor's state would move to another shard
    ("42", 4, 2),
    ("42", 2, 0),
    ("42", 1000, 738),
    ("1100000000000000001", 4, 0),
    ("1100000000000000001", 1000, 936),
    ("user/7", 4, 3),
    ("user/7", 1000, 615),
    ("caf\u00e9", 4, 3),
    ("", 1000, 876),
]


@pytest.mark.parametrize(("key", "shards", "expected"), KNOWN)
def test_shard_of_gives_the_same_shard_as_always(key: str, shards: int, expected: int) -> None:
    assert shard_of(key, shards) == expected


def test_shard_of_is_the_same_in_a_forked_process(tmp_path: Path) -> None:
    keys = [str(1_100_000_000_000_000_000 + i) for i in range(50)]
    out = tmp_path / "child.json"

    def child() -> None:
        out.write_text(json.dumps([shard_of(k, 7) for k in keys]))

    assert exit_code(fork(child)) == 0
    assert json.loads(out.read_text()) == [shard_of(k, 7) for k in keys]


@pytest.mark.parametrize(
    "make_key",
    [lambda i: str(1_100_000_000_000_000_000 + i * 4_194_304), lambda i: str(i)],
    ids=["snowflakes", "small-ints"],
)
def test_shard_of_spreads_10000_keys_within_10_percent_of_even(make_key: Callable[[int], str]) -> None:
    counts = Counter(shard_of(make_key(i), 4) for i in range(10_000))
    assert set(counts) == {0, 1, 2, 3}
    for shard, n in counts.items():
        assert 2250 <= n <= 2750, (shard, counts)


def test_shard_of_with_one_shard_is_always_zero() -> None:
    assert {shard_of(str(i), 1) for i in range(100)} == {0}


def test_shard_key_names_the_supervisor() -> None:
    assert shard_key("user", 3) == "user/3"


def test_readable_line_of_a_supervisor_about_a_child_names_the_childs_pid_not_the_supervisors() -> None:
    record = {
        "ts": "2024-05-01T12:00:01.123Z",
        "level": "warning",
        "event": "exited",
        "kind": "user",
        "key": "42",
        "pid": 11500,  # the supervisor that wrote the record
        "child_pid": 11525,
        "supervisor": "user/1",
        "detail": "killed by signal 9",
    }
    text = readable(record)
    assert text == "12:00:01.123 WARNING exited user/42 pid=11525: killed by signal 9  (supervisor user/1 pid 11500)"
    assert "pid=11500" not in text


def test_readable_line_about_a_child_whose_pid_is_unknown_names_no_pid_for_it() -> None:
    record = {"ts": "2024-05-01T12:00:01.123Z", "level": "warning", "event": "exited", "kind": "user", "key": "42",
              "pid": 11500, "supervisor": "user/1", "detail": "exited (status unknown)"}
    assert readable(record) == (
        "12:00:01.123 WARNING exited user/42: exited (status unknown)  (supervisor user/1 pid 11500)"
    )
