"""How a child process ended, read from its multiprocessing.Process: what a supervisor's exit line says."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from types import SimpleNamespace

from supervision.procs import exit_status, spawned_process

FORK = multiprocessing.get_context("fork")


def _exit_with(code: int) -> None:
    os._exit(code)


def _sleep() -> None:
    time.sleep(30)


def test_a_child_killed_by_a_signal_names_the_signal() -> None:
    child = FORK.Process(target=_sleep)
    child.start()
    try:
        assert exit_status(child) == ""  # still running
        os.kill(child.pid, signal.SIGKILL)
        child.join(5)
        assert exit_status(child) == "killed by signal 9 (SIGKILL)"
    finally:
        if child.is_alive():
            child.kill()


def test_a_child_that_exits_names_its_status() -> None:
    child = FORK.Process(target=_exit_with, args=(3,))
    child.start()
    child.join(5)
    assert exit_status(child) == "exited with status 3"


def test_no_process_handle_is_an_unknown_status() -> None:
    assert exit_status(None) == ""
    assert exit_status(object()) == ""


def test_the_spawned_process_is_found_by_its_address_object_in_thespians_bookkeeping() -> None:
    address, other, process = object(), object(), object()
    manager = SimpleNamespace(_child_procs=[SimpleNamespace(childAddr=other, childProc="older"),
                                            SimpleNamespace(childAddr=address, childProc=process)])
    assert spawned_process(manager, address) is process
    assert spawned_process(manager, object()) is None
    assert spawned_process(SimpleNamespace(), address) is None  # simpleSystemBase: no such bookkeeping
    assert spawned_process(None, address) is None
