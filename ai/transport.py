"""The AI client's HTTP/1.1 transport: http.client, a small keep-alive pool, proxies from the environment.

Why not httpx (which the Discord REST client keeps): every user actor is a forked process that makes its own
AI calls, and CPython writes a reference count into every object the code it runs touches, so the first
request copies that code's pages into the actor. httpx's path through httpcore and h11 cost each actor about
3 MB more than http.client's (measured from a quiet parent; see docs/benchmarks.md, capacity).

What it keeps of httpx's behaviour: TLS through the one shared context (`ai/tls.py`), keep-alive (2 idle
connections, at most 8 at once), a reused connection the server closed meanwhile retried once on a new one,
no redirects followed, gzip/deflate bodies decoded, and HTTP(S)_PROXY / ALL_PROXY / NO_PROXY honoured (HTTPS
through a CONNECT tunnel). Every deadline is the caller's: connect, send and each read get the time left.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

USER_AGENT = "tzurot"
READ_SIZE = 65536
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class TransportError(Exception):
    """The request failed on the way (connecting, sending, or reading); `timed_out` when the server was
    reached but a wait for it ran out (a connect timeout is not one: that server is as good as down)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class BodyDecodeError(Exception):
    """The body's Content-Encoding could not be decoded."""


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _left(deadline: float) -> float:
    return max(0.001, deadline - time.monotonic())


class Response:
    """A response whose body is read in chunks, each read bounded by the time left."""

    def __init__(self, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse) -> None:
        self._conn, self._raw = conn, raw
        self.status_code = raw.status
        self.headers = raw.headers  # case-insensitive `get`
        self.complete = False  # the whole body was read: the connection may be used again

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def iter_bytes(self, deadline: float) -> Iterator[bytes]:
        decoder = _decoder(self.headers.get("content-encoding", ""))
        while True:
            if self._conn.sock is not None:
                self._conn.sock.settimeout(_left(deadline))
            try:
                chunk = self._raw.read1(READ_SIZE)
            except TimeoutError as exc:
                raise TransportError(_described(exc), timed_out=True) from None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise TransportError(_described(exc)) from None
            if not chunk:
                break
            if decoded := decoder(chunk):
                yield decoded
        if tail := decoder(b""):
            yield tail
        self._raw.close()  # all read: the connection (its socket stays open) may take the next request
        self.complete = True


def _decoder(encoding: str) -> Callable[[bytes], bytes]:
    """Chunk -> decoded bytes (b"" flushes) for `identity`, `gzip` or `deflate` (zlib-wrapped or raw)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda chunk: chunk
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BodyDecodeError(f"unsupported content-encoding {encoding!r}")
    state = {"z": zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS), "first": True}

    def decode(chunk: bytes) -> bytes:
        try:
            if not chunk:
                return state["z"].flush()
            if state["first"] and encoding == "deflate":
                state["first"] = False
                try:
                    return state["z"].decompress(chunk)
                except zlib.error:  # a raw deflate stream, without the zlib header some servers leave out
                    state["z"] = zlib.decompressobj(-zlib.MAX_WBITS)
            return state["z"].decompress(chunk)
        except zlib.error as exc:
            raise BodyDecodeError(str(exc)) from None

    return decode


class Pool:
    """Keep-alive connections to one base URL, for one process (a fork makes its own)."""

    def __init__(self, base_url: str, context: ssl.SSLContext, max_idle: int = 2, max_connections: int = 8) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme, self.host = url.scheme, url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.base_path = url.path.rstrip("/")
        self.context, self.max_idle = context, max_idle
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self.is_closed = False

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self.is_closed = self._idle, [], True
        for conn in idle:
            conn.close()

    @contextmanager
    def post(self, path: str, body: bytes, headers: dict[str, str], deadline: float, connect_timeout_s: float,
             on_socket: Callable[[socket.socket], None]) -> Iterator[Response]:
        """POST `body` to base path + `path`; the response's body must be read within the block."""
        if not self._slots.acquire(timeout=_left(deadline)):
            raise TransportError("no free connection before the deadline", timed_out=True)
        try:
            conn, response = self._send(path, body, headers, deadline, connect_timeout_s, on_socket)
            try:
                yield response
            finally:
                self._release(conn, response)
        finally:
            self._slots.release()

    def _send(self, path: str, body: bytes, headers: dict[str, str], deadline: float, connect_timeout_s: float,
              on_socket: Callable[[socket.socket], None]) -> tuple[http.client.HTTPConnection, Response]:
        target, extra = self._target(path)
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", "Content-Type": "application/json",
                   **extra, **headers}
        while True:
            conn, reused = self._take()
            try:
                if conn.sock is None:
                    conn.timeout = min(connect_timeout_s, _left(deadline))
                    try:
                        conn.connect()
                    except (OSError, http.client.HTTPException) as exc:  # refused, unreachable, timed out, tunnel
                        raise TransportError(_described(exc)) from None
                sock = conn.sock
                on_socket(sock)
                sock.settimeout(_left(deadline))
                conn.request("POST", target, body=body, headers=headers)
                return conn, Response(conn, conn.getresponse())
            except TransportError:
                conn.close()
                raise
            except _STALE as exc:
                conn.close()
                if reused:  # the server closed it while it was idle: once more, on a new connection
                    continue
                raise TransportError(_described(exc)) from None
            except TimeoutError as exc:
                conn.close()
                raise TransportError(_described(exc), timed_out=True) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise TransportError(_described(exc)) from None

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new(), False

    def _release(self, conn: http.client.HTTPConnection, response: Response) -> None:
        keep = response.complete and not response._raw.will_close
        with self._lock:
            if keep and not self.is_closed and len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def _new(self) -> http.client.HTTPConnection:
        proxy = proxy_for(self.scheme, self.host)
        if proxy is None:
            return self._connection(self.scheme, self.host, self.port)
        p_scheme, p_host, p_port, auth = proxy
        conn = self._connection(p_scheme, p_host, p_port)
        if self.scheme == "https":  # a CONNECT tunnel: the proxy never sees the request
            conn.set_tunnel(self.host, self.port, headers={"Proxy-Authorization": auth} if auth else None)
        return conn

    def _connection(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, context=self.context)
        return http.client.HTTPConnection(host, port)

    def _target(self, path: str) -> tuple[str, dict[str, str]]:
        """The request target, and headers for a plain-HTTP proxy (which gets the absolute URL)."""
        proxy = proxy_for(self.scheme, self.host) if self.scheme == "http" else None
        if proxy is None:
            return self.base_path + path, {}
        return f"http://{self.host}:{self.port}{self.base_path}{path}", (
            {"Proxy-Authorization": proxy[3]} if proxy[3] else {})


def proxy_for(scheme: str, host: str) -> tuple[str, str, int, str] | None:
    """The proxy the environment names for `scheme` (as httpx would: HTTP(S)_PROXY, ALL_PROXY, NO_PROXY):
    (scheme, host, port, Proxy-Authorization value or "")."""
    proxies = urllib.request.getproxies_environment()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or urllib.request.proxy_bypass_environment(host, proxies):
        return None
    parsed = urlsplit(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None  # socks and the like: not supported (httpx needs an extra package for them too)
    auth = ""
    if parsed.username:
        user_pass = f"{unquote(parsed.username)}:{unquote(parsed.password or '')}".encode()
        auth = "Basic " + base64.b64encode(user_pass).decode()
    return parsed.scheme, parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80), auth
