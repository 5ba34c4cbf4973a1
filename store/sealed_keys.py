"""Users' own API keys, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

The encryption key comes from `TZUROT_SECRET_KEY`, or else from the key file (`TZUROT_SECRET_KEY_FILE`, by
default `secret.key` in the data directory), created on first run with mode 0600. The key file should live
apart from the database: a copy of both opens every sealed key. A stored key is only ever decrypted inside the
user's actor, right before the AI call that uses it; it never appears in state snapshots in clear, in logs, in
status output or in exports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from config import ConfigError, is_fernet_key


def ensure_key_file(settings: Any) -> Path:
    """Create the key file once (0600, exclusive create, so two processes cannot both write one) and check that
    it holds a key: a ConfigError naming TZUROT_SECRET_KEY_FILE otherwise (it is never overwritten, as it may
    be the only copy of the key that opens the stored keys)."""
    path = settings.secret_key_path
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        read_key_file(path)
        return path
    with os.fdopen(fd, "wb") as fh:
        fh.write(Fernet.generate_key())
    return path


def read_key_file(path: Path) -> bytes:
    """The key in the file; a ConfigError naming TZUROT_SECRET_KEY_FILE (never showing the content) if none."""
    try:
        text = path.read_bytes().strip().decode("ascii")
    except OSError as exc:
        raise ConfigError(f"TZUROT_SECRET_KEY_FILE: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeError:
        text = ""
    if not is_fernet_key(text):
        raise ConfigError(
            f"TZUROT_SECRET_KEY_FILE: {path} holds no valid Fernet key (44 url-safe base64 characters); restore the "
            "right file, or move it away to start with a new key (users then set their AI keys again)"
        )
    return text.encode()


class KeyBox:
    def __init__(self, secret: bytes) -> None:
        self._fernet = Fernet(secret)

    def __repr__(self) -> str:
        return "KeyBox(<secret>)"

    @classmethod
    def load(cls, settings: Any) -> KeyBox:
        """The box for the configured key: TZUROT_SECRET_KEY if set, else the key file (made if missing)."""
        if settings.secret_key:
            return cls(settings.secret_key.encode())
        return cls(read_key_file(ensure_key_file(settings)))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, token: str) -> str | None:
        """The key in clear, or None when it cannot be decrypted (another secret, or tampered with)."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None
