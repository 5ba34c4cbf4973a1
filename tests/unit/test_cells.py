"""Shared cells (store/cells.py): one contract, three places (a file, a PostgreSQL row, memory).

What a caller relies on: an update sees the last value written by anyone and nobody else's update in between,
even from other processes; a step that answers None changes nothing; a status read never creates the cell.
The Discord gate and the AI breaker are checked on a PostgreSQL cell too (their file runs are in
test_discord_shaping.py and test_breaker.py).
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ai.breaker import CLOSED, OPEN, SharedBreaker
from discord_rest.gate import GlobalGate
from discord_rest.invalid import InvalidRequests, read_invalid
from store.cells import Cell, FileCell, MemoryCell, PostgresCell, open_cell

COUNTER = struct.Struct("<q")


def increment(raw: bytes) -> tuple[bytes, int]:
    n = (COUNTER.unpack(raw)[0] if raw else 0) + 1
    return COUNTER.pack(n), n


class _Settings:
    def __init__(self, data_dir: Path, database_url: str = "") -> None:
        self.data_dir, self.database_url, self.database_idle_s = data_dir, database_url, 10.0


@pytest.fixture(params=["file", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Cell]]:
    """Opens a cell by name, as every process of one bot would (fresh per test)."""
    if request.param == "file":
        yield lambda name: open_cell(_Settings(tmp_path), name)
        return
    url = request.getfixturevalue("postgres_url")
    yield lambda name: open_cell(_Settings(tmp_path, url), name)


def test_open_cell_follows_the_settings(tmp_path: Path) -> None:
    assert isinstance(open_cell(_Settings(tmp_path), "x"), FileCell)
    assert isinstance(open_cell(_Settings(tmp_path, "postgresql://nobody@127.0.0.1:1/none"), "x"), PostgresCell)


def test_an_update_sees_the_last_value_and_none_keeps_it(place: Callable[[str], Cell]) -> None:
    cell = place("counter")
    assert cell.peek() == b""
    assert [cell.update(increment) for _ in range(3)] == [1, 2, 3]
    assert place("counter").update(lambda raw: (None, raw)) == COUNTER.pack(3)  # another opener, same value
    assert cell.peek() == COUNTER.pack(3)


def test_names_are_separate_and_siblings_share_the_place(place: Callable[[str], Cell]) -> None:
    a = place("a")
    a.update(increment)
    b = a.sibling("b")
    assert b.peek() == b""
    b.update(increment)
    b.update(increment)
    assert place("b").peek() == COUNTER.pack(2) and a.peek() == COUNTER.pack(1)


def test_a_shorter_value_replaces_a_longer_one(place: Callable[[str], Cell]) -> None:
    cell = place("v")
    cell.update(lambda raw: (b"long value", None))
    cell.update(lambda raw: (b"short", None))
    assert cell.peek() == b"short"


def test_peek_never_creates_the_cell(tmp_path: Path) -> None:
    cell = FileCell(tmp_path / "never")
    assert cell.peek() == b""
    assert not (tmp_path / "never").exists()


def test_memory_cells_follow_the_contract() -> None:
    cell = MemoryCell("n")
    assert [cell.update(increment) for _ in range(2)] == [1, 2]
    assert cell.sibling("m").peek() == b"" and cell.sibling("n").peek() == COUNTER.pack(2)


def counting_children(workers: int, each: int, open_one: Callable[[], Cell]) -> list[int]:
    """Fork `workers` processes that each open the cell and increment it `each` times; their pids (a child that
    fails exits 1)."""
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                cell = open_one()
                for _ in range(each):
                    cell.update(increment)
            except BaseException:  # noqa: BLE001 - a child reports by its exit status
                code = 1
            os._exit(code)
        pids.append(pid)
    return pids


def test_concurrent_updates_from_processes_lose_nothing(place: Callable[[str], Cell], tmp_path: Path) -> None:
    workers, each = 4, 150
    pids = counting_children(workers, each, lambda: place("shared"))
    statuses = [os.waitpid(pid, 0)[1] for pid in pids]
    assert statuses == [0] * workers
    assert COUNTER.unpack(place("shared").peek())[0] == workers * each


def test_the_gate_shares_one_budget_across_processes_in_postgresql(postgres_url: str, tmp_path: Path) -> None:
    settings = _Settings(tmp_path, postgres_url)
    rate, burst, seconds, workers = 50.0, 5.0, 1.0, 3
    open_cell(settings, "discord-gate").update(lambda raw: (None, None))  # the table exists before the race
    start = time.time() + 0.3
    pids = []
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            gate, granted = GlobalGate(open_cell(settings, "discord-gate"), rate, burst), 0
            while time.time() < start:
                pass
            while time.time() < start + seconds:
                if gate.acquire() == 0.0:
                    granted += 1
            (tmp_path / f"w{w}").write_text(str(granted))
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    total = sum(int((tmp_path / f"w{w}").read_text()) for w in range(workers))
    assert total <= rate * seconds + burst + 1
    assert total >= rate * seconds * 0.5


def test_a_global_pause_in_postgresql_reaches_every_opener(postgres_url: str, tmp_path: Path) -> None:
    settings = _Settings(tmp_path, postgres_url)
    gate = GlobalGate(open_cell(settings, "discord-gate"), rate=10, burst=3)
    elsewhere = GlobalGate(open_cell(settings, "discord-gate"), rate=10, burst=3)
    now = time.time()
    gate.pause_until(now + 2.0)
    assert elsewhere.acquire(now) == pytest.approx(2.0, abs=0.1)  # less what creating the table took
    assert elsewhere.paused_for(now) == pytest.approx(2.0, abs=0.1)


def test_breaker_and_invalid_window_live_in_postgresql(postgres_url: str, tmp_path: Path) -> None:
    settings = _Settings(tmp_path, postgres_url)
    one = SharedBreaker(open_cell(settings, "ai-breaker-x"), threshold=2, cooldown_s=30)
    other = SharedBreaker(open_cell(settings, "ai-breaker-x"), threshold=2, cooldown_s=30)
    one.record(False, 1000.0)
    other.record(False, 1000.0)
    assert one.state(1001.0) == OPEN and SharedBreaker(open_cell(settings, "ai-breaker-y")).state(1001.0) == CLOSED
    window = InvalidRequests(open_cell(settings, "discord-invalid"))
    assert window.record(403) == 1 and window.record(401) == 2
    assert read_invalid(open_cell(settings, "discord-invalid"))["by_status"] == {"401": 1, "403": 1, "429": 0}
    assert not (tmp_path / "discord-invalid").exists()  # nothing went to the local disk


def test_the_invalid_window_on_an_unreachable_database_reads_as_unknown(tmp_path: Path) -> None:
    cell = open_cell(_Settings(tmp_path, "postgresql://nobody@127.0.0.1:1/none"), "discord-invalid")
    assert read_invalid(cell) == {"count": 0, "budget": 10_000, "pace": "unknown", "by_status": {}}
