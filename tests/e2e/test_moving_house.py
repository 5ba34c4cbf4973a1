"""Moving house: a bot that lived a whole session on SQLite is stopped, `bot.py migrate` copies its store into
PostgreSQL, and the bot started on PostgreSQL carries on every conversation (history, personalities, aliases,
activated channels, autorespond, a user's own key)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emulator.ai.replies import key_fingerprint
from store import SqliteStore
from testkit.process import ROOT
from tests.e2e.test_session import carries_on, live_a_session


@pytest.mark.slow  # two bot starts and a whole session: run by make test-slow and .ci/run
def test_a_bot_moved_from_sqlite_to_postgresql_carries_on_every_conversation(make_stack, postgres_url: str) -> None:
    stack = make_stack(env={"TZUROT_USER_BURST": "50"})  # on SQLite, in its data directory
    sb = stack.sandbox
    session = live_a_session(stack)
    sb.command(session.dm, "alice", "!tz auth key sk-alice-moving-789", "Your key is saved")  # sealed, to move
    stack.bot.stop()

    moved = subprocess.run([sys.executable, str(ROOT / "bot.py"), "migrate", "--to", postgres_url], cwd=ROOT,
                           env=stack.bot.env, capture_output=True, text=True, timeout=120)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "Done: every row is in PostgreSQL" in moved.stdout and "1 user(s)' sealed AI keys" in moved.stdout
    sqlite = SqliteStore(stack.bot.data_dir / "tzurot.sqlite3")
    left_behind = list(sqlite.rows())

    stack.bot.env["TZUROT_DATABASE_URL"] = postgres_url
    stack.bot.start()
    carries_on(stack, session)
    sb.command(session.dm, "alice", "with my key after the move", "heard: alice: with my key after the move")
    assert stack.ai.last_requests(1)[0]["key"] == key_fingerprint("sk-alice-moving-789")
    assert list(sqlite.rows()) == left_behind  # it all happened in PostgreSQL: SQLite was not written again
    sqlite.close()
    assert "sk-alice-moving-789" not in moved.stdout + moved.stderr + stack.bot.output()
