"""The gateway websocket: HELLO, heartbeats, IDENTIFY -> READY -> GUILD_CREATE, dispatches and RESUME.

Frames go out as plain JSON text (discord.py accepts that even though it asks for zlib-stream).
Each session keeps a bounded replay buffer so a client that reconnects can RESUME without losing events.
A test can also end every session (op 9, not resumable) or take the gateway down for a while (an outage):
then a client must IDENTIFY anew, and what happened while it had no session is never replayed to it.

Sharding, as Discord does it: IDENTIFY carries `shard: [shard_id, shard_count]`; a guild's events go only to
the session of shard `(guild_id >> 22) % shard_count`, DMs only to shard 0. The hub expects one shard count
(what `GET /gateway/bot` recommends): an IDENTIFY without `shard` while it expects more than one, or with fewer
shards than it expects, is closed with 4011 (sharding required); a malformed shard, an id not below its count,
or more shards than it expects is closed with 4010 (invalid shard). Discord would accept more shards than it
recommends; the emulator is stricter so that edges configured with different counts fail at once instead of
splitting guilds between them wrongly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import Any

from aiohttp import WSMsgType, web

from .payloads import Payload, guild_payload, member_payload, ready_payload
from .snowflake import shard_of
from .world import World

HEARTBEAT_INTERVAL_MS = 41_250
SESSION_CAP = 16
REPLAY_BUFFER = 1_000
SEND_QUEUE_CAP = 10_000
CLIENT_SENDS_PER_MINUTE = 120


class Op(IntEnum):
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent(IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_WEBHOOKS = 1 << 5
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15


class Close(IntEnum):
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    RATE_LIMITED = 4008
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012


class _Closed(Exception):
    """Raised inside the read loop to close the socket with a gateway close code."""

    def __init__(self, code: Close) -> None:
        super().__init__(code.name)
        self.code = code


class Connection:
    """One websocket; frames are queued and written in order by a single writer task."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write())
        self._sent_at: deque[float] = deque()
        self._closer: asyncio.Task[bool] | None = None
        self.session: Session | None = None

    def send(self, frame: Payload | str) -> None:
        if self._queue.qsize() >= SEND_QUEUE_CAP:
            # A client this far behind is dropped (4000: reconnect and RESUME), keeping memory bounded.
            if self._closer is None:
                self._closer = asyncio.get_running_loop().create_task(self.ws.close(code=4000))
            return
        self._queue.put_nowait(frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":")))

    def count_client_send(self) -> None:
        """Discord allows 120 client frames per 60 s per connection, then closes with 4008."""
        now = time.monotonic()
        self._sent_at.append(now)
        while self._sent_at and self._sent_at[0] < now - 60:
            self._sent_at.popleft()
        if len(self._sent_at) > CLIENT_SENDS_PER_MINUTE:
            raise _Closed(Close.RATE_LIMITED)

    async def _write(self) -> None:
        while True:
            frame = await self._queue.get()
            try:
                if not self.ws.closed:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self.ws.send_str(frame)
            finally:
                self._queue.task_done()

    async def close(self, code: int = 1000) -> None:
        """Flush what is queued (briefly), then close; safe to call twice."""
        if not self.ws.closed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), 1.0)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        await self.ws.close(code=code)


@dataclass
class Session:
    """A gateway session; outlives its connection so it can be resumed."""

    id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    buffer: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    connection: Connection | None = None

    def owns_guild(self, guild_id: int | None) -> bool:
        """Discord's shard formula; DMs go to shard 0."""
        if self.shard is None:
            return True
        shard_id, shard_count = self.shard
        return shard_id == shard_of(guild_id, shard_count)

    def emit(self, event: str, data: Payload) -> None:
        """Number, buffer and (when connected) send one dispatch."""
        self.seq += 1
        frame = json.dumps({"op": Op.DISPATCH, "t": event, "s": self.seq, "d": data}, separators=(",", ":"))
        self.buffer.append((self.seq, frame))
        if self.connection is not None:
            self.connection.send(frame)


class GatewayHub:
    """All gateway sessions of the emulator, and the one place events are dispatched from."""

    def __init__(self, world: World, token: str, shard_count: int = 1) -> None:
        if shard_count < 1:
            raise ValueError(f"shard_count must be at least 1, not {shard_count}")
        self.world = world
        self.token = token
        self.shard_count = shard_count  # what GET /gateway/bot recommends and IDENTIFY must use
        self.resume_url = ""
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._connections: set[Connection] = set()
        self.down = False  # an outage: no session lives, and an IDENTIFY waits for its READY until it is over
        self._held: dict[Connection, dict[str, Any]] = {}  # connections whose IDENTIFY waits for the outage's end

    @property
    def connected_sessions(self) -> int:
        return sum(1 for s in self._sessions.values() if s.connection is not None)

    def view(self) -> dict[str, Any]:
        """What the control API shows: down or not, sessions (connected ones), IDENTIFYs waiting for READY, the
        shard count expected and the shard ids of the connected sessions."""
        shards = sorted(s.shard[0] if s.shard else 0 for s in self._sessions.values() if s.connection is not None)
        return {"down": self.down, "sessions": len(self._sessions), "connected": self.connected_sessions,
                "waiting": len(self._held), "shard_count": self.shard_count, "connected_shards": shards}

    def dispatch(
        self, event: str, data: Payload, intent: int, *, guild_id: int | None, redacted: Payload | None = None
    ) -> None:
        """Send to every session that asked for `intent` (0: an event every session gets, such as
        INTERACTION_CREATE); sessions without MESSAGE_CONTENT get `redacted`."""
        for session in self._sessions.values():
            if (not intent or session.intents & intent) and session.owns_guild(guild_id):
                private = redacted is not None and not session.intents & Intent.MESSAGE_CONTENT
                session.emit(event, redacted if private and redacted is not None else data)

    def request_reconnect(self) -> None:
        """Ask every connected client to reconnect (op 7); they come back with RESUME."""
        for connection in self._connections:
            connection.send({"op": Op.RECONNECT, "d": None})

    def end_sessions(self) -> int:
        """Invalidate every session as Discord does (op 9 with d=false): clients IDENTIFY anew, and nothing that
        happened before their new READY is replayed. Returns how many sessions ended."""
        ended = self._forget_sessions()
        for connection in self._connections:
            connection.send({"op": Op.INVALID_SESSION, "d": False})
        return ended

    async def outage(self) -> int:
        """The gateway goes away: every connection is closed and every session ends (a RESUME is refused with
        op 9, as for an expired session); a new IDENTIFY gets no READY until `restore`. Returns sessions ended."""
        self.down = True
        ended = self._forget_sessions()
        for connection in list(self._connections):
            await connection.close(4000)  # "unknown error": the client reconnects and tries to RESUME
        return ended

    def restore(self) -> int:
        """End an outage: every IDENTIFY that waited gets its READY (a new session). Returns how many."""
        self.down = False
        held, self._held = self._held, {}
        for connection, data in held.items():
            if not connection.ws.closed:
                connection.session = self._identify(connection, data)
        return len(held)

    def _forget_sessions(self) -> int:
        ended = len(self._sessions)
        self._sessions.clear()
        for connection in self._connections:
            connection.session = None
        return ended

    async def close(self) -> None:
        for connection in list(self._connections):
            await connection.close(1001)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws)
        self._connections.add(connection)
        code = 1000
        try:
            if request.query.get("v", "10") != "10":
                raise _Closed(Close.INVALID_API_VERSION)
            if request.query.get("encoding", "json") != "json":
                raise _Closed(Close.DECODE_ERROR)
            connection.send({"op": Op.HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    raise _Closed(Close.DECODE_ERROR)
                connection.count_client_send()
                self._receive(connection, _decode(message.data))
        except _Closed as closed:
            code = closed.code
        finally:
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
            self._connections.discard(connection)
            self._held.pop(connection, None)
            await connection.close(code)
        return ws

    def _receive(self, connection: Connection, frame: dict[str, Any]) -> None:
        op, data, session = frame.get("op"), frame.get("d"), connection.session
        if op == Op.HEARTBEAT:
            connection.send({"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            if session is not None or connection in self._held:
                raise _Closed(Close.ALREADY_AUTHENTICATED)
            if self.down:
                self._check_token(_object(data))
                self._check_shard(_object(data))
                self._held[connection] = _object(data)  # answered when the outage ends
            else:
                connection.session = self._identify(connection, _object(data))
        elif op == Op.RESUME:
            connection.session = self._resume(connection, _object(data))
        elif session is None:
            raise _Closed(Close.NOT_AUTHENTICATED)
        elif op == Op.REQUEST_GUILD_MEMBERS:
            self._send_members(session, _object(data))
        elif op not in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE):
            raise _Closed(Close.UNKNOWN_OPCODE)

    def _check_token(self, data: dict[str, Any]) -> None:
        if str(data.get("token", "")).removeprefix("Bot ") != self.token:
            raise _Closed(Close.AUTHENTICATION_FAILED)

    def _check_shard(self, data: dict[str, Any]) -> list[int] | None:
        """The IDENTIFY's `[shard_id, shard_count]` (None when absent and one shard is expected); see the module
        docstring for the close codes."""
        shard = data.get("shard")
        if shard is None:
            if self.shard_count > 1:
                raise _Closed(Close.SHARDING_REQUIRED)
            return None
        if not (isinstance(shard, list) and len(shard) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)):
            raise _Closed(Close.INVALID_SHARD)
        shard_id, count = shard
        if count < 1 or not 0 <= shard_id < count:
            raise _Closed(Close.INVALID_SHARD)
        if count < self.shard_count:
            raise _Closed(Close.SHARDING_REQUIRED)
        if count > self.shard_count:
            raise _Closed(Close.INVALID_SHARD)
        return [shard_id, count]

    def _identify(self, connection: Connection, data: dict[str, Any]) -> Session:
        self._check_token(data)
        shard = self._check_shard(data)
        session = Session(secrets.token_hex(16), int(data.get("intents", 0)), shard)
        self._sessions[session.id] = session
        while len(self._sessions) > SESSION_CAP:
            self._sessions.popitem(last=False)
        session.connection = connection
        guild_ids = [g for g in self.world.guilds if session.owns_guild(g)]
        session.emit("READY", ready_payload(self.world, guild_ids, session.id, self.resume_url, session.shard))
        for guild_id in guild_ids:
            session.emit("GUILD_CREATE", guild_payload(self.world, self.world.guilds[guild_id]))
        return session

    def _resume(self, connection: Connection, data: dict[str, Any]) -> Session | None:
        """Replay what the client missed, then RESUMED; an unknown or too old session gets op 9."""
        self._check_token(data)
        session = self._sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        oldest = session.buffer[0][0] if session and session.buffer else 1
        if session is None or not isinstance(seq, int) or not oldest - 1 <= seq <= session.seq:
            connection.send({"op": Op.INVALID_SESSION, "d": False})
            return None
        session.connection = connection
        for number, frame in session.buffer:
            if number > seq:
                connection.send(frame)
        session.emit("RESUMED", {})
        return session

    def _send_members(self, session: Session, data: dict[str, Any]) -> None:
        guild_id = int(data.get("guild_id", 0))
        if guild_id not in self.world.guilds:
            return
        wanted = {int(u) for u in data.get("user_ids") or ()}
        prefix = str(data.get("query") or "").lower()
        members = [
            m
            for m in self.world.guild_members(guild_id)
            if (not wanted or m.user_id in wanted) and self.world.users[m.user_id].username.lower().startswith(prefix)
        ]
        limit = int(data.get("limit") or 0)
        chunk = {
            "guild_id": str(guild_id),
            "members": [member_payload(self.world, m) for m in members[: limit or None]],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        session.emit("GUILD_MEMBERS_CHUNK", chunk)


def _decode(text: str) -> dict[str, Any]:
    try:
        frame = json.loads(text)
    except ValueError as exc:
        raise _Closed(Close.DECODE_ERROR) from exc
    return _object(frame)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Closed(Close.DECODE_ERROR)
    return value
