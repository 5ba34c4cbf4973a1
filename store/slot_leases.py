"""The operator's AI slots in a shared cell (`Call("lease", ...)` from a user's actor and the Slots actor).

A user's actor takes a slot here directly, with no round trip to the Slots actor, while fewer are in use than
the limit the Slots actor published and nobody waits in its line; otherwise it asks that actor, which grants
from here for the next in its line. Each slot is a lease: a holder whose process is gone (checked on its own
host), or whose lease ran out (an actor killed mid-call, on any host), frees its slot at the next look.

The slots are a few bytes in a shared cell (`store/cells.py`: a locked file beside the Discord gate's, or a
PostgreSQL row when the bot uses one), so every process, on every host, sees the same slots.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

from store.cells import Cell, open_cell

_HEAD = struct.Struct("<ii")  # limit published by the Slots actor (0: none yet), users waiting in its line
_SLOT = struct.Struct("<qqiId")  # user, trigger, pid (0: granted, not yet claimed), host, lease ends at
Lease = tuple[int, int, int, int, float]
HOST = zlib.crc32(socket.gethostname().encode())  # a pid is checked only on the host it belongs to


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SlotLeases:
    def __init__(self, cell: Cell, ceiling: int, lease_s: float,
                 alive: Callable[[int], bool] = pid_alive, clock: Callable[[], float] = time.time) -> None:
        self.cell, self.ceiling, self.lease_s = cell, ceiling, lease_s
        self.alive, self.clock = alive, clock

    def take(self, user: int, trigger: int) -> bool:
        """The fast path: a slot for `user` if one is free and nobody waits (or `user` holds one already)."""
        return self._hold(user, trigger, os.getpid(), fast=True)

    def grant(self, user: int, trigger: int) -> bool:
        """For the Slots actor's line: a slot for `user` if fewer than the limit are in use (the line may wait)."""
        return self._hold(user, trigger, 0, fast=False)

    def claim(self, user: int, trigger: int) -> None:
        """The granted user's process takes its slot over (so that its death frees the slot at once)."""
        def step(limit: int, waiting: int, slots: list[Lease]) -> tuple[tuple[int, int, list[Lease]], None]:
            mine = self._lease(user, trigger, os.getpid())
            return (limit, waiting, [s for s in slots if s[0] != user] + [mine]), None
        self._update(step)

    def release(self, user: int, trigger: int) -> int:
        """Free `user`'s slot for `trigger` (never a newer one's); returns how many stay in use."""
        def step(limit: int, waiting: int, slots: list[Lease]) -> tuple[tuple[int, int, list[Lease]], int]:
            kept = [s for s in slots if (s[0], s[1]) != (user, trigger)]
            return (limit, waiting, kept), len(kept)
        return self._update(step)

    def publish(self, limit: int, waiting: int) -> None:
        """The Slots actor's limit now, and how many wait in its line."""
        self._update(lambda _limit, _waiting, slots: ((limit, waiting, slots), None))

    def in_use(self) -> int:
        return self._update(lambda limit, waiting, slots: ((limit, waiting, slots), len(slots)))

    def view(self) -> tuple[int, int, list[Lease]]:
        """(limit, waiting, the live leases): for tests and status."""
        return self._decode(self.cell.peek())

    def close(self) -> None:
        close = getattr(self.cell, "close", None)
        if close is not None:
            close()

    def _hold(self, user: int, trigger: int, pid: int, fast: bool) -> bool:
        def step(limit: int, waiting: int, slots: list[Lease]) -> tuple[tuple[int, int, list[Lease]] | None, bool]:
            mine = [s for s in slots if s[0] == user]
            if not mine and (limit <= 0 or len(slots) >= min(limit, self.ceiling) or (fast and waiting)):
                return None, False
            lease = self._lease(user, trigger, pid or (mine[0][2] if mine else 0))  # a re-grant keeps its holder
            return (limit, waiting, [s for s in slots if s[0] != user] + [lease]), True
        return self._update(step)

    def _lease(self, user: int, trigger: int, pid: int) -> Lease:
        return user, trigger, pid, HOST, self.clock() + self.lease_s

    def _update(self, step: Callable[[int, int, list[Lease]], tuple[Any, Any]]) -> Any:
        def on_bytes(raw: bytes) -> tuple[bytes | None, Any]:
            new, result = step(*self._decode(raw))
            return (None if new is None else self._encode(*new)), result
        return self.cell.update(on_bytes)

    def _decode(self, raw: bytes) -> tuple[int, int, list[Lease]]:
        """The head and the slots still held: a lease past its end, or of a process gone from this host, is
        dropped."""
        if len(raw) < _HEAD.size:
            return 0, 0, []
        limit, waiting = _HEAD.unpack_from(raw)
        now, slots = self.clock(), []
        for at in range(_HEAD.size, len(raw) - _SLOT.size + 1, _SLOT.size):
            lease = _SLOT.unpack_from(raw, at)
            user, _, pid, host, until = lease
            if user and until >= now and not (pid and host == HOST and not self.alive(pid)):
                slots.append(lease)
        return limit, waiting, slots

    def _encode(self, limit: int, waiting: int, slots: list[Lease]) -> bytes:
        return _HEAD.pack(limit, waiting) + b"".join(_SLOT.pack(*s) for s in slots[: self.ceiling])


def slot_leases_for(settings: Any) -> SlotLeases:
    """The bot's slots (a cell beside the Discord gate's), with a lease longer than an AI call may take."""
    return SlotLeases(open_cell(settings, "ai-slots"), settings.ai_slots, settings.ai_timeout_s + 30.0)
