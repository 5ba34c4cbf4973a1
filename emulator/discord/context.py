"""What every handler shares: the world, the gateway, limits and faults, and one parsed REST call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .errors import invalid_form_body
from .faults import Faults
from .gateway import GatewayHub
from .interactions import Interactions
from .openapi import OpenApiSpec
from .ratelimit import RateLimiter
from .schema import Problem
from .world import World


@dataclass
class Context:
    """The running emulator's shared state; `base_url` is known once the socket is bound."""

    world: World
    token: str
    spec: OpenApiSpec
    limiter: RateLimiter
    faults: Faults
    gateway: GatewayHub
    base_url: str = ""
    interactions: Interactions = field(default_factory=Interactions)


CONTEXT_KEY = web.AppKey("discord_emulator_context", Context)


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part and its bytes."""

    field: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class ApiCall:
    """One REST request after routing, auth, limits and schema checks: what a handler works from."""

    ctx: Context
    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: dict[str, Any] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)
    authorized: bool = False
    items: list[Any] = field(default_factory=list)  # a JSON array body (a bulk overwrite of commands)

    @property
    def world(self) -> World:
        return self.ctx.world

    def id_param(self, name: str) -> int:
        """A snowflake path parameter (already checked against the spec)."""
        return int(self.params[name])

    def query_id(self, name: str) -> int | None:
        raw = self.query.get(name)
        return None if raw is None else int(raw)

    def reject(self, problems: Iterable[Problem]) -> None:
        """Record Discord-rule violations and answer 400/50035 if there are any."""
        found = list(problems)
        if found:
            self.world.journal.record_violations(self.method, self.path, (p.describe("rule") for p in found))
            raise invalid_form_body(found)


Handler = Callable[[ApiCall], Awaitable[web.Response]]
Routes = dict[tuple[str, str], Handler]
