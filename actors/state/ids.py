"""What the shell hands a state class besides the clock (`handle(msg, now)`): a source of fresh ids."""

from __future__ import annotations

import itertools
from collections.abc import Callable

IdSource = Callable[[], str]


def counting_ids() -> IdSource:
    """Ids `00000001`, `00000002`, ...: a state class made without a shell (a test) is deterministic. The shell
    hands in random ones (`actors/shell.py`), so a reference id is unique across restarts and processes."""
    numbers = itertools.count(1)
    return lambda: f"{next(numbers):08x}"
