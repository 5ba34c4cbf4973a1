"""The supervisor log (`supervisor.log`): what the supervisors did (started, restarted, parked, ...) and why.

The file is a shared JSON-lines log (observability/jsonlog.py); this name says which one a caller writes.
"""

from __future__ import annotations

from observability.jsonlog import JsonLinesLog


class SupervisorLog(JsonLinesLog):
    """The supervision tree's own log; it echoes to stderr (info and up) unless told otherwise."""

    WHAT = "supervisor log"
