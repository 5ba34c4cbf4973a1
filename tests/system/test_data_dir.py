"""Bridge.start makes the data directory private by itself (not only `bot.py`): a looser directory is
tightened to 0700, and what the actor processes write there is 0600 whatever the caller's umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from actors.kinds import Kind
from actors.messages import GetUserSettings, SetAutorespond


def test_bridge_start_makes_the_data_directory_private(make_tree, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "events.log").write_text("")
    (data / "events.log").chmod(0o644)
    key_file = tmp_path / "keys" / "tzurot.key"
    old = os.umask(0o022)  # a caller with the usual umask
    try:
        tree = make_tree({"TZUROT_SECRET_KEY_FILE": str(key_file)}, data_dir=data)
        tree.ask(Kind.USER, 42, SetAutorespond(42, True))
        assert tree.ask(Kind.USER, 42, GetUserSettings(42)).autorespond
    finally:
        assert os.umask(old) == 0o022  # the caller's umask is left as it was
    assert data.stat().st_mode & 0o777 == 0o700
    assert {"tzurot.sqlite3", "supervisor.log", "events.log", "actors.log"} <= {p.name for p in data.iterdir()}
    assert [f"{p.name} {stat.filemode(p.stat().st_mode)}" for p in data.iterdir() if p.stat().st_mode & 0o077] == []
    assert key_file.stat().st_mode & 0o777 == 0o600 and not (data / "secret.key").exists()
