"""SlotLeases (`store/slot_leases.py`) on a shared cell: the AI slots every actor process (on every host) shares.

Takers in many processes at once never hold more slots than the published limit; a holder whose process
died, or whose lease ran out, gives its slot back; a newcomer takes directly only while nobody waits.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from store.cells import FileCell, open_cell
from store.slot_leases import SlotLeases
from tests.unit.test_cells import _Settings

LIMIT = 3


def _taker(settings: _Settings, user: int, rounds: int, holding: Any, worst: Any) -> None:
    leases = SlotLeases(open_cell(settings, "ai-slots"), ceiling=8, lease_s=60)
    for trigger in range(rounds):
        while not leases.take(user, trigger):
            time.sleep(0.0005)
        with holding.get_lock():
            holding.value += 1
            worst.value = max(worst.value, holding.value)
        time.sleep(0.005)  # a call in progress
        with holding.get_lock():
            holding.value -= 1
        leases.release(user, trigger)


@pytest.mark.parametrize("where", ["file", "postgresql"])
def test_concurrent_takers_in_many_processes_never_exceed_the_limit(where: str, tmp_path: Path,
                                                                    request: pytest.FixtureRequest) -> None:
    settings = _Settings(tmp_path, request.getfixturevalue("postgres_url") if where == "postgresql" else "")
    SlotLeases(open_cell(settings, "ai-slots"), ceiling=8, lease_s=60).publish(LIMIT, 0)
    ctx = multiprocessing.get_context("fork")
    holding, worst = ctx.Value("i", 0), ctx.Value("i", 0)
    procs = [ctx.Process(target=_taker, args=(settings, 100 + n, 20, holding, worst)) for n in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 6
    assert 2 <= worst.value <= LIMIT  # takers did overlap, and never beyond the limit
    assert SlotLeases(open_cell(settings, "ai-slots"), ceiling=8, lease_s=60).in_use() == 0


def test_a_dead_holders_slot_comes_back(tmp_path: Path) -> None:
    leases = SlotLeases(FileCell(tmp_path / "ai-slots"), ceiling=4, lease_s=600)
    leases.publish(1, 0)
    pid = os.fork()
    if pid == 0:  # the holder: takes the only slot and dies mid-call, releasing nothing
        os._exit(0 if SlotLeases(FileCell(tmp_path / "ai-slots"), ceiling=4, lease_s=600).take(7, 70) else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert leases.take(8, 80) is True  # its process is gone: the slot is free long before its lease ends
    assert leases.take(9, 90) is False


def test_a_lease_that_ran_out_frees_its_slot(tmp_path: Path) -> None:
    now = [1000.0]
    leases = SlotLeases(FileCell(tmp_path / "ai-slots"), ceiling=4, lease_s=100, clock=lambda: now[0])
    leases.publish(1, 0)
    assert leases.grant(7, 70)  # granted by the line, never claimed (its actor died before the grant arrived)
    assert not leases.take(8, 80)
    now[0] += 101
    assert leases.take(8, 80)


def test_nobody_takes_directly_while_someone_waits_but_the_line_is_granted(tmp_path: Path) -> None:
    leases = SlotLeases(FileCell(tmp_path / "ai-slots"), ceiling=4, lease_s=100)
    assert not leases.take(1, 10)  # no limit published yet: ask the Slots actor
    leases.publish(2, 1)
    assert not leases.take(1, 10)
    assert leases.grant(2, 20)
    leases.publish(2, 0)
    assert leases.take(1, 10)
    assert not leases.take(3, 30)


def test_one_slot_per_user_and_a_release_of_an_older_message_frees_nothing(tmp_path: Path) -> None:
    leases = SlotLeases(FileCell(tmp_path / "ai-slots"), ceiling=4, lease_s=100)
    leases.publish(2, 0)
    assert leases.take(1, 10) and leases.take(1, 11)
    assert leases.in_use() == 1
    assert leases.release(1, 10) == 1
    assert leases.release(1, 11) == 0
