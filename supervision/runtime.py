"""Starting and stopping the Thespian actor system (multiprocTCPBase) safely.

Two of Thespian's traps are handled here. It binds every actor socket to all interfaces, and it moves
pickled messages, so anyone who can reach a port can run code: unless configured otherwise we make every
socket listen on loopback only. And it forks: the system must start before the calling process has threads.

The data directory holds webhook tokens, DM text and sealed keys: it is made 0700, and the actor processes are
forked with umask 077, so every file they create there is 0600 whatever the caller's umask. Its logs are
bounded: actors.log rotates like the supervisor log, and Thespian's own thespian.log at the same size.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

from thespian.actors import ActorSystem
from thespian.system.transport import IPBase
from thespian.system.utilis import str_to_loglevel, thesplog_control

from observability.jsonlog import DEFAULT_KEEP, DEFAULT_MAX_BYTES

SYSTEM_BASE = "multiprocTCPBase"
log = logging.getLogger("tzurot.runtime")
_bind_host: str | None = None


def _bind_to(host: str) -> None:
    """Make Thespian's listening sockets bind to `host` instead of every interface."""
    global _bind_host
    if _bind_host is not None:
        _bind_host = host
        return
    _bind_host = host
    original = IPBase.IPActorAddress.__init__

    def init(self: Any, *args: Any, **kw: Any) -> None:
        original(self, *args, **kw)
        if _bind_host and self.bindname and self.bindname[0] in ("", "0.0.0.0"):
            self.bindname = (_bind_host, self.bindname[1])

    IPBase.IPActorAddress.__init__ = init  # type: ignore[method-assign]


def log_defs(data_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP) -> dict[str, Any]:
    """Actors' Python logging goes to `actors.log` in the data directory (Thespian's logger process, the only
    writer, so the standard rotating handler is safe): rotated at `max_bytes`, `keep` older files kept."""
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": str(data_dir / "actors.log"),
                "maxBytes": max_bytes,
                "backupCount": keep,
                "formatter": "plain",
                "level": "INFO",
            }
        },
        "root": {"handlers": ["file"], "level": "INFO"},
        "disable_existing_loggers": False,
    }


def secure_data_dir(data_dir: Path) -> None:
    """Make the data directory 0700 and the files in it 0600 (it holds webhook tokens, DM text and sealed keys),
    with one warning line saying what was looser."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(data_dir.stat().st_mode)
        if mode & 0o077:
            os.chmod(data_dir, 0o700)
        files = 0
        for path in data_dir.iterdir():
            st = path.lstat()
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
                os.chmod(path, 0o600)
                files += 1
    except OSError as exc:
        raise RuntimeError(f"TZUROT_DATA_DIR: cannot make {data_dir} private: {exc.strerror or exc}") from None
    what = [f"the data directory {data_dir} was {mode:04o}: made it 0700"] if mode & 0o077 else []
    what += [f"{files} file(s) in {data_dir} were readable by others: made them 0600"] if files else []
    if what:
        log.warning("%s (it holds webhook tokens, DM text and sealed keys)", "; ".join(what))


def bound_thespian_log(data_dir: Path, max_bytes: int) -> None:
    """Thespian's own log (WARNING and up) goes to `thespian.log` in the data directory; Thespian renames it to
    `thespian.log.old` (one kept) at `max_bytes`. It reads its size limit when first imported, so set it here."""
    os.environ.setdefault("THESPLOG_FILE", str(data_dir / "thespian.log"))
    os.environ.setdefault("THESPLOG_THRESHOLD", "WARNING")
    os.environ.setdefault("THESPLOG_FILE_MAXSIZE", str(max_bytes))
    level = str_to_loglevel(os.environ["THESPLOG_THRESHOLD"].upper()) or logging.WARNING
    thesplog_control(level, False, int(os.environ["THESPLOG_FILE_MAXSIZE"]))


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's reach before forking: the collector then
    never writes to their pages, so forked actors keep sharing them instead of copying them (less memory)."""
    gc.collect()
    gc.freeze()


def raise_open_files_limit() -> None:
    """Thespian holds sockets per child in each supervisor: lift the soft fd limit to the hard one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
    except (ValueError, OSError):
        pass


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host if host not in ("", "0.0.0.0") else "127.0.0.1", port)) == 0


def convention_timers(heartbeat_s: float) -> None:
    """Thespian's Convention re-registers a member every 7 m 22 s and declares it dead after 3 misses (22
    minutes), and a member finds a restarted leader only at its next re-registration. Both run on the same
    period as our own heartbeats instead: a dead member is reported within ~3 periods, and members rejoin a
    restarted leader within one.

    Only 20 sends are in flight at once in a process, and a send to a dead host is retried for 5 minutes: a few
    messages to a dead node's actors held up every other send of Root (measured: 40 s without a heartbeat or
    a delivery). 256 may be in flight. The 5 minutes stay: an actor busy in a 2-minute AI call acknowledges
    nothing until it returns, and a shorter give-up would take it for dead. An edge's own send (outside the
    actors) waits 5 s instead of 60 for a node to take it: its hand-offs are one queue, and a host cut off the
    network held every message behind one to it (the sweep hands it on again). (Module settings, read at use,
    inherited by the admin and every actor, which fork after this.)"""
    from datetime import timedelta

    from thespian.system import systemBase
    from thespian.system.admin import convention
    from thespian.system.transport import asyncTransportBase

    period = timedelta(seconds=max(1, round(heartbeat_s)))
    convention.CONVENTION_REREGISTRATION_PERIOD = period
    convention.CONVENTION_RESTART_PERIOD = period
    convention.CONVENTION_REGISTRATION_MISS_MAX = 3
    asyncTransportBase.MAX_PENDING_TRANSMITS = 256
    systemBase.MAX_TELL_PERIOD = timedelta(seconds=5)


def start_actor_system(
    data_dir: Path,
    admin_port: int,
    bind_host: str = "127.0.0.1",
    log_max_bytes: int = DEFAULT_MAX_BYTES,
    log_keep: int = DEFAULT_KEEP,
    node: dict[str, Any] | None = None,
) -> ActorSystem:
    """Start a fresh multiprocTCPBase system; refuse to join one that is already running on the port.

    `node` makes it a member of a Convention: its capabilities (`tzurot.node`, and the leader's address as
    `Convention Address.IPv4` on a member)."""
    if threading.active_count() > 1:
        # Forking a threaded process can copy a lock held by another thread: start the system first.
        raise RuntimeError("the actor system must be started before any thread exists")
    if port_in_use(bind_host, admin_port):
        raise RuntimeError(
            f"TZUROT_ACTOR_ADMIN_PORT: port {admin_port} is already in use (another bot still running?)"
        )
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    bound_thespian_log(data_dir, log_max_bytes)
    if bind_host not in ("", "0.0.0.0"):
        os.environ["THESPIAN_BASE_IPADDR"] = bind_host
        _bind_to(bind_host)
    raise_open_files_limit()
    freeze_heap()
    capabilities = {"Admin Port": admin_port, **(node or {})}
    umask = os.umask(0o077)  # the admin and logger fork now, and every actor from the admin: all inherit it
    try:
        return ActorSystem(
            SYSTEM_BASE, capabilities, logDefs=log_defs(data_dir, log_max_bytes, log_keep), transientUnique=True
        )
    finally:
        os.umask(umask)
