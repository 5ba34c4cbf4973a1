"""REST routes for application commands and interaction responses.

Commands: bulk overwrite and list, global or per guild. Responses: the callback (one per interaction, within 3
seconds), then follow-ups and edits through `/webhooks/{application_id}/{token}` for 15 minutes. Those webhook
templates are shared with ordinary webhooks: a request whose id is the application's goes here, any other to
`routes_webhooks`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import actions, routes_webhooks
from .attachments import build_attachments
from .context import ApiCall, Handler, Routes
from .errors import (
    EMPTY_MESSAGE,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_MESSAGE,
    ErrorKind,
    json_response,
    no_content,
)
from .interactions import (
    EPHEMERAL,
    LOADING,
    MAX_CHOICES,
    Callback,
    Interaction,
    InteractionType,
    command_problems,
)
from .lookups import require_guild
from .models import Message
from .payloads import message_payload
from .routes_messages import check_sendable
from .rules import is_empty_message, message_problems
from .schema import Problem

UNKNOWN_APPLICATION = ErrorKind(404, 10002, "Unknown Application")
UNKNOWN_INTERACTION = ErrorKind(404, 10062, "Unknown interaction")
ALREADY_ACKNOWLEDGED = ErrorKind(400, 40060, "Interaction has already been acknowledged.")
NOT_ACKNOWLEDGED = ErrorKind(400, 40061, "Interaction has not been acknowledged.")  # never answered, yet edited
_ANSWERS = {  # what each interaction type may be answered with
    InteractionType.APPLICATION_COMMAND: {Callback.MESSAGE, Callback.DEFERRED_MESSAGE, Callback.MODAL},
    InteractionType.AUTOCOMPLETE: {Callback.AUTOCOMPLETE_RESULT},
    InteractionType.MODAL_SUBMIT: {Callback.MESSAGE, Callback.DEFERRED_MESSAGE},
}


# ---- commands ------------------------------------------------------------------------------------------


def _application(call: ApiCall) -> None:
    if call.id_param("application_id") != call.world.bot_id:
        raise UNKNOWN_APPLICATION()


def _scope(call: ApiCall) -> int | None:
    _application(call)
    if "guild_id" not in call.params:
        return None
    return require_guild(call.world, call.id_param("guild_id")).id


def _command_payload(call: ApiCall, guild_id: int | None, command: dict[str, Any], keep: dict[str, Any] | None
                     ) -> dict[str, Any]:
    """A command as registered: the caller's fields plus its id (kept across overwrites) and version."""
    stored = {k: v for k, v in command.items() if v is not None}
    stored.setdefault("type", 1)
    stored.setdefault("options", [])
    perms = command.get("default_member_permissions")
    stored["default_member_permissions"] = None if perms is None else str(perms)  # Discord answers a string
    stored["id"] = keep["id"] if keep is not None else str(call.world.ids.next())
    stored["application_id"] = str(call.world.bot_id)
    stored["version"] = str(call.world.ids.next())
    if guild_id is not None:
        stored["guild_id"] = str(guild_id)
    return stored


async def put_commands(call: ApiCall) -> web.Response:
    guild_id = _scope(call)
    wanted = [c for c in call.items if isinstance(c, dict)]
    call.reject(command_problems(wanted, global_scope=guild_id is None))
    before = {(c["name"], c["type"]): c for c in call.ctx.interactions.registered(guild_id)}
    stored = [_command_payload(call, guild_id, c, before.get((c["name"], c.get("type") or 1))) for c in wanted]
    call.ctx.interactions.commands[guild_id] = stored
    return json_response(stored)


async def get_commands(call: ApiCall) -> web.Response:
    return json_response(call.ctx.interactions.registered(_scope(call)))


# ---- the callback --------------------------------------------------------------------------------------


def _interaction(call: ApiCall) -> Interaction:
    found = call.ctx.interactions.live.get(call.id_param("interaction_id"))
    if found is None or found.token != call.params["interaction_token"]:
        raise UNKNOWN_INTERACTION()
    return found


async def callback(call: ApiCall) -> web.Response:
    interaction = _interaction(call)
    book = call.ctx.interactions
    if interaction.response is not None:
        raise ALREADY_ACKNOWLEDGED()
    if book.initial_window_over(interaction):
        raise UNKNOWN_INTERACTION()  # what Discord answers once the 3 seconds are over
    kind = Callback(int(call.body["type"]))
    data: dict[str, Any] = call.body.get("data") or {}
    if kind not in _ANSWERS.get(interaction.type, set()):
        call.reject([Problem(("type",), "INTERACTION_RESPONSE_TYPE_INVALID",
                             f"Response type {int(kind)} cannot answer an interaction of type {interaction.type}.")])
    if kind == Callback.AUTOCOMPLETE_RESULT:
        choices = data.get("choices") or []
        call.reject(_choice_problems(choices))
        interaction.choices = list(choices)
    elif kind == Callback.MODAL:
        interaction.modal = dict(data)
    else:
        interaction.ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        body = {**data, "flags": int(data.get("flags") or 0) | (LOADING if kind == Callback.DEFERRED_MESSAGE else 0)}
        if kind == Callback.MESSAGE:
            call.reject(message_problems(data))
            if is_empty_message(data, len(call.files)):
                raise EMPTY_MESSAGE()
        interaction.original_id = _post(call, interaction, body, interaction.ephemeral).id
    interaction.response = kind
    interaction.answered.set()
    if call.query.get("with_response", "false").lower() not in ("true", "1"):
        return no_content()
    return json_response(_callback_response(call, interaction, kind))


def _callback_response(call: ApiCall, interaction: Interaction, kind: Callback) -> dict[str, Any]:
    """`with_response`: the interaction, and the message the callback made (as discord.py asks for them)."""
    about: dict[str, Any] = {"id": str(interaction.id), "type": int(interaction.type), "activity_instance_id": None}
    out: dict[str, Any] = {"interaction": about}
    if interaction.original_id is not None:
        message = call.ctx.interactions.ephemeral.get(interaction.original_id) or call.world.message(
            interaction.channel_id, interaction.original_id)
        about.update(response_message_id=str(interaction.original_id), response_message_ephemeral=interaction.ephemeral,
                     response_message_loading=kind == Callback.DEFERRED_MESSAGE)
        if message is not None:
            out["resource"] = {"type": int(kind), "message": message_payload(call.world, message)}
    return out


def _choice_problems(choices: list[Any]) -> list[Problem]:
    problems = []
    if len(choices) > MAX_CHOICES:
        problems.append(Problem(("data", "choices"), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CHOICES} or fewer."))
    for index, choice in enumerate(choices):
        name = choice.get("name") if isinstance(choice, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            problems.append(Problem(("data", "choices", str(index), "name"), "BASE_TYPE_BAD_LENGTH",
                                    "Must be between 1 and 100 in length."))
    return problems


def _post(call: ApiCall, interaction: Interaction, body: dict[str, Any], ephemeral: bool) -> Message:
    """A message answering the interaction: in the channel for everyone, or kept for its user alone."""
    channel = call.world.channels[interaction.channel_id]
    attachments = build_attachments(call.ctx, channel.id, call.files, body)
    tag = (interaction.id, interaction.user_id)
    if not ephemeral:
        return actions.post_message(call.ctx, channel, call.world.bot, body, attachments=attachments, interaction=tag)
    message = actions.draft_message(call.ctx, channel, call.world.bot, body, attachments=attachments, interaction=tag)
    call.ctx.interactions.keep_ephemeral(message, interaction.user_id)
    return message


# ---- follow-ups and edits (the application's webhook) -----------------------------------------------


def _by_token(call: ApiCall) -> Interaction:
    interaction = call.ctx.interactions.by_token(call.params["webhook_token"])
    if interaction is None or call.ctx.interactions.token_expired(interaction):
        raise INVALID_WEBHOOK_TOKEN()
    return interaction


def _message(call: ApiCall, interaction: Interaction) -> Message:
    """The message a route names: `@original` (a template of its own, no `message_id`) or a follow-up's id."""
    raw = call.params.get("message_id", "@original")
    wanted = interaction.original_id if raw == "@original" else int(raw) if raw.isdigit() else None
    if wanted is None or (wanted != interaction.original_id and wanted not in interaction.followups):
        raise UNKNOWN_MESSAGE()
    found = call.ctx.interactions.ephemeral.get(wanted) or call.world.message(interaction.channel_id, wanted)
    if found is None:
        raise UNKNOWN_MESSAGE()
    return found


def _edit(call: ApiCall, message: Message, body: dict[str, Any]) -> Message:
    attachments = build_attachments(call.ctx, message.channel_id, call.files, body)
    if message.id in call.ctx.interactions.ephemeral:
        updated = actions.edited_message(call.ctx, message, body, attachments)
        call.ctx.interactions.ephemeral[message.id] = updated
        return updated
    return actions.edit_message(call.ctx, message, body, attachments)


async def follow_up(call: ApiCall) -> web.Response:
    """A follow-up; the first one after a deferral fills the "thinking…" message instead, as on Discord."""
    interaction = _by_token(call)
    if interaction.response is None:
        raise NOT_ACKNOWLEDGED()
    check_sendable(call, message_problems(call.body))
    flags = int(call.body.get("flags") or 0)
    book = call.ctx.interactions
    original_id = interaction.original_id
    original = None if original_id is None else (
        book.ephemeral.get(original_id) or call.world.message(interaction.channel_id, original_id))
    if original is not None and original.flags & LOADING:
        body = {**call.body, "flags": original.flags & ~LOADING}
        return json_response(message_payload(call.world, _edit(call, original, body)))
    message = _post(call, interaction, dict(call.body), bool(flags & EPHEMERAL))
    interaction.followups.append(message.id)
    return json_response(message_payload(call.world, message))


async def get_message(call: ApiCall) -> web.Response:
    return json_response(message_payload(call.world, _message(call, _by_token(call))))


async def edit_message(call: ApiCall) -> web.Response:
    interaction = _by_token(call)
    message = _message(call, interaction)
    call.reject(message_problems(call.body))
    body = {**call.body, "flags": message.flags & ~LOADING}
    return json_response(message_payload(call.world, _edit(call, message, body)))


async def delete_message(call: ApiCall) -> web.Response:
    message = _message(call, _by_token(call))
    if call.ctx.interactions.ephemeral.pop(message.id, None) is None:
        actions.delete_message(call.ctx, message)
    return no_content()


def _either(ours: Handler, theirs: Handler | None) -> Handler:
    """The application's id in a webhook route means an interaction's token; any other id is a webhook's."""

    async def route(call: ApiCall) -> web.Response:
        if call.params.get("webhook_id") == str(call.world.bot_id) or theirs is None:
            return await ours(call)
        return await theirs(call)

    return route


_TOKEN = "/webhooks/{webhook_id}/{webhook_token}"
_ONE = _TOKEN + "/messages/{message_id}"
_HOOKS = routes_webhooks.ROUTES
ROUTES: Routes = {
    ("PUT", "/applications/{application_id}/commands"): put_commands,
    ("GET", "/applications/{application_id}/commands"): get_commands,
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"): put_commands,
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands"): get_commands,
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback"): callback,
    ("POST", _TOKEN): _either(follow_up, _HOOKS[("POST", _TOKEN)]),
    ("GET", _TOKEN + "/messages/@original"): _either(get_message, None),
    ("PATCH", _TOKEN + "/messages/@original"): _either(edit_message, None),
    ("DELETE", _TOKEN + "/messages/@original"): _either(delete_message, None),
    ("GET", _ONE): _either(get_message, _HOOKS[("GET", _ONE)]),
    ("PATCH", _ONE): _either(edit_message, _HOOKS[("PATCH", _ONE)]),
    ("DELETE", _ONE): _either(delete_message, _HOOKS[("DELETE", _ONE)]),
}
