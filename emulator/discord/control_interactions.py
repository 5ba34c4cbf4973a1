"""The /_sandbox control routes for interactions: a user invokes a slash command (or types into one of its options,
or submits the modal the bot opened), and anyone reads what the application answered.

`POST /_sandbox/interactions` with `{"channel_id", "user_id", "command": "tz info", "options": {"personality":
"lil"}, "focused": "personality"?}` (with `focused`: an autocomplete), or `{"modal_of": <interaction id>,
"values": {"<text input custom_id>": "..."}}` (the modal's submit, by the user it was shown to). The command
and its options are checked against what the application registered, and a member who lacks the command's
`default_member_permissions` is refused with 403 (Discord's client would not offer it). It answers with the
interaction's state once the application has answered (or the 3 seconds are over); `GET
/_sandbox/interactions/{id}` gives it again later.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .attachments import parse_sandbox_attachments, store_attachment
from .context import CONTEXT_KEY, Context
from .control import _BadRequest, _channel, _json_object, _snowflake, message_summary
from .errors import json_response
from .gateway import Intent
from .interactions import Interaction, InteractionType, InvokeError, build_options, invocable
from .models import Channel
from .payloads import attachment_payload, channel_payload, member_payload, user_payload
from .permissions import ADMINISTRATOR, channel_permissions

_BOT_DM_CONTEXT = 1


def interaction_payload(ctx: Context, interaction: Interaction) -> dict[str, Any]:
    """INTERACTION_CREATE's data, as Discord sends it to a gateway bot."""
    world = ctx.world
    channel = world.channels[interaction.channel_id]
    payload: dict[str, Any] = {
        "id": str(interaction.id),
        "application_id": str(world.bot_id),
        "type": int(interaction.type),
        "data": interaction.data,
        "channel_id": str(channel.id),
        "channel": channel_payload(world, channel),
        "token": interaction.token,
        "version": 1,
        "locale": "en-US",
        "app_permissions": str(channel_permissions(world, channel.id, world.bot_id)),
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(interaction.guild_id or interaction.user_id)},
        "context": 0 if interaction.guild_id is not None else _BOT_DM_CONTEXT,
        "attachment_size_limit": 25 * 1024 * 1024,
    }
    member = world.members.get((interaction.guild_id or 0, interaction.user_id))
    if interaction.guild_id is not None and member is not None:
        payload["guild_id"] = str(interaction.guild_id)
        payload["guild_locale"] = "en-US"
        payload["guild"] = {"id": str(interaction.guild_id), "locale": "en-US", "features": []}
        payload["member"] = {**member_payload(world, member),
                             "permissions": str(channel_permissions(world, channel.id, interaction.user_id))}
    else:
        payload["user"] = user_payload(world.users[interaction.user_id])
    return payload


def _may_use(ctx: Context, command: dict[str, Any], channel: Channel, user_id: int) -> str | None:
    """Why this user cannot invoke `command` here (Discord's client would not offer it), or None."""
    name = command["name"]
    if channel.is_dm:
        contexts = command.get("contexts")
        if command.get("dm_permission") is False or (contexts is not None and _BOT_DM_CONTEXT not in contexts):
            return f"/{name} cannot be used in DMs"
        return None
    needed = command.get("default_member_permissions")
    if needed is None:
        return None
    held = channel_permissions(ctx.world, channel.id, user_id)
    if held & ADMINISTRATOR or (int(needed) and held & int(needed) == int(needed)):
        return None
    return f"user {user_id} lacks the permissions /{name} needs here ({needed})"


def _new_interaction(ctx: Context, body: dict[str, Any]) -> Interaction:
    book = ctx.interactions
    if body.get("modal_of") is not None:
        shown = book.live.get(_snowflake(body["modal_of"], "modal_of"))
        if shown is None or shown.modal is None:
            raise _BadRequest(f"interaction {body['modal_of']} did not open a modal")
        values = body.get("values")
        if not isinstance(values, dict):
            raise _BadRequest('values must be {"<custom_id>": "<text>"}')
        data = {"custom_id": shown.modal.get("custom_id"), "components": _filled(shown.modal, values)}
        return book.open(ctx.world.ids.next(), InteractionType.MODAL_SUBMIT, shown.user_id, shown.channel_id,
                         shown.guild_id, data)
    channel = _channel(ctx, body.get("channel_id"))
    user_id = _snowflake(body.get("user_id"), "user_id")
    if user_id not in ctx.world.users:
        raise _BadRequest(f"unknown user_id {user_id}")
    if channel.is_dm and user_id != channel.recipient_id:
        raise _BadRequest(f"user {user_id} is not the recipient of DM channel {channel.id}")
    if not channel.is_dm and (channel.guild_id, user_id) not in ctx.world.members:
        raise _BadRequest(f"user {user_id} is not a member of channel {channel.id}'s server")
    words = str(body.get("command", "")).lstrip("/").split()
    command = ctx.interactions.find_command(channel.guild_id, words[0]) if words else None
    if command is None:
        raise _BadRequest(f"no command /{' '.join(words[:1])} is registered for this channel")
    refusal = _may_use(ctx, command, channel, user_id)
    if refusal is not None:
        raise _Forbidden(refusal)
    focused = body.get("focused")
    values, files = _uploads(ctx, channel.id, body.get("options") or {})
    try:
        options = build_options(command, words[1:], values, focused)
    except InvokeError as exc:
        raise _BadRequest(str(exc)) from exc
    data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1, "options": options}
    resolved = _resolved(ctx, options, channel.guild_id)
    if files:
        resolved["attachments"] = files
    if resolved:
        data["resolved"] = resolved
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    kind = InteractionType.AUTOCOMPLETE if focused else InteractionType.APPLICATION_COMMAND
    return book.open(ctx.world.ids.next(), kind, user_id, channel.id, channel.guild_id, data)


def _uploads(ctx: Context, channel_id: int, values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """An attachment option is given as `{"filename", "content", "content_type"?}`: uploaded (like a file
    attached in Discord's client), its value is the attachment's id and Discord resolves it."""
    if not isinstance(values, dict):
        raise _BadRequest('options must be {"<name>": <value>}')
    out, files = dict(values), {}
    for name, value in values.items():
        if not isinstance(value, dict):
            continue
        try:
            ((filename, data, kind),) = parse_sandbox_attachments([value])
        except ValueError as exc:
            raise _BadRequest(f"option {name!r}: {exc}") from exc
        attachment = store_attachment(ctx, channel_id, filename, data, kind)
        out[name] = str(attachment.id)
        files[str(attachment.id)] = attachment_payload(attachment)
    return out, files


def _resolved(ctx: Context, options: list[dict[str, Any]], guild_id: int | None) -> dict[str, Any]:
    """The users a command's user options name, as Discord resolves them (and their membership here)."""
    users: dict[str, Any] = {}
    members: dict[str, Any] = {}
    pending = list(options)
    while pending:
        option = pending.pop()
        pending += option.get("options") or []
        if option.get("type") != 6 or option.get("focused"):
            continue
        user = ctx.world.users.get(int(option["value"]))
        if user is None:
            raise _BadRequest(f"unknown user {option['value']} in option {option['name']!r}")
        users[str(user.id)] = user_payload(user)
        member = ctx.world.members.get((guild_id or 0, user.id))
        if member is not None:
            members[str(user.id)] = {**member_payload(ctx.world, member, with_user=False), "permissions": "0"}
    return {"users": users, "members": members} if users else {}


def _filled(modal: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """The modal's text inputs with the user's values, as a MODAL_SUBMIT carries them."""
    rows = []
    known = set()
    for row in modal.get("components") or []:
        inputs = []
        for item in row.get("components") or []:
            cid = item.get("custom_id")
            known.add(cid)
            if item.get("required", True) and not values.get(cid):
                raise _BadRequest(f"the modal's field {cid!r} is required")
            inputs.append({"type": 4, "custom_id": cid, "value": str(values.get(cid, ""))})
        rows.append({"type": 1, "components": inputs})
    if set(values) - known:
        raise _BadRequest(f"the modal has no field(s) {sorted(set(values) - known)}")
    return rows


class _Forbidden(_BadRequest):
    """The user may not invoke this command here."""


def interaction_view(ctx: Context, interaction: Interaction) -> dict[str, Any]:
    book = ctx.interactions

    def shown(message_id: int | None) -> dict[str, Any] | None:
        found = None if message_id is None else (
            book.ephemeral.get(message_id) or ctx.world.message(interaction.channel_id, message_id))
        return None if found is None else message_summary(ctx, found)

    return {
        "id": str(interaction.id),
        "type": int(interaction.type),
        "response": None if interaction.response is None else int(interaction.response),
        "ephemeral": interaction.ephemeral,
        "original": shown(interaction.original_id),
        "followups": [s for s in map(shown, interaction.followups) if s is not None],
        "choices": interaction.choices,
        "modal": interaction.modal,
        "expired": book.initial_window_over(interaction) and interaction.response is None,
    }


async def invoke(request: web.Request) -> web.Response:
    ctx = request.config_dict[CONTEXT_KEY]
    try:
        interaction = _new_interaction(ctx, await _json_object(request))
    except _Forbidden as exc:
        return json_response({"error": str(exc)}, 403)
    ctx.gateway.dispatch("INTERACTION_CREATE", interaction_payload(ctx, interaction), Intent(0),
                         guild_id=interaction.guild_id)
    left = ctx.interactions.initial_window_s - (ctx.interactions.now() - interaction.created)
    try:
        await asyncio.wait_for(interaction.answered.wait(), max(0.0, left) + 0.05)
    except TimeoutError:
        pass
    return json_response(interaction_view(ctx, interaction))


async def show(request: web.Request) -> web.Response:
    ctx = request.config_dict[CONTEXT_KEY]
    interaction = ctx.interactions.live.get(_snowflake(request.match_info["interaction_id"], "interaction id"))
    if interaction is None:
        raise _BadRequest(f"unknown interaction {request.match_info['interaction_id']}")
    return json_response(interaction_view(ctx, interaction))


async def commands_here(request: web.Request) -> web.Response:
    """`GET /_sandbox/commands?channel_id=`: what a user may type after `/` there (the guild's own, then global)."""
    ctx = request.config_dict[CONTEXT_KEY]
    channel = _channel(ctx, request.query.get("channel_id"))
    book = ctx.interactions
    scoped = book.registered(channel.guild_id) if channel.guild_id is not None else []
    names = {c["name"] for c in scoped}
    every = [*scoped, *(c for c in book.registered(None) if c["name"] not in names)]
    return json_response(invocable(every))


def add_routes(app: web.Application) -> None:
    """On the control sub-application (its error middleware answers `_BadRequest` as 400)."""
    app.router.add_post("/interactions", invoke)
    app.router.add_get("/interactions/{interaction_id}", show)
    app.router.add_get("/commands", commands_here)
