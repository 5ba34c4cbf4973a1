"""Discord's error bodies and JSON responses with the exact Content-Type discord.py insists on."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .schema import Problem

# Real Discord responses pass through a proxy; discord.py treats a 429 without Via as a Cloudflare ban.
VIA_HEADER = {"Via": "1.1 google"}


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """JSON with `Content-Type: application/json` and no charset suffix (discord.py compares exactly)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(
        body=body, status=status, content_type="application/json", headers={**VIA_HEADER, **(headers or {})}
    )


def no_content() -> web.Response:
    return web.Response(status=204, headers=VIA_HEADER)


class DiscordError(Exception):
    """An error answer in Discord's shape: `{"code", "message", "errors"?}`."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self) -> web.Response:
        return json_response(self.body(), self.status)


@dataclass(frozen=True)
class ErrorKind:
    """A Discord error code with its status and wording; calling it makes a fresh exception."""

    status: int
    code: int
    message: str

    def __call__(self) -> DiscordError:
        return DiscordError(self.status, self.code, self.message)


UNAUTHORIZED = ErrorKind(401, 0, "401: Unauthorized")
NOT_FOUND = ErrorKind(404, 0, "404: Not Found")
METHOD_NOT_ALLOWED = ErrorKind(405, 0, "405: Method Not Allowed")
SERVER_ERROR = ErrorKind(500, 0, "500: Internal Server Error")
NOT_IMPLEMENTED = ErrorKind(501, 0, "501: Not implemented by the local Discord emulator")
UNKNOWN_CHANNEL = ErrorKind(404, 10003, "Unknown Channel")
UNKNOWN_GUILD = ErrorKind(404, 10004, "Unknown Guild")
UNKNOWN_MEMBER = ErrorKind(404, 10007, "Unknown Member")
UNKNOWN_MESSAGE = ErrorKind(404, 10008, "Unknown Message")
UNKNOWN_USER = ErrorKind(404, 10013, "Unknown User")
UNKNOWN_WEBHOOK = ErrorKind(404, 10015, "Unknown Webhook")
MAX_WEBHOOKS = ErrorKind(400, 30007, "Maximum number of webhooks reached (15)")
MAX_GUILD_WEBHOOKS = ErrorKind(400, 30058, "Maximum number of webhooks per guild reached (1000)")
REQUEST_TOO_LARGE = ErrorKind(413, 40005, "Request entity too large")
MISSING_ACCESS = ErrorKind(403, 50001, "Missing Access")
DM_CHANNEL_ACTION = ErrorKind(403, 50003, "Cannot execute action on a DM channel")
OTHERS_MESSAGE = ErrorKind(403, 50005, "Cannot edit a message authored by another user")
EMPTY_MESSAGE = ErrorKind(400, 50006, "Cannot send an empty message")
MISSING_PERMISSIONS = ErrorKind(403, 50013, "Missing Permissions")
WRONG_CHANNEL_TYPE = ErrorKind(400, 50024, "Cannot execute action on this channel type")
INVALID_WEBHOOK_TOKEN = ErrorKind(401, 50027, "Invalid Webhook Token")
INVALID_JSON = ErrorKind(400, 50109, "The request body contains invalid JSON.")


def form_errors(problems: Iterable[Problem]) -> dict[str, Any]:
    """Nest problems the way Discord does: `{"embeds": {"0": {"title": {"_errors": [...]}}}}`."""
    tree: dict[str, Any] = {}
    for problem in problems:
        node = tree
        for part in problem.location:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": problem.code, "message": problem.message})
    return tree


def invalid_form_body(problems: Iterable[Problem]) -> DiscordError:
    """The 400 / 50035 answer for request fields Discord refuses."""
    return DiscordError(400, 50035, "Invalid Form Body", form_errors(problems))
