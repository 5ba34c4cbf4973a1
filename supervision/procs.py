"""What the OS says about processes: alive or not, who their children are (Linux /proc), how a child ended."""

from __future__ import annotations

import os
import signal
import time
from typing import Any


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False


def parents() -> dict[int, list[int]]:
    """ppid -> child pids, for every process we can see."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(root: int) -> set[int]:
    tree, found, todo = parents(), set(), [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def spawned_process(manager: Any, address: Any) -> Any:
    """The multiprocessing.Process Thespian just started for the child actor at `address`, or None.

    Thespian's ChildActorExited carries no exit status, and its manager forgets a child's Process as soon as it
    reaps it, so a supervisor keeps its own handle from the moment it creates the child. This reads Thespian's
    private bookkeeping (`_child_procs` of the actor's manager, multiprocCommon.py), defensively: None where it
    is not there (simpleSystemBase, another Thespian version), and the caller says "status unknown".
    """
    try:
        for info in reversed(getattr(manager, "_child_procs", None) or []):
            if info.childAddr is address:
                return info.childProc
    except (AttributeError, TypeError):
        pass
    return None


def exit_status(process: Any) -> str:
    """How a child process ended: `killed by signal 9 (SIGKILL)`, `exited with status 3`; "" while it runs or
    when unknown. Reading `exitcode` reaps the process if Thespian has not yet."""
    try:
        code = process.exitcode if process is not None else None
    except (AttributeError, OSError, ValueError):
        return ""
    if code is None:
        return ""
    if code < 0:
        try:
            return f"killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


def die_with_parent(enabled: bool = True) -> None:
    """Have Linux kill this process when the one that forked it dies (prctl PR_SET_PDEATHSIG), or no longer.

    A child whose supervisor is killed between creating it and telling it who it is never starts its own orphan
    watch, and would wait for a first message forever. Set from its first moment, cleared once it watches."""
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL if enabled else 0, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the orphan watch alone
        return
    if enabled and os.getppid() != parent:  # the parent died while we asked: nobody will signal us
        os._exit(0)

def with_environment(name: str, value: str) -> set[int]:
    """Every process we may read whose environment holds `name=value` (a node's marker: Thespian's admin is
    re-parented to init, so a node's processes are not all its descendants)."""
    wanted = f"{name}={value}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    if wanted in fh.read().split(b"\0"):
                        found.add(int(entry))
            except OSError:
                continue
    return found


def stop_admin_from_inside(me: int) -> None:
    """Stop this actor system from one of its top actors: SIGTERM to Thespian's admin (our parent) and its other
    children (the logger, sibling supervisors); their children then exit as orphans."""
    admin = os.getppid()
    for sibling in parents().get(admin, []):
        if sibling != me:
            os.kill(sibling, signal.SIGTERM)
    os.kill(admin, signal.SIGTERM)


def finish_off(pids: set[int], patience_s: float = 10.0) -> None:
    """Wait up to `patience_s` for these processes (ours, being stopped) to be gone; SIGKILL what is left."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
