"""What a pure state class asks its shell to do. The shell performs them in order, after `handle` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    """Send `body` to whoever asked (nothing happens for a fire-and-forget message)."""

    body: Any


@dataclass(frozen=True)
class Save:
    """The state changed: write it through to the store before anything else is answered."""


Effect = Reply | Save
