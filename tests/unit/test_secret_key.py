"""The key that encrypts users' API keys: TZUROT_SECRET_KEY is validated with the other settings (never echoed),
and the key file (TZUROT_SECRET_KEY_FILE, by default secret.key in the data directory) is created 0600 where
configured and refused at start when it holds no valid key."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import config
from config import ConfigError, Settings
from store.sealed_keys import KeyBox, ensure_key_file

GOOD = Fernet.generate_key().decode()


@pytest.mark.parametrize(
    "bad",
    ["not-a-key", GOOD[:-4], GOOD + "AAAA", "x" * 44, "secret with spaces and more than enough characters!!"],
    ids=["word", "short", "long", "not-base64", "spaces"],
)
def test_a_bad_secret_key_is_refused_naming_the_variable_without_echoing_it(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load({"TZUROT_SECRET_KEY": bad})
    message = str(caught.value)
    assert message.startswith("TZUROT_SECRET_KEY:")
    assert "Fernet" in message
    assert bad not in message and repr(bad) not in message


def test_a_non_text_secret_key_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "tzurot.toml"
    path.write_text("secret_key = 123456789\n")
    with pytest.raises(ConfigError, match="^TZUROT_SECRET_KEY:") as caught:
        config.load({"TZUROT_CONFIG": str(path)})
    assert "123456789" not in str(caught.value)


def test_a_good_secret_key_is_accepted_and_never_shown() -> None:
    settings = config.load({"TZUROT_SECRET_KEY": GOOD})
    assert settings.secret_key == GOOD
    assert GOOD not in repr(settings)
    assert all(GOOD not in " ".join(row) for row in config.describe())
    assert config.load({}).secret_key == ""  # none: the key file is used


def test_the_key_file_defaults_to_secret_key_in_the_data_directory(tmp_path: Path) -> None:
    settings = config.load({"TZUROT_DATA_DIR": str(tmp_path / "data")})
    assert settings.secret_key_path == tmp_path / "data" / "secret.key"
    elsewhere = config.load({"TZUROT_DATA_DIR": str(tmp_path / "data"),
                             "TZUROT_SECRET_KEY_FILE": str(tmp_path / "secrets" / "tzurot.key")})
    assert elsewhere.secret_key_path == tmp_path / "secrets" / "tzurot.key"


def test_the_key_is_created_at_and_read_from_the_configured_key_file(tmp_path: Path) -> None:
    data, key_file = tmp_path / "data", tmp_path / "secrets" / "tzurot.key"
    settings = Settings(data_dir=data, secret_key_file=str(key_file))
    assert ensure_key_file(settings) == key_file
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.parent.stat().st_mode & 0o777 == 0o700  # a directory it creates is private too
    sealed = KeyBox.load(settings).seal("sk-user-key")
    assert Fernet(key_file.read_bytes().strip()).decrypt(sealed.encode()) == b"sk-user-key"
    assert not data.exists() or "secret.key" not in os.listdir(data)
    assert ensure_key_file(settings) == key_file and KeyBox.load(settings).open(sealed) == "sk-user-key"


def test_the_secret_key_setting_wins_over_the_key_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=GOOD)
    sealed = KeyBox.load(settings).seal("sk-user-key")
    assert Fernet(GOOD.encode()).decrypt(sealed.encode()) == b"sk-user-key"
    assert list(tmp_path.iterdir()) == []  # no key file is made when the key is configured


@pytest.mark.parametrize("content", [b"", b"garbage\n", GOOD[:-4].encode()], ids=["empty", "garbage", "short"])
def test_a_key_file_without_a_valid_key_is_refused_naming_its_setting(tmp_path: Path, content: bytes) -> None:
    key_file = tmp_path / "tzurot.key"
    key_file.write_bytes(content)
    settings = Settings(data_dir=tmp_path / "data", secret_key_file=str(key_file))
    with pytest.raises(ConfigError, match="^TZUROT_SECRET_KEY_FILE: ") as caught:
        ensure_key_file(settings)
    assert str(key_file) in str(caught.value)
    assert key_file.read_bytes() == content  # never overwritten: it may be the only copy of the real key
    default = dataclasses.replace(settings, secret_key_file="", data_dir=tmp_path)
    (tmp_path / "secret.key").write_bytes(content)
    with pytest.raises(ConfigError, match="^TZUROT_SECRET_KEY_FILE: "):
        ensure_key_file(default)


def test_a_key_file_that_cannot_be_read_is_refused_naming_its_setting(tmp_path: Path) -> None:
    (tmp_path / "a-directory").mkdir()
    settings = Settings(data_dir=tmp_path, secret_key_file=str(tmp_path / "a-directory"))
    with pytest.raises(ConfigError, match="^TZUROT_SECRET_KEY_FILE: .*cannot read"):
        ensure_key_file(settings)
