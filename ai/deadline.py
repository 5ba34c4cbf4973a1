"""Hard whole-request deadline for a blocking HTTP request.

Socket timeouts apply per operation: a provider that trickles keep-alive bytes (OpenRouter
sends ``: OPENROUTER PROCESSING`` comments, or whitespace before a JSON body) never trips a
read timeout. The client checks the clock between chunks, and this watchdog covers the case
where a single read blocks past the deadline: at the deadline it shuts the connection's
socket down, which makes the blocked read return at once. The transport hands it the socket
as soon as it is connected (``attach``); before that, the connect timeout (at most the time
left) is the bound.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType


class DeadlineWatchdog:
    """Context manager: arms a timer for the deadline; ``attach`` tells it the socket."""

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._expired = False
        self._finished = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True

    @property
    def expired(self) -> bool:
        """True once the deadline fired (so a broken read means timeout, not outage)."""
        return self._expired

    def attach(self, sock: socket.socket) -> None:
        """Watch this connection's socket (shut it now if already expired)."""
        with self._lock:
            if self._finished:
                return
            self._socket = sock
            if self._expired:
                _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._expired = True
            if self._socket is not None:
                _shutdown(self._socket)

    def __enter__(self) -> DeadlineWatchdog:
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._finished = True
            self._socket = None
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter also drops the SSL object,
    # which the reading thread may still be using. A plain shutdown just wakes that read.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
