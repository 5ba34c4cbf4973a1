"""The slash commands on discord.py's `app_commands`: `/tz <command>` for everyone's commands, and `/activate`,
`/deactivate`, `/blacklist` apart, since Discord lets a server hide a whole command (not a sub-command) from
members without a permission (`default_member_permissions`).

A slash command is deferred at once (Discord's 3-second window; private unless `edge/slash.py` says otherwise),
then read into the same `!tz` command text and handed, written down first, to the same actors as a prefix
command (`Edge.record_and_hand_on`); the channel's actor answers the interaction instead of the channel. `auth
key` opens a modal, so a key is typed where nobody else sees it. Autocomplete asks the catalogue (2 s at most).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands

from actors.kinds import Kind
from actors.messages import Author, Incoming, Interaction, NameSuggestions, Place, SuggestNames
from actors.state.command_help import COMMANDS, CONFIG_KEYS
from edge.slash import KEY_FIELD, MODAL_ID, command_text, definitions_hash, ephemeral, modal_value, problem
from edge.translate import PERMISSIONS, place_of, utf8

if TYPE_CHECKING:
    from edge.client import Edge

log = logging.getLogger("tzurot.edge")
SUGGEST_TIMEOUT_S = 2.0  # inside Discord's 3 seconds, with room for the callback
HASH_ROW = ("meta", "slash_commands")  # the definitions last registered, and where


def _about(name: str) -> str:
    return COMMANDS[name].summary[:100]


class KeyModal(discord.ui.Modal, title="Your own AI key"):
    """`/tz auth key`: typed here, the key is seen by nobody else and never posted in a channel. Its submit is
    taken by `SlashCommands.submitted` (by its custom id), so it is answered even after the bot restarted."""

    key: discord.ui.TextInput[KeyModal] = discord.ui.TextInput(
        label="API key", custom_id=KEY_FIELD, min_length=8, max_length=512, placeholder="sk-...")

    def __init__(self) -> None:
        super().__init__(custom_id=MODAL_ID, timeout=1)  # nothing to keep: the submit is handled by its id


class SlashCommands:
    """The command tree of one edge, and what each command does: defer, read, hand on."""

    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(edge)
        self.tree.on_error = self.on_error  # type: ignore[method-assign]
        define(self.tree, self)

    # ---- registration -----------------------------------------------------------------------------------
    def definitions(self) -> list[dict[str, Any]]:
        return [command.to_dict(self.tree) for command in self.tree.get_commands()]

    def digest(self) -> str:
        return definitions_hash(self.definitions(), self.edge.settings.command_guild)

    async def sync(self, force: bool = False) -> str:
        """Register the commands (in TZUROT_COMMAND_GUILD, else globally) when they changed since the last time
        (the hash in the store), or always with `force`; says what it did. A failure is logged, not raised."""
        loop = asyncio.get_running_loop()
        digest = self.digest()
        guild = self.edge.settings.command_guild
        store = self.edge.work
        try:
            stored, version = await loop.run_in_executor(self.edge.in_order, lambda: stored_hash(store.store))
            if stored == digest and not force:
                return "slash commands unchanged: not registered again"
            synced = await register(self.tree, guild)
            await loop.run_in_executor(self.edge.in_order, lambda: store.store.save(*HASH_ROW, {"hash": digest},
                                                                                    version, 1))
        except discord.HTTPException as exc:
            log.warning("slash_sync_failed: Discord answered %s %s", exc.status, exc.code)
            return f"slash commands not registered: Discord answered {exc.status}"
        except Exception as exc:  # noqa: BLE001 - the bot runs on without (the prefix commands still work)
            log.warning("slash_sync_failed: %s", type(exc).__name__)
            return f"slash commands not registered: {type(exc).__name__}"
        where = f"in guild {guild}" if guild else "globally"
        log.info("slash_synced: %d commands %s", synced, where)
        return f"slash commands registered {where}: {synced}"

    # ---- invoking -----------------------------------------------------------------------------------------
    async def run(self, interaction: discord.Interaction, command: str, *words: str | int | None,
                  attachment: discord.Attachment | None = None) -> None:
        """Defer, then hand the command on as its prefix form; refusals the edge can see are said at once."""
        trouble = problem(command, words) or self.refusal(interaction)
        if trouble is not None:
            await interaction.response.send_message(trouble, ephemeral=True)
            return
        private = ephemeral(command)
        try:
            await interaction.response.defer(ephemeral=private, thinking=True)
        except discord.HTTPException as exc:  # too late (the 3 seconds passed): nobody can answer it now
            log.warning("slash_expired: /%s could not be deferred (%s)", command, exc.status)
            return
        text, error = ("", "")
        if attachment is not None:
            text, error = await self.edge.read_attachment(attachment)
        incoming = incoming_of_interaction(interaction, command_text(self.edge.settings.command_prefix, command,
                                                                     words), private, text, error)
        self.edge.events.emit("info", "slash", "edge", "edge", f"/{command} from {interaction.user.name}",
                              user=interaction.user.id, channel=interaction.channel_id, trigger=interaction.id)
        await asyncio.get_running_loop().run_in_executor(self.edge.in_order, self.edge.record_and_hand_on, incoming)

    def refusal(self, interaction: discord.Interaction) -> str | None:
        blacklist = self.edge.table.blacklist
        user, guild = interaction.user.id, interaction.guild_id
        if user in blacklist or f"{guild}:{user}" in blacklist:
            return "You can't use this bot here."
        return None

    async def open_key_modal(self, interaction: discord.Interaction) -> None:
        if (why := self.refusal(interaction)) is not None:
            await interaction.response.send_message(why, ephemeral=True)
            return
        await interaction.response.send_modal(KeyModal())

    async def submitted(self, interaction: discord.Interaction) -> None:
        """A modal's submit (every interaction passes here): the key form's goes on as `auth key`."""
        data = interaction.data if interaction.type == discord.InteractionType.modal_submit else None
        if not isinstance(data, dict) or data.get("custom_id") != MODAL_ID:
            return
        key = modal_value(data.get("components"), KEY_FIELD)
        if key is None:
            await interaction.response.send_message("That form came without a key; nothing was changed.",
                                                    ephemeral=True)
            return
        await self.run(interaction, "auth", "key", key)

    async def names(self, interaction: discord.Interaction, current: str, owned_only: bool = False
                    ) -> list[app_commands.Choice[str]]:
        """What the catalogue offers this user for what they typed; nothing rather than a late answer."""
        channel = interaction.channel
        nsfw = bool(channel.is_nsfw()) if channel is not None and hasattr(channel, "is_nsfw") else False
        ask = SuggestNames(interaction.user.id, utf8(current)[:100], nsfw, owned_only)
        try:
            found = await asyncio.wait_for(
                self.edge.bridge.ask_async(Kind.REGISTRY, Kind.REGISTRY, ask, SUGGEST_TIMEOUT_S), SUGGEST_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a slow or absent catalogue offers nothing
            log.info("suggest_failed: %s", type(exc).__name__)
            return []
        if not isinstance(found, NameSuggestions):
            return []
        return [app_commands.Choice(name=label, value=value) for label, value in found.choices]

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """No stack trace reaches a user: a plain sentence, and the log names the error's type only."""
        log.warning("slash_failed: %s", type(getattr(error, "original", error)).__name__)
        with_text = "Something went wrong with that command; nothing was changed. Please try again."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(with_text, ephemeral=True)
            else:
                await interaction.response.send_message(with_text, ephemeral=True)
        except discord.HTTPException:
            pass


def stored_hash(store: Any) -> tuple[str | None, int]:
    """The hash of the definitions last registered (None: never), and its row's version."""
    record = store.load(*HASH_ROW)
    return (record.state or {}).get("hash"), record.version


async def register(tree: app_commands.CommandTree[Any], guild: int) -> int:
    """Register the tree's commands in `guild` (0: globally); how many Discord now has."""
    if guild:
        tree.copy_global_to(guild=discord.Object(guild))
        return len(await tree.sync(guild=discord.Object(guild)))
    return len(await tree.sync())


def incoming_of_interaction(interaction: discord.Interaction, text: str, private: bool, attachment_text: str = "",
                            attachment_error: str = "") -> Incoming:
    """A slash command as the channel's actor takes it: its id is the interaction's, its way back the token."""
    channel, guild_id = interaction.channel, interaction.guild_id
    if guild_id is None:
        place = Place(interaction.channel_id or 0, "dm")
    elif channel is not None and not isinstance(channel, discord.PartialMessageable):
        place = place_of(channel)
    else:
        place = Place(interaction.channel_id or 0, "text", guild_id)
    granted = interaction.permissions
    user = interaction.user
    return Incoming(
        message_id=interaction.id,
        place=place,
        author=Author(user.id, utf8(user.name), utf8(getattr(user, "display_name", user.name)), user.bot),
        content=utf8(text),
        created_at=interaction.created_at.timestamp(),
        perms=frozenset(p for p in PERMISSIONS if guild_id is not None and getattr(granted, p, False)),
        attachment_text=attachment_text,
        attachment_error=attachment_error,
        interaction=Interaction(interaction.application_id, interaction.token, private),
    )


# ---- the commands -------------------------------------------------------------------------------------------

Switch = Literal["on", "off", "status"]
_CONFIG = [app_commands.Choice(name=key, value=key) for key in CONFIG_KEYS]
_HELP = [app_commands.Choice(name=name, value=name) for name in COMMANDS]


def define(tree: app_commands.CommandTree[Any], slash: SlashCommands | None) -> None:
    """Every command, its typed options, choices and autocomplete. `slash` None: definitions only (to show or
    register them without a running bot)."""
    tz = app_commands.Group(name="tz", description="Talk to AI personalities: create, configure and manage them")

    async def run(interaction: discord.Interaction, command: str, *words: Any, **kw: Any) -> None:
        assert slash is not None
        await slash.run(interaction, command, *words, **kw)

    async def anyone(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await slash.names(interaction, current) if slash is not None else []

    async def owned(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await slash.names(interaction, current, owned_only=True) if slash is not None else []

    @tz.command(name="add", description=_about("add"))
    @app_commands.describe(name="one word, unique across the bot", alias="another way to @mention it")
    async def add(interaction: discord.Interaction, name: str, alias: str | None = None) -> None:
        await run(interaction, "add", name, alias)

    @tz.command(name="remove", description=_about("remove"))
    @app_commands.autocomplete(personality=owned)
    async def remove(interaction: discord.Interaction, personality: str) -> None:
        await run(interaction, "remove", personality)

    @tz.command(name="alias", description=_about("alias"))
    @app_commands.autocomplete(personality=owned)
    async def alias(interaction: discord.Interaction, personality: str, alias: str) -> None:
        await run(interaction, "alias", personality, alias)

    @tz.command(name="list", description=_about("list"))
    async def list_(interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] | None = None) -> None:
        await run(interaction, "list", page)

    @tz.command(name="info", description=_about("info"))
    @app_commands.autocomplete(personality=anyone)
    async def info(interaction: discord.Interaction, personality: str) -> None:
        await run(interaction, "info", personality)

    @tz.command(name="config", description=_about("config"))
    @app_commands.autocomplete(personality=owned)
    @app_commands.choices(key=_CONFIG)
    async def config(interaction: discord.Interaction, personality: str, key: app_commands.Choice[str],
                     value: str) -> None:
        await run(interaction, "config", personality, key.value, value)

    @tz.command(name="autorespond", description=_about("autorespond"))
    async def autorespond(interaction: discord.Interaction, mode: Switch = "status") -> None:
        await run(interaction, "autorespond", mode)

    @tz.command(name="reset", description=_about("reset"))
    @app_commands.autocomplete(personality=anyone)
    async def reset(interaction: discord.Interaction, personality: str) -> None:
        await run(interaction, "reset", personality)

    @tz.command(name="auth", description="your own AI key: key opens a private form, clear forgets it")
    async def auth(interaction: discord.Interaction, action: Literal["key", "clear", "status"] = "status") -> None:
        if action == "key":
            assert slash is not None
            await slash.open_key_modal(interaction)
            return
        await run(interaction, "auth", action)

    @tz.command(name="help", description=_about("help"))
    @app_commands.choices(command=_HELP)
    async def help_(interaction: discord.Interaction, command: app_commands.Choice[str] | None = None) -> None:
        await run(interaction, "help", command.value if command else None)

    @tz.command(name="purgbot", description=_about("purgbot"))
    async def purgbot(interaction: discord.Interaction, mode: Literal["system", "all"] = "system") -> None:
        await run(interaction, "purgbot", mode)

    @tz.command(name="import", description=_about("import"))
    async def import_(interaction: discord.Interaction, file: discord.Attachment) -> None:
        await run(interaction, "import", attachment=file)

    @tz.command(name="memory", description=_about("memory"))
    @app_commands.describe(forget="with action forget: the memory's number from list, or all")
    async def memory(interaction: discord.Interaction, action: Literal["list", "forget", "on", "off"] = "list",
                     forget: str | None = None) -> None:
        await run(interaction, "memory", action, forget if action == "forget" else None)

    @tz.command(name="persona", description=_about("persona"))
    @app_commands.describe(personality="only for this one (else for every personality)", text="who you are")
    @app_commands.autocomplete(personality=anyone)
    async def persona(interaction: discord.Interaction, action: Literal["show", "set", "clear"] = "show",
                      text: str | None = None, personality: str | None = None) -> None:
        await run(interaction, "persona", personality, action, text if action == "set" else None)

    @tz.command(name="data", description=_about("data"))
    @app_commands.describe(confirm="with delete: keep or delete, once you have read what it erases")
    async def data(interaction: discord.Interaction, action: Literal["export", "delete"],
                   confirm: Literal["keep", "delete"] | None = None) -> None:
        more = ("confirm", confirm) if action == "delete" and confirm else ()
        await run(interaction, "data", action, *more)

    for plain in ("verify", "ping", "status", "export"):
        tz.add_command(app_commands.Command(name=plain, description=_about(plain), callback=_plain(run, plain)))
    tree.add_command(tz)

    @tree.command(name="activate", description=_about("activate"))
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.guild_only()
    @app_commands.autocomplete(personality=anyone)
    async def activate(interaction: discord.Interaction, personality: str) -> None:
        await run(interaction, "activate", personality)

    @tree.command(name="deactivate", description=_about("deactivate"))
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.guild_only()
    async def deactivate(interaction: discord.Interaction) -> None:
        await run(interaction, "deactivate")

    blacklist = app_commands.Group(name="blacklist", description=_about("blacklist"),
                                   default_permissions=discord.Permissions(manage_guild=True))

    @blacklist.command(name="add", description="the bot ignores this user (here; everywhere for the bot owner)")
    async def bl_add(interaction: discord.Interaction, user: discord.User, reason: str | None = None) -> None:
        await run(interaction, "blacklist", "add", user.id, reason)

    @blacklist.command(name="remove", description="the bot listens to this user again")
    async def bl_remove(interaction: discord.Interaction, user: discord.User) -> None:
        await run(interaction, "blacklist", "remove", user.id)

    @blacklist.command(name="check", description="is this user ignored")
    async def bl_check(interaction: discord.Interaction, user: discord.User) -> None:
        await run(interaction, "blacklist", "check", user.id)

    @blacklist.command(name="list", description="who is ignored")
    async def bl_list(interaction: discord.Interaction) -> None:
        await run(interaction, "blacklist", "list")

    tree.add_command(blacklist)


def _plain(run: Any, name: str) -> Any:
    """A command without options (its callback must be a real coroutine function discord.py can read)."""

    async def callback(interaction: discord.Interaction) -> None:
        await run(interaction, name)

    return callback
