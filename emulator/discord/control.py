"""The /_sandbox control routes: act as users, inspect the world, read violations, inject faults, drive the
gateway (reconnect, end sessions, an outage)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import actions
from .attachments import attachment_summary, parse_sandbox_attachments, store_attachment
from .context import CONTEXT_KEY, Context
from .errors import json_response
from .faults import parse_fault
from .interactions import LOADING
from .models import Channel, Message
from .snowflake import snowflake_iso

PREFIX = "/_sandbox"


class _BadRequest(Exception):
    """A control request that cannot be carried out; the text is sent back as `{"error": ...}`."""


def _snowflake(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise _BadRequest(f"{what} must be a snowflake id (digits), got {value!r}")


def _channel(ctx: Context, raw: Any) -> Channel:
    channel = ctx.world.channels.get(_snowflake(raw, "channel_id"))
    if channel is None:
        raise _BadRequest(f"unknown channel_id {raw}")
    return channel


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise _BadRequest("body must be JSON") from exc
    if not isinstance(body, dict):
        raise _BadRequest("body must be a JSON object")
    return body


def message_summary(ctx: Context, message: Message) -> dict[str, Any]:
    """A message as the sandbox reports it (a flat view, not Discord's payload)."""
    return {
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "content": message.content,
        "author": {"id": str(message.author.id), "username": message.author.username, "bot": message.author.bot},
        "webhook_id": None if message.webhook_id is None else str(message.webhook_id),
        "application_id": None if message.application_id is None else str(message.application_id),
        "reply_to": None if message.reply_to is None else str(message.reply_to),
        "mention_everyone": message.mentions.everyone,
        "mentions": [str(u) for u in message.mentions.users],
        "attachments": [attachment_summary(ctx, a) for a in message.attachments],
        "edited": message.edited_at is not None,
        "timestamp": snowflake_iso(message.id),
        "avatar_url": message.avatar_url,
        "ephemeral": message.id in ctx.interactions.ephemeral,  # seen by the interaction's user alone
        "loading": bool(message.flags & LOADING),  # a deferred interaction's "thinking…", not answered yet
    }


async def post_user_message(request: web.Request) -> web.Response:
    """A human posts: recorded, then MESSAGE_CREATE over the gateway (a reply when reply_to is given).

    Optional `attachments`: up to 4 `{"filename", "content" (text), "content_type"?}` of at most 512 KiB each,
    stored and served at each attachment's url like an upload to Discord."""
    ctx = request.config_dict[CONTEXT_KEY]
    body = await _json_object(request)
    channel = _channel(ctx, body.get("channel_id"))
    author = body.get("author")
    if not isinstance(author, dict) or not isinstance(author.get("username"), str) or not author["username"]:
        raise _BadRequest('author must be {"id", "username"}')
    author_id = _snowflake(author.get("id"), "author.id")
    content = body.get("content")
    if not isinstance(content, str):
        raise _BadRequest("content must be a string")
    if channel.is_dm and author_id not in (channel.recipient_id, ctx.world.bot_id):
        raise _BadRequest(f"user {author_id} is not the recipient of DM channel {channel.id}")
    reply_to = None
    if body.get("reply_to") is not None:
        reply_to = _snowflake(body["reply_to"], "reply_to")
        if ctx.world.message(channel.id, reply_to) is None:
            raise _BadRequest(f"reply_to {reply_to} is not a message in channel {channel.id}")
    try:
        uploads = parse_sandbox_attachments(body.get("attachments"))
    except ValueError as exc:
        raise _BadRequest(str(exc)) from exc
    user = actions.ensure_user(ctx, author_id, author["username"], channel)
    attachments = [store_attachment(ctx, channel.id, name, data, kind) for name, data, kind in uploads]
    message = actions.post_message(ctx, channel, user, {"content": content}, reply_to=reply_to, attachments=attachments)
    return json_response({"id": str(message.id)})


async def channel_messages(request: web.Request) -> web.Response:
    """What everyone sees in the channel; with `?as=<user id>`, also the ephemeral messages meant for that user."""
    ctx = request.config_dict[CONTEXT_KEY]
    channel = _channel(ctx, request.match_info["channel_id"])
    viewer = request.query.get("as")
    mine = ctx.interactions.visible_to(channel.id, _snowflake(viewer, "as")) if viewer else []
    seen = sorted([*ctx.world.messages(channel.id), *mine], key=lambda m: m.id)
    return json_response([message_summary(ctx, m) for m in seen])


async def state(request: web.Request) -> web.Response:
    world = request.config_dict[CONTEXT_KEY].world
    guilds = [
        {
            "id": str(guild.id),
            "name": guild.name,
            "channels": [
                {
                    "id": str(c.id),
                    "name": c.name,
                    "type": int(c.type),
                    "nsfw": c.nsfw,
                    "parent_id": None if c.parent_id is None else str(c.parent_id),
                }
                for c in world.channels.values()
                if c.guild_id == guild.id
            ],
        }
        for guild in world.guilds.values()
    ]
    return json_response(
        {
            "guilds": guilds,
            "users": [{"id": str(u.id), "username": u.username, "bot": u.bot} for u in world.users.values()],
            "dm_channels": [
                {"id": str(c.id), "user_id": str(c.recipient_id)} for c in world.channels.values() if c.is_dm
            ],
            "webhooks": [
                {"id": str(w.id), "channel_id": str(w.channel_id), "name": w.name} for w in world.webhooks.values()
            ],
        }
    )


async def violations(request: web.Request) -> web.Response:
    journal = request.config_dict[CONTEXT_KEY].world.journal
    return json_response([v.as_dict() for v in journal.violations()])


async def add_fault(request: web.Request) -> web.Response:
    ctx = request.config_dict[CONTEXT_KEY]
    try:
        fault = parse_fault(await _json_object(request))
    except ValueError as exc:
        raise _BadRequest(str(exc)) from exc
    if fault.kind == "delete_webhooks":
        channel = _channel(ctx, fault.channel_id)
        doomed = ctx.world.webhooks_in(channel.id)
        actions.delete_webhooks(ctx, doomed)
        return json_response({"kind": fault.kind, "deleted": [str(w.id) for w in doomed]})
    if fault.channel_id is not None:
        _channel(ctx, fault.channel_id)
    ctx.faults.add(fault)
    return json_response({"kind": fault.kind, "count": fault.count, "seconds": fault.seconds})


GATEWAY_ACTIONS = ("reconnect", "end_sessions", "outage", "restore")


async def gateway_state(request: web.Request) -> web.Response:
    return json_response(request.config_dict[CONTEXT_KEY].gateway.view())


async def gateway_action(request: web.Request) -> web.Response:
    """Drive the gateway as Discord may: `reconnect` (op 7: clients RESUME, nothing is lost), `end_sessions`
    (op 9, not resumable: clients IDENTIFY anew and what they missed is not replayed), `outage` (connections
    closed, sessions ended, a new IDENTIFY waits for its READY) until `restore`. Answers the gateway's state."""
    gateway = request.config_dict[CONTEXT_KEY].gateway
    action = (await _json_object(request)).get("action")
    if action == "reconnect":
        gateway.request_reconnect()
    elif action == "end_sessions":
        gateway.end_sessions()
    elif action == "outage":
        await gateway.outage()
    elif action == "restore":
        gateway.restore()
    else:
        raise _BadRequest(f"action must be one of {', '.join(GATEWAY_ACTIONS)}")
    return json_response({"action": action, **gateway.view()})


@web.middleware
async def _bad_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except _BadRequest as exc:
        return json_response({"error": str(exc)}, 400)


def control_app() -> web.Application:
    """A sub-application mounted at /_sandbox; it shares the parent's context."""
    app = web.Application(middlewares=[_bad_requests])
    app.router.add_post("/messages", post_user_message)
    app.router.add_get("/channels/{channel_id}/messages", channel_messages)
    app.router.add_get("/state", state)
    app.router.add_get("/violations", violations)
    app.router.add_post("/faults", add_fault)
    app.router.add_get("/gateway", gateway_state)
    app.router.add_post("/gateway", gateway_action)
    return app
