"""An in-memory store with the same interface and the same stale-write rule, for tests of one actor."""

from __future__ import annotations

from typing import Any

from store.sqlite import Record, StaleWrite, decode, encode


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[int, int, bytes]] = {}  # (kind, key) -> (schema, version, data)
        self.saves = 0
        self.route_rows: dict[tuple[str, int | str], Any] = {}
        self.work: dict[int, dict[str, Any]] = {}

    def load(self, kind: str, key: str) -> Record:
        row = self.rows.get((kind, key))
        if row is None:
            return Record(None, 0)
        schema, version, data = row
        return Record(decode(data), version, schema)

    def load_all(self, kind: str) -> dict[str, Record]:
        return {key: self.load(k, key) for (k, key) in list(self.rows) if k == kind}

    def delete(self, kind: str, key: str, expected_version: int | None = None) -> None:
        current = self.rows.get((kind, key), (0, 0, b""))[1]
        if expected_version is not None and current != expected_version:
            raise StaleWrite(f"{kind}/{key}: row changed since version {expected_version}")
        self.rows.pop((kind, key), None)

    def save(self, kind: str, key: str, state: dict[str, Any], expected_version: int, schema: int) -> int:
        current = self.rows.get((kind, key), (0, 0, b""))[1]
        if current != expected_version:
            raise StaleWrite(f"{kind}/{key}: row changed since version {expected_version}")
        self.rows[(kind, key)] = (schema, current + 1, encode(state))
        self.saves += 1
        return current + 1

    def put_route(self, kind: str, key: int | str, value: Any) -> None:
        if value is None or value is False:
            self.route_rows.pop((kind, key), None)
        else:
            self.route_rows[(kind, key)] = value

    def expire_routes(self, kind: str, now: float) -> int:
        ended = [k for k, v in self.route_rows.items() if k[0] == kind and float(v) <= now]
        for k in ended:
            del self.route_rows[k]
        return len(ended)

    def routes(self, on_bad: Any = None) -> list[tuple[str, int | str, Any]]:
        return [(k, key, v) for (k, key), v in self.route_rows.items()]

    def work_open(
        self, message_id: int, channel_id: int, user_id: int, incoming: dict[str, Any], due_in_s: float = 20.0
    ) -> bool:
        if message_id in self.work:
            return False
        self.work[message_id] = {"channel_id": channel_id, "user_id": user_id, "incoming": incoming,
                                 "state": "open", "reply_id": None, "acked": None}
        return True

    def work_ack(self, message_id: int, patience_s: float, now: float | None = None) -> None:
        if message_id in self.work and self.work[message_id]["state"] == "open":
            self.work[message_id]["acked"] = now

    def work_open_for_user(self, user_id: int, newer_than_s: float = 3600.0, limit: int = 50) -> list[dict[str, Any]]:
        rows = sorted((m, w) for m, w in self.work.items() if w["user_id"] == user_id and w["state"] == "open")
        return [w["incoming"] for _, w in rows[:limit]]

    def work_done(self, message_id: int, reply_id: int | None) -> None:
        if message_id in self.work:
            self.work[message_id].update(state="done", reply_id=reply_id)

    def close(self) -> None:
        pass
