"""A PgBouncer in transaction mode on a free loopback port, in front of the test PostgreSQL, for one test or run.

This is how a large deployment keeps PostgreSQL's connection count flat however many actor processes there
are: each process keeps (briefly) one client connection to PgBouncer, and PgBouncer lends a few server
connections (`pool_size`) one transaction at a time. Debian's pgbouncer refuses to run as root, so when we
are root it runs as `postgres` (`-u postgres`) from a directory that user can read, logging to a file there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from testkit.process import free_port, wait_for

BINARY_PLACES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")
RUN_AS = "postgres"


def binary() -> str | None:
    """Where pgbouncer is installed, or None."""
    found = shutil.which("pgbouncer")
    return found or next((p for p in BINARY_PLACES if os.access(p, os.X_OK)), None)


def missing_reason() -> str | None:
    """None when a PgBouncer can be started here; otherwise why not (for a skip message)."""
    if binary() is None:
        return "pgbouncer is not installed (Debian: apt-get install pgbouncer); the PgBouncer test needs it"
    return None


class PgBouncer:
    """One running PgBouncer; `url_for(database_url)` is the same database reached through it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, home: Path) -> None:
        self.process, self.port, self.home = process, port, home

    def url_for(self, database_url: str) -> str:
        parts = urlsplit(database_url)
        user = parts.username or RUN_AS
        return urlunsplit((parts.scheme, f"{user}@127.0.0.1:{self.port}", parts.path, parts.query, ""))

    def log(self) -> str:
        path = self.home / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def pgbouncer(database_url: str, pool_size: int = 2, max_clients: int = 2000) -> Iterator[PgBouncer]:
    """Start a PgBouncer (transaction mode, `pool_size` server connections per database and user) in front of
    the server `database_url` names; stop it (by its pid) and remove its files afterwards."""
    program = binary()
    if program is None:
        raise RuntimeError(missing_reason())
    server = urlsplit(database_url)
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="tzurot-pgbouncer-"))
    users = {server.username or RUN_AS, RUN_AS, "root"}
    (home / "userlist.txt").write_text("".join(f'"{u}" ""\n' for u in sorted(users)))
    (home / "pgbouncer.ini").write_text(f"""[databases]
* = host={server.hostname or "127.0.0.1"} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home / "userlist.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {max_clients}
server_idle_timeout = 30
logfile = {home / "pgbouncer.log"}
pidfile = {home / "pgbouncer.pid"}
""")
    command = [program, str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(home, RUN_AS)
        for name in ("userlist.txt", "pgbouncer.ini"):
            shutil.chown(home / name, RUN_AS)
        command[1:1] = ["-u", RUN_AS]
    # PgBouncer logs every login to stderr too: into a pipe nobody reads, it would block (the whole pooler,
    # one thread) once the pipe's 64 KB filled, a minute into a benchmark. So stderr goes to a file.
    stderr = open(home / "stderr.log", "wb")  # noqa: SIM115 - closed below, after the process is gone
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    bouncer = PgBouncer(process, port, home)
    try:
        wait_for(lambda: process.poll() is not None or _listening(port), 10.0, what="pgbouncer to listen")
        if process.poll() is not None:
            err = (home / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"pgbouncer exited at start ({process.returncode}): {err[-500:]} {bouncer.log()[-500:]}")
        yield bouncer
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        stderr.close()
        shutil.rmtree(home, ignore_errors=True)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
