"""Hosts on one machine: network namespaces on a bridge, each with its own address, so that nodes really talk
over addresses other than 127.0.0.1 and a node can be cut off the network (its link down) while it runs.

Needs root and `ip` (iproute2). The machine's PostgreSQL listens on loopback only, which a namespace cannot
reach, so a relay in this process forwards the bridge's address to it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


def missing_reason() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need `ip` (iproute2)"
    try:
        _ip("netns", "add", f"tzprobe{os.getpid()}")
        _ip("netns", "del", f"tzprobe{os.getpid()}")
    except subprocess.CalledProcessError as exc:
        return f"cannot create a network namespace here: {exc.stderr.strip()}"
    return None


def _ip(*args: str, ns: str | None = None) -> None:
    command = ["ip", "netns", "exec", ns, "ip", *args] if ns else ["ip", *args]
    subprocess.run(command, check=True, capture_output=True, text=True)


@dataclass
class Hosts:
    """A bridge (the "host" side, this namespace) and one namespace per node name on it."""

    bridge: str
    prefix: str  # "10.201.7": the bridge is .1, the nodes .2, .3, ...
    names: dict[str, str] = field(default_factory=dict)  # node name -> namespace name

    @property
    def host_address(self) -> str:
        return f"{self.prefix}.1"

    def address(self, name: str) -> str:
        return f"{self.prefix}.{2 + list(self.names).index(name)}"

    def run_in(self, name: str) -> tuple[str, ...]:
        """The command prefix that runs a program in node `name`'s namespace."""
        return ("ip", "netns", "exec", self.names[name])

    def cut(self, name: str) -> None:
        """Node `name` loses the network (its processes live on)."""
        _ip("link", "set", self._veth(name), "down")

    def heal(self, name: str) -> None:
        _ip("link", "set", self._veth(name), "up")

    def _veth(self, name: str) -> str:
        return f"{self.bridge}v{list(self.names).index(name)}"


@contextmanager
def hosts(names: list[str]) -> Iterator[Hosts]:
    """Create the bridge and the namespaces (named after this pid: two test runs never share one); remove
    them afterwards."""
    tag = os.getpid() % 100_000
    made = Hosts(f"tzb{tag}", f"10.{200 + tag % 50}.{tag % 250}")
    try:
        _ip("link", "add", made.bridge, "type", "bridge")
        _ip("addr", "add", f"{made.host_address}/24", "dev", made.bridge)
        _ip("link", "set", made.bridge, "up")
        for i, name in enumerate(names):
            ns, veth = f"tz{tag}{name}", f"{made.bridge}v{i}"
            _ip("netns", "add", ns)
            made.names[name] = ns
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", made.bridge)
            _ip("link", "set", veth, "up")
            _ip("addr", "add", f"{made.address(name)}/24", "dev", "eth0", ns=ns)
            _ip("link", "set", "eth0", "up", ns=ns)
            _ip("link", "set", "lo", "up", ns=ns)
        yield made
    finally:
        for i, ns in enumerate(made.names.values()):
            with suppress(subprocess.CalledProcessError):  # a namespace outlives its deletion while a process is
                _ip("link", "del", f"{made.bridge}v{i}")  # in it: its link would too, unless deleted by name
            with suppress(subprocess.CalledProcessError):
                _ip("netns", "del", ns)
        with suppress(subprocess.CalledProcessError):
            _ip("link", "del", made.bridge)


class Relay:
    """Forwards (host, port) to a loopback target: how a namespace reaches a server that listens on loopback."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server((host, 0))
        self.server.settimeout(0.2)  # accept() wakes to see `close`: a closed socket alone may not wake it
        self.port = self.server.getsockname()[1]
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
                upstream = socket.create_connection(self.target)
            except OSError:  # a timeout, or closed
                continue
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                pump.start()
                self._threads.append(pump)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop relaying and wait for every thread: an actor system started later in this process (another
        test) refuses to fork while threads run."""
        self._stop.set()
        for sock in self._sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(5)
        self.server.close()
