"""The data directory holds webhook tokens, DM text and the sealed users' keys: through the real bot, every
file in it is private to the bot's user (0600, the directory 0700), the key file lives where
TZUROT_SECRET_KEY_FILE says, and a bad key stops `bot.py run` at once with one clear line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from store import SqliteStore
from testkit.process import BotProcess, free_port

KEY = "sk-user-key-for-the-key-file-test"


def loose(root: Path) -> list[str]:
    """Every file or directory under `root` that someone other than its owner could read, write or enter."""
    return [f"{p.relative_to(root)} {stat.filemode(p.stat().st_mode)}" for p in root.rglob("*")
            if p.stat().st_mode & 0o077]


def test_every_file_the_bot_writes_is_private_and_a_loose_directory_is_tightened(make_stack, tmp_path) -> None:
    data = tmp_path / "data0"  # where make_stack's first stack keeps its data
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    earlier = data / "supervisor.log"  # left by an earlier version, world-readable
    earlier.write_text("")
    earlier.chmod(0o644)

    stack = make_stack()
    sb = stack.sandbox
    general, dm = sb.channel("general"), sb.dm("alice")
    sb.command(general, "alice", "!tz add lilith", "Added")
    sb.command(general, "alice", "@lilith hello", "")
    sb.command(dm, "alice", "@lilith hello in private", "")
    stack.status()

    names = {p.name for p in data.iterdir()}
    expected = {"tzurot.sqlite3", "supervisor.log", "events.log", "actors.log", "secret.key", "discord-gate"}
    assert expected <= names, names
    assert any(n.startswith("ai-breaker-") for n in names), names
    assert data.stat().st_mode & 0o777 == 0o700
    assert loose(data) == []
    tightened = [line for line in stack.bot.output().splitlines() if "0755" in line and "0700" in line]
    assert len(tightened) == 1 and str(data) in tightened[0], stack.bot.output()

    stack.bot.stop()  # what shutting down writes is private too
    assert data.stat().st_mode & 0o777 == 0o700 and loose(data) == []


def test_the_key_file_lives_where_tzurot_secret_key_file_says(make_stack, tmp_path) -> None:
    key_file = tmp_path / "secrets" / "tzurot.key"
    stack = make_stack(env={"TZUROT_SECRET_KEY_FILE": str(key_file)})
    sb = stack.sandbox
    dm = sb.dm("alice")
    sb.command(dm, "alice", f"!tz auth key {KEY}", "Your key is saved")
    stack.bot.stop()

    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not list(stack.bot.data_dir.rglob("secret.key"))
    store = SqliteStore(stack.bot.data_dir / "tzurot.sqlite3")
    try:
        sealed = store.load("user", str(sb.user("alice"))).state["sealed_key"]
    finally:
        store.close()
    assert Fernet(key_file.read_bytes().strip()).decrypt(sealed.encode()).decode() == KEY


def refused(tmp_path: Path, env: dict[str, str]) -> tuple[int | None, str]:
    """`python bot.py run` that must refuse to start: its exit code and everything it printed. If it starts
    instead, it is stopped (with every process it started) and the test fails."""
    bot = BotProcess({"DISCORD_TOKEN": "token", "DISCORD_API_BASE": f"http://127.0.0.1:{free_port()}/api/v10",
                      "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{free_port()}", "TZUROT_HTTP_PORT": "0",
                      "AI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
                      "TZUROT_ACTOR_ADMIN_PORT": str(free_port()), **env}, tmp_path / "data")
    code: int | None = None
    try:
        code = bot.run_to_end(timeout=60)
    finally:
        if code is None or bot.supervisor_log():  # it started an actor system: stop all of it
            bot.stop(strict=False)
    return code, (bot.output() if code is not None else "")


@pytest.mark.parametrize("bad", ["not-a-fernet-key", Fernet.generate_key().decode()[:-2]], ids=["word", "short"])
def test_a_bad_secret_key_stops_the_bot_at_once_naming_the_variable(tmp_path: Path, bad: str) -> None:
    code, output = refused(tmp_path, {"TZUROT_SECRET_KEY": bad})
    assert code != 0
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "TZUROT_SECRET_KEY" in lines[0] and "configuration error" in lines[0]
    assert bad not in output and "Traceback" not in output
    assert not (tmp_path / "data" / "supervisor.log").exists()  # no actor ever started


def test_a_key_file_without_a_valid_key_stops_the_bot_at_once_naming_its_setting(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "secret.key"
    key_file.parent.mkdir(mode=0o700)
    key_file.write_text("this is no fernet key\n")
    key_file.chmod(0o600)
    code, output = refused(tmp_path, {})
    assert code != 0
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "TZUROT_SECRET_KEY_FILE" in lines[0] and str(key_file) in lines[0]
    assert "Traceback" not in output
    assert key_file.read_text() == "this is no fernet key\n"  # left as it was: it may be the only copy
    assert not (tmp_path / "data" / "supervisor.log").exists()  # no actor ever started
