"""Users' own API keys, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

The encryption key comes from `TZUROT_SECRET_KEY`, or else from `secret.key` in the data directory, created
on first run with mode 0600. A stored key is only ever decrypted inside the user's actor, right before the
AI call that uses it; it never appears in state snapshots in clear, in logs, in status output or in exports.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


def ensure_key_file(data_dir: Path) -> Path:
    """Create the key file once (0600, exclusive create, so two processes cannot both write one)."""
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "wb") as fh:
        fh.write(Fernet.generate_key())
    return path


class KeyBox:
    def __init__(self, secret: bytes) -> None:
        self._fernet = Fernet(secret)

    def __repr__(self) -> str:
        return "KeyBox(<secret>)"

    @classmethod
    def load(cls, data_dir: Path, environ: dict[str, str] | None = None) -> KeyBox:
        env = os.environ if environ is None else environ
        if env.get("TZUROT_SECRET_KEY"):
            return cls(env["TZUROT_SECRET_KEY"].encode())
        return cls(ensure_key_file(data_dir).read_bytes().strip())

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, token: str) -> str | None:
        """The key in clear, or None when it cannot be decrypted (another secret, or tampered with)."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None
