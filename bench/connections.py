"""The bot's PostgreSQL connections, counted from `pg_stat_activity` (capacity with `--store postgresql`).

An actor process's connection is named `tzurot pid N` (store/pgconn.py), the edge's routing feed
`tzurot route feed`. Behind PgBouncer the bot's connections end at PgBouncer and what PostgreSQL sees is
its server pool; so both are counted: sessions named by the bot, and every session on the database.
"""

from __future__ import annotations

import threading
from typing import Any

DIRECT: dict[str, str] = {}  # "url": the database itself while a PostgreSQL run is on ("bouncer": its pool size)


def count(url: str) -> tuple[int, int]:
    """(every other session on the database, those an actor process opened)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, application_name="bench sampler") as conn:
        total, actors = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE application_name LIKE 'tzurot pid %%')"
            " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(total), int(actors)


class Sampler:
    """Samples the counts every `period_s` in a thread; keeps the peaks."""

    def __init__(self, url: str, period_s: float = 0.5) -> None:
        self.url, self.period_s = url, period_s
        self.peak_total = self.peak_actors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-pg-sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                total, actors = count(self.url)
            except Exception:  # noqa: BLE001 - a missed sample is not a failed run
                total = actors = 0
            self.peak_total, self.peak_actors = max(self.peak_total, total), max(self.peak_actors, actors)
            self._stop.wait(self.period_s)


def figures(sampler: Sampler, busy: tuple[int, int], idle: tuple[int, int], live_users: int) -> dict[str, Any]:
    """What capacity reports about connections: peaks over the run, right after the ramp, and once idle."""
    per_1000 = 1000 / max(1, live_users)
    return {
        "pgbouncer_pool": DIRECT.get("bouncer", "none"),
        "pg_sessions_peak": sampler.peak_total,
        "pg_actor_connections_peak": sampler.peak_actors,
        "pg_sessions_after_ramp": busy[0],
        "pg_sessions_idle": idle[0],
        "pg_actor_connections_idle": idle[1],
        "pg_sessions_peak_per_1000_live_users": round(sampler.peak_total * per_1000, 1),
    }
