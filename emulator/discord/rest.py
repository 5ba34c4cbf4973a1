"""The REST pipeline under /api/v10: route by the OpenAPI description, authorize, inject faults,
rate-limit, validate, hand to the route's handler, then stamp headers and journal the exchange."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from . import routes_interactions, routes_messages, routes_meta, routes_webhooks
from .context import CONTEXT_KEY, ApiCall, Context, Routes, UploadedFile
from .errors import (
    INVALID_JSON,
    METHOD_NOT_ALLOWED,
    MISSING_ACCESS,
    NOT_FOUND,
    NOT_IMPLEMENTED,
    REQUEST_TOO_LARGE,
    SERVER_ERROR,
    UNAUTHORIZED,
    DiscordError,
    invalid_form_body,
)
from .journal import RequestRecord
from .openapi import Operation, RouteMatch
from .ratelimit import Limited, injected_limit, major_parameter

_log = logging.getLogger(__name__)
API_PREFIX = "/api/v10"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
_READABLE = (None, "application/json", "multipart/form-data")
HANDLERS: Routes = {**routes_meta.ROUTES, **routes_messages.ROUTES, **routes_webhooks.ROUTES,
                    **routes_interactions.ROUTES}
REFUSED_WITH = {"server_error": SERVER_ERROR, "unauthorized": UNAUTHORIZED, "forbidden": MISSING_ACCESS}  # faults


@dataclass
class _Exchange:
    """Facts gathered while answering, journaled once the response is known."""

    at: float
    method: str
    path: str
    route: str | None = None
    channel_id: int | None = None
    thread_id: int | None = None
    webhook_id: int | None = None
    limited: Limited | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def channel_ids(self) -> set[int]:
        return {c for c in (self.channel_id, self.thread_id) if c is not None}

    def record(self, status: int) -> RequestRecord:
        return RequestRecord(
            at=self.at,
            method=self.method,
            path=self.path,
            route=self.route,
            status=status,
            rate_limited=status == 429,
            retry_after=self.limited.retry_after if self.limited else None,
            scope=self.limited.scope if self.limited else None,
            channel_id=self.channel_id,
            webhook_id=self.webhook_id,
        )


async def handle_api(request: web.Request) -> web.StreamResponse:
    ctx = request.config_dict[CONTEXT_KEY]
    exchange = _Exchange(at=time.monotonic(), method=request.method, path=request.path)
    try:
        response = await _answer(ctx, request, exchange)
    except DiscordError as error:
        response = error.response()
    except Exception:  # an emulator bug: answer in Discord's shape so clients do not misread it
        _log.exception("emulator failed on %s %s", request.method, request.path)
        response = SERVER_ERROR().response()
    response.headers.update(exchange.headers)
    ctx.world.journal.record_request(exchange.record(response.status))
    return response


async def _answer(ctx: Context, request: web.Request, exchange: _Exchange) -> web.Response:
    raw = request.rel_url.raw_path.removeprefix(API_PREFIX).strip("/")
    match = ctx.spec.match(request.method, [unquote(s) for s in raw.split("/")])
    if isinstance(match, int):
        problem = f"{request.method} {request.path} is not an operation of the OpenAPI description"
        ctx.world.journal.record_violations(request.method, request.path, [problem])
        raise (NOT_FOUND if match == 404 else METHOD_NOT_ALLOWED)()
    operation = match.operation
    exchange.route = operation.template
    authorized = _authorize(ctx, request, operation)
    _note_subjects(ctx, match, request, exchange)
    refusal = await _apply_faults_and_limits(ctx, request, match, authorized, exchange)
    if refusal is not None:
        return refusal
    body, files, media_type = await _read_body(request)
    problems, unknown = ctx.spec.check_parameters(match, request.query)
    body_problems = ctx.spec.check_body(operation, media_type, body)
    described = [p.describe("params") for p in problems] + [p.describe("body") for p in body_problems]
    ctx.world.journal.record_violations(request.method, request.path, described + unknown)
    if problems or body_problems:
        raise invalid_form_body(problems + body_problems)
    if media_type not in _READABLE:
        raise NOT_IMPLEMENTED()  # e.g. form-urlencoded: valid for Discord, not read by the emulator
    handler = HANDLERS.get((operation.method, operation.template))
    if handler is None:
        raise NOT_IMPLEMENTED()
    items = body if isinstance(body, list) else []
    body = body if isinstance(body, dict) else {}
    call = ApiCall(ctx, request.method, request.path, match.path_params, request.query, body, files, authorized,
                   items)
    return await handler(call)


def _authorize(ctx: Context, request: web.Request, operation: Operation) -> bool:
    """`Bot <token>` must match; routes whose security allows none (webhook token routes) may omit it."""
    header = request.headers.get("Authorization")
    if header is None and not operation.auth_required:
        return False
    if header != f"Bot {ctx.token}":
        raise UNAUTHORIZED()
    return True


def _note_subjects(ctx: Context, match: RouteMatch, request: web.Request, exchange: _Exchange) -> None:
    """Which channel, thread and webhook a request is about, for channel-scoped faults and the journal."""
    params = match.path_params
    if params.get("channel_id", "").isdigit():
        exchange.channel_id = int(params["channel_id"])
    if params.get("webhook_id", "").isdigit():
        exchange.webhook_id = int(params["webhook_id"])
        webhook = ctx.world.webhooks.get(exchange.webhook_id)
        exchange.channel_id = webhook.channel_id if webhook is not None else None
    thread_id = request.query.get("thread_id", "")
    if thread_id.isdigit():
        exchange.thread_id = int(thread_id)


async def _apply_faults_and_limits(
    ctx: Context, request: web.Request, match: RouteMatch, authorized: bool, exchange: _Exchange
) -> web.Response | None:
    """Injected latency/500/429 first, then the real global and per-route limits."""
    delay = ctx.faults.take_latency()
    if delay:
        await asyncio.sleep(delay)
    rule = ctx.limiter.limits.rule_for(request.method, match.operation.template)
    fault = ctx.faults.take(exchange.channel_ids)
    if fault is not None and fault.kind in REFUSED_WITH:
        raise REFUSED_WITH[fault.kind]()
    if fault is not None:
        exchange.limited = injected_limit(rule, fault.seconds, fault.scope)
        return exchange.limited.response()
    # Unauthenticated webhook executions count against the caller's IP, as on Discord.
    identity = "bot" if authorized else f"ip:{request.remote}"
    bucket, limited = ctx.limiter.admit(identity, rule, major_parameter(match.path_params))
    if bucket is not None:
        exchange.headers.update(bucket.headers())
    if limited is not None:
        exchange.limited = limited
        return limited.response()
    return None


Body = dict[str, Any] | list[Any] | None


async def _read_body(request: web.Request) -> tuple[Body, list[UploadedFile], str | None]:
    """JSON bodies as is (an object, or an array where the operation takes one); multipart as its payload_json
    (or plain fields) plus the uploaded files."""
    if not request.body_exists:
        return None, [], None
    media_type = request.content_type
    if media_type == "multipart/form-data":
        return await _read_multipart(request)
    raw = await request.read()
    if not raw:
        return None, [], media_type
    if media_type != "application/json":
        return None, [], media_type
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise INVALID_JSON() from exc
    if not isinstance(body, dict | list):
        raise INVALID_JSON()
    return body, [], media_type


async def _read_multipart(request: web.Request) -> tuple[dict[str, Any] | None, list[UploadedFile], str]:
    reader = await request.multipart()
    payload: dict[str, Any] | None = None
    fields: dict[str, Any] = {}
    files: list[UploadedFile] = []
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.filename is not None:
            chunks = []
            while chunk := await part.read_chunk():
                chunks.append(chunk)
                total += len(chunk)
                if total > MAX_UPLOAD_BYTES:
                    raise REQUEST_TOO_LARGE()
            kind = part.headers.get("Content-Type")
            files.append(UploadedFile(part.name or "", part.filename, kind, b"".join(chunks)))
        elif part.name == "payload_json":
            try:
                payload = json.loads(await part.text())
            except ValueError as exc:
                raise INVALID_JSON() from exc
        elif part.name:
            fields[part.name] = await part.text()
    return (payload if payload is not None else fields or None), files, "multipart/form-data"
