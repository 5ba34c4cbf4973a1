"""How a child process ended, read from its multiprocessing.Process: what a supervisor's exit line says."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from types import SimpleNamespace

from supervision.procs import die_with_parent, exit_status, pid_alive, spawned_process
from testkit.process import wait_for

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


def orphan_after_parent_dies(watch: bool) -> int:
    # watch=True: the child keeps the signal (not started yet); False: it cleared it (its own watch took over)
    """Fork a parent that forks a child (which sets or clears the parent-death signal), then kill the parent;
    return the child's pid."""
    read, write = os.pipe()
    parent = os.fork()
    if parent == 0:  # the parent: fork the child, report its pid, wait to be killed
        child = os.fork()
        if child == 0:
            die_with_parent()
            if not watch:  # started: the orphan watch takes over
                die_with_parent(False)
            os.write(write, b"ready")
            time.sleep(60)
            os._exit(0)
        os.write(write, f"{child:>10}".encode())
        time.sleep(60)
        os._exit(0)
    pid = int(os.read(read, 10))
    assert os.read(read, 5) == b"ready"
    os.close(read), os.close(write)
    os.kill(parent, signal.SIGKILL)
    os.waitpid(parent, 0)
    return pid


def test_a_child_that_never_started_dies_with_its_parent() -> None:
    child = orphan_after_parent_dies(watch=True)
    wait_for(lambda: not pid_alive(child), timeout=5, what="the orphan to be killed")

