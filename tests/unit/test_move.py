"""Moving house (store/move.py, `bot.py migrate`): a SQLite store's every row arrives in PostgreSQL as it was,
the report counts and checks them, and running it again changes nothing."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

import bot
from store import SqliteStore
from store.memories import Memories
from store.move import move
from store.postgres import PostgresStore


def filled(path: Path) -> SqliteStore:
    """A store with a bit of everything: versions above 1, a sealed key, typed routes, work, a quarantined row."""
    s = SqliteStore(path)
    s.save("user", "42", {"sealed_key": "gAAAA-sealed", "aliases": {"bob": "lilith"}}, 0, 1)
    s.save("user", "42", {"sealed_key": "gAAAA-sealed", "aliases": {"bob": "lilith", "x": "y"}}, 1, 1)
    s.save("personality", "lilith", {"name": "Lilith", "owner": 42}, 0, 2)
    s.save("channel", "7", {"pool": []}, 0, 1)
    s.put_route("alias", "0123", "lilith")  # text that looks like a number stays text
    s.put_route("activated", 7, "lilith")
    s.put_route("conversation", 8, 2_000_000_000.5)
    s.work_open(1_200_000_000_000_000_001, 7, 42, {"content": "hi"}, now=1000.0)
    s.work_done(1_200_000_000_000_000_001, 555)
    s.work_open(1_200_000_000_000_000_002, 7, 42, {"content": "still open"}, now=1001.0)
    s.put_raw("user", "13", msgpack.packb([1, 2]))
    assert s.load("user", "13").quarantined  # moved aside
    Memories(s).add(42, "lilith", 7, False, "alice: my cat is Biscuit\nLilith: lovely", 1002.0)
    Memories(s).add(42, "lilith", 7, True, "alice: I live in Oslo\nLilith: cold!", 1003.0, vector=b"\x00\x01\x02\x03")
    return s


def test_every_row_arrives_as_it_was_and_the_report_says_so(tmp_path: Path, postgres_url: str) -> None:
    source, target = filled(tmp_path / "tzurot.sqlite3"), PostgresStore(postgres_url)
    report = move(source, target, "here", postgres_url)

    assert report.ok and report.sealed_keys == 1
    assert {name: (t.source, t.copied, t.present) for name, t in report.tables.items()} == {
        "actor_state": (3, 3, 0), "routes": (3, 3, 0), "work": (2, 2, 0), "quarantine": (1, 1, 0),
        "memories": (2, 2, 0)}
    assert Memories(target).rows() == Memories(source).rows()
    # an embedding comes with its memory: recall by meaning works on the copy as it did before
    assert [(text, vector) for _, text, _, vector in Memories(target).vectors(42, "lilith", True)] == [
        ("alice: I live in Oslo\nLilith: cold!", b"\x00\x01\x02\x03")]
    assert Memories(target).search(42, "lilith", "Biscuit", False, 5)[0][1].startswith("alice: my cat")  # indexed
    assert list(target.rows()) == list(source.rows())  # versions and bytes included
    assert sorted(target.routes()) == sorted(source.routes())
    assert ("alias", "0123", "lilith") in target.routes()
    assert target.work_rows() == source.work_rows()
    assert target.quarantine_rows() == source.quarantine_rows()
    # the bot carries on from the copy: the next save names the version it read
    assert target.save("user", "42", {"sealed_key": None}, 2, 1) == 3
    source.close()
    target.close()


def test_moving_twice_changes_nothing_and_a_newer_row_in_postgresql_is_kept(tmp_path: Path, postgres_url: str) -> None:
    source, target = filled(tmp_path / "tzurot.sqlite3"), PostgresStore(postgres_url)
    move(source, target, "here", postgres_url)
    target.save("channel", "7", {"pool": ["newer"]}, 1, 1)  # the bot has run on PostgreSQL since

    again = move(source, target, "here", postgres_url)
    assert again.ok
    assert {name: (t.copied, t.present, len(t.kept)) for name, t in again.tables.items()} == {
        "actor_state": (0, 2, 1), "routes": (0, 3, 0), "work": (0, 2, 0), "quarantine": (0, 1, 0),
        "memories": (0, 2, 0)}  # each once
    assert target.load("channel", "7").state == {"pool": ["newer"]}
    assert any("kept actor_state channel/7" in line for line in again.lines())
    assert len(target.quarantine_rows()) == 1 and len(target.work_rows()) == 2
    source.close()
    target.close()


def test_the_command_moves_a_data_directory_and_never_prints_the_password(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    filled(tmp_path / "tzurot.sqlite3").close()
    monkeypatch.setenv("TZUROT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TZUROT_DATABASE_URL", raising=False)
    with_password = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:trusted-anyway@")
    assert bot.main(["migrate", "--to", with_password]) == 0
    out = capsys.readouterr().out
    assert "Done: every row is in PostgreSQL" in out and "postgres:***@" in out and "trusted-anyway" not in out
    assert bot.main(["migrate", "--to", with_password]) == 0  # again: harmless
    assert "already there" in capsys.readouterr().out


def test_the_command_refuses_a_bad_target_and_an_empty_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZUROT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TZUROT_DATABASE_URL", raising=False)
    assert bot.main(["migrate"]) == 2
    assert "--to postgresql://" in capsys.readouterr().err
    assert bot.main(["migrate", "--to", "mysql://u:hunter2@h/db"]) == 2
    err = capsys.readouterr().err
    assert "--to: mysql://u:***@h/db is not usable" in err and "hunter2" not in err
    assert bot.main(["migrate", "--to", "postgresql://u@127.0.0.1:1/db"]) == 2
    assert "nothing to move" in capsys.readouterr().out
    (tmp_path / "tzurot.sqlite3").touch()
    assert bot.main(["migrate", "--to", "postgresql://u:hunter2@127.0.0.1:1/db"]) == 1
    out = capsys.readouterr().out
    assert "cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:1/db" in out and "hunter2" not in out
