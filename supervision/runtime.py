"""Starting and stopping the Thespian actor system (multiprocTCPBase) safely.

Two of Thespian's traps are handled here. It binds every actor socket to all interfaces, and it moves
pickled messages, so anyone who can reach a port can run code: unless configured otherwise we make every
socket listen on loopback only. And it forks: the system must start before the calling process has threads.
"""

from __future__ import annotations

import gc
import os
import socket
import threading
from pathlib import Path
from typing import Any

from thespian.actors import ActorSystem
from thespian.system.transport import IPBase

SYSTEM_BASE = "multiprocTCPBase"
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


def log_defs(data_dir: Path) -> dict[str, Any]:
    """Actors' Python logging goes to `actors.log` in the data directory (Thespian's logger process)."""
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(data_dir / "actors.log"),
                "formatter": "plain",
                "level": "INFO",
            }
        },
        "root": {"handlers": ["file"], "level": "INFO"},
        "disable_existing_loggers": False,
    }


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


def start_actor_system(data_dir: Path, admin_port: int, bind_host: str = "127.0.0.1") -> ActorSystem:
    """Start a fresh multiprocTCPBase system; refuse to join one that is already running on the port."""
    if threading.active_count() > 1:
        # Forking a threaded process can copy a lock held by another thread: start the system first.
        raise RuntimeError("the actor system must be started before any thread exists")
    if port_in_use(bind_host, admin_port):
        raise RuntimeError(
            f"TZUROT_ACTOR_ADMIN_PORT: port {admin_port} is already in use (another bot still running?)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("THESPLOG_FILE", str(data_dir / "thespian.log"))
    os.environ.setdefault("THESPLOG_THRESHOLD", "WARNING")
    if bind_host not in ("", "0.0.0.0"):
        os.environ["THESPIAN_BASE_IPADDR"] = bind_host
        _bind_to(bind_host)
    raise_open_files_limit()
    freeze_heap()
    capabilities = {"Admin Port": admin_port}
    return ActorSystem(SYSTEM_BASE, capabilities, logDefs=log_defs(data_dir), transientUnique=True)
