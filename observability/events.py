"""The application's event log (`events.log` in the data directory): what happened to each message.

The edge, every actor process and the Discord REST client append to it (received, addressed, answered,
redelivered, unavailable, ...), each record naming `user`, `channel` and `trigger` where it has them, so that
`bot.py logs --user ID` tells one message's story. It is the same kind of file as the supervisor log, and
`bot.py logs` reads the two together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from observability.jsonlog import JsonLinesLog

FILE = "events.log"


class EventLog(JsonLinesLog):
    WHAT = "events log"

    @classmethod
    def in_dir(cls, data_dir: Path | str, **options: Any) -> EventLog:
        """The event log of the bot whose data directory is `data_dir` (options as for JsonLinesLog)."""
        return cls(Path(data_dir) / FILE, **options)
