"""The personality catalogue: names and aliases are bot-wide, so one actor owns them all.

It answers commands that change the catalogue (add, remove, alias, config, import) and those that read it
(list, info, export), lends a personality's record to a user's actor when they address it, and pushes every
alias to the edge the moment it exists, so a new multi-word alias works at once, without a restart.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from actors.effects import Effect, Push, Reply, Save, SaveRow, Tell
from actors.kinds import Kind
from actors.messages import (
    CommandFor,
    ForgetOwner,
    ListPersonalities,
    LookupPersonality,
    NameSuggestions,
    NotFound,
    Notify,
    Origin,
    OwnedReply,
    OwnedRequest,
    PersonalityInfo,
    PersonalityList,
    PersonaReply,
    PersonaRequest,
    Refused,
    RegisterPersonality,
    RouteFact,
    SuggestNames,
)
from actors.state.commands import Command
from actors.state.names import display_problem, name_problem, normalize_alias, normalize_name
from actors.state.registry_records import (
    CONFIG_KEYS,
    apply_config,
    describe,
    export_records,
    import_problem,
    new_record,
)

PAGE = 10
IMPORT_CAP = 100  # personalities read from one import file
SEEN_CAP = 500  # command trigger ids remembered, so a redelivered command is answered once
PER_USER_CAP = 50  # personalities one user may own (TZUROT_MAX_PERSONALITIES_PER_USER)
CATALOGUE_CAP = 100_000  # personalities in all: what bounds the edge's alias table
ALIASES_CAP = 20  # aliases of one personality (its name and display-name alias not counted)


@dataclass
class RegistryState:
    """The catalogue. Each personality (with its aliases) is its own row of kind `ROWS`, so a change writes one
    small row; the actor's own row keeps only the command ids it has answered."""

    KIND = Kind.REGISTRY
    ROWS = "personality"
    SCHEMA = 3

    personalities: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-cased name -> record
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> lower-cased name
    seen: deque[int] = field(default_factory=deque)
    per_user_cap: int = PER_USER_CAP
    migrating: bool = False  # read from the single row of schema 2: written out as rows at start

    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None) -> RegistryState:
        state = cls(per_user_cap=settings.max_personalities_per_user if settings is not None else PER_USER_CAP)
        if data:
            state.seen = deque(int(t) for t in data.get("seen", []))
            if data.get("personalities"):  # schema 2 kept the whole catalogue in this row
                state.personalities = {str(k): dict(v) for k, v in data["personalities"].items()}
                state.aliases = {str(a): str(n) for a, n in data.get("aliases", {}).items()}
                state.migrating = True
        return state

    def restore_rows(self, rows: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Take every personality's row; returns the rows that are not a personality, with why."""
        rejected = {}
        for key, row in rows.items():
            try:
                record = dict(row)
                aliases = [str(a) for a in record.pop("aliases", [])]
                if str(record["name"]).lower() != key or not isinstance(record["owner_id"], int):
                    raise ValueError("not the personality its key names")
            except (TypeError, ValueError, KeyError) as exc:
                rejected[key] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            self.personalities[key] = record
            self.aliases.update(dict.fromkeys(aliases, key))
        return rejected

    def on_start(self, now: float) -> list[Effect]:
        if not self.migrating:
            return []
        self.migrating = False
        return [*(SaveRow(key, self.row(key)) for key in self.personalities), Save()]

    def snapshot(self) -> dict[str, Any]:
        return {"seen": list(self.seen)}

    def row(self, key: str) -> dict[str, Any]:
        """What is stored for one personality: its record and the aliases that name it."""
        return {**self.personalities[key], "aliases": sorted(a for a, n in self.aliases.items() if n == key)}

    def saved(self, *keys: str) -> list[Effect]:
        return [SaveRow(k, self.row(k) if k in self.personalities else None) for k in dict.fromkeys(keys)]

    # ---- lookups --------------------------------------------------------------------------------
    def find(self, target: str) -> dict[str, Any] | None:
        """By name, then by alias, case-insensitively."""
        for candidate in (target, target[1:] if target.startswith("@") else None):
            if not candidate:
                continue
            key = normalize_name(candidate).lower()
            if key in self.personalities:
                return self.personalities[key]
            owner = self.aliases.get(normalize_alias(candidate))
            if owner:
                return self.personalities.get(owner)
        return None

    def aliases_of(self, record: dict[str, Any]) -> list[str]:
        key = record["name"].lower()
        return sorted(a for a, n in self.aliases.items() if n == key)

    def info(self, record: dict[str, Any]) -> PersonalityInfo:
        return PersonalityInfo(record["name"], record["display_name"], record["owner_id"])

    def suggest(self, ask: SuggestNames) -> tuple[tuple[str, str], ...]:
        """Names, then aliases, that start with what was typed (any case), among the personalities this user may
        use: public ones and their own (only their own with `owned_only`), age-restricted ones only where
        allowed. The user's own come first; at most 25, as Discord shows."""
        typed = ask.typed.strip().lower()

        def usable(record: dict[str, Any]) -> bool:
            mine = record["owner_id"] == ask.user_id
            if ask.owned_only and not mine:
                return False
            return (mine or record.get("public", True)) and (ask.nsfw_ok or not record.get("nsfw"))

        found: list[tuple[bool, str, str]] = []
        for key, record in self.personalities.items():
            if usable(record) and key.startswith(typed):
                found.append((record["owner_id"] != ask.user_id, key, f"{record['display_name']} ({key})"))
        for alias, key in self.aliases.items():
            record = self.personalities.get(key)
            one_word = not ask.owned_only or " " not in alias  # the owner's commands take a one-word name
            if record is not None and usable(record) and alias.startswith(typed) and alias != key and one_word:
                found.append((record["owner_id"] != ask.user_id, alias, f"{alias} → {record['display_name']}"))
        found.sort()
        return tuple((label[:100], value[:100]) for _, value, label in found[:25])

    # ---- decisions ------------------------------------------------------------------------------
    def handle(self, msg: Any, now: float) -> list[Effect]:
        match msg:
            case CommandFor(command=command, origin=origin):
                if origin.trigger_id in self.seen:
                    return []  # already answered: a redelivery must not confirm twice
                self.seen.append(origin.trigger_id)
                while len(self.seen) > SEEN_CAP:
                    self.seen.popleft()
                effects = self._command(command.name, command.args, origin, msg.attachment_text, now,
                                        msg.attachment_error)
                return [Save(), *effects]
            case PersonaRequest(name=name, user_id=user, trigger_id=trigger):
                record = self.find(name)
                if record is not None and not record.get("public", True) and record["owner_id"] != user:
                    record = None
                return [Tell(Kind.USER, user, PersonaReply(trigger, name, record))]
            case RegisterPersonality(name=raw, owner_id=owner, display_name=display):
                ok, effects, record = self._add(raw, "", owner, display, now)
                if not ok:
                    return [Reply(Refused(record["problem"]))]
                created = self.saved(record["name"].lower()) if effects else []  # none: the same request again
                return [*created, *effects, Reply(self.info(record))]
            case LookupPersonality(name=name):
                record = self.find(name)
                return [Reply(self.info(record) if record else NotFound(f"personality {name!r}"))]
            case ListPersonalities(owner_id=owner):
                return [Reply(PersonalityList(owner, tuple(r["name"] for r in self._owned(owner))))]
            case ForgetOwner(user_id=owner, delete=delete):  # `data delete`: deleted, or public and nobody's
                effects: list[Effect] = []
                for record in self._owned(owner):
                    if delete:
                        effects += self._remove(record)
                    else:
                        record.update(owner_id=0, public=True)
                        effects += self.saved(record["name"].lower())
                return effects
            case OwnedRequest(user_id=owner, trigger_id=trigger):  # `data export`
                owned = tuple(export_records(self._owned(owner))["personalities"])
                return [Tell(Kind.USER, owner, OwnedReply(trigger, owned))]
            case SuggestNames():
                return [Reply(NameSuggestions(self.suggest(msg)))]
        return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]

    def _command(
        self, name: str, args: tuple[str, ...], origin: Origin, attachment: str, now: float, problem: str = ""
    ) -> list[Effect]:
        say = _notifier(origin)
        if name == "add":
            ok, effects, record = self._add(args[0], args[1] if len(args) > 1 else "", origin.user_id, None, now)
            if not ok:
                return [say(record["problem"])]
            aliases = ", ".join(f"`@{a}`" for a in self.aliases_of(record))
            return [
                *(self.saved(record["name"].lower()) if effects else []),  # none: the same request again
                *effects,
                say(
                    f"Added **{record['display_name']}** (`{record['name']}`). Talk to it with "
                    f"`@{record['name']}`{' or ' + aliases if aliases else ''}, or reply to its messages. "
                    f"Change it with `config {record['name']} <key> <value>`."
                ),
            ]
        if name == "list":
            return [say(self._list(origin.user_id, int(args[0]) if args else 1))]
        if name == "export":
            records = self._owned(origin.user_id)
            if not records:
                return [say("You have no personalities to export.")]
            text = json.dumps(export_records(records), indent=2, ensure_ascii=False)
            return [
                Tell(
                    Kind.CHANNEL,
                    origin.channel_id,
                    Notify(
                        origin.channel_id,
                        origin.user_id,
                        f"Your {len(records)} personalit{'y' if len(records) == 1 else 'ies'}:",
                        origin.trigger_id,
                        "personalities.json",
                        text,
                    ),
                )
            ]
        if name == "import":
            return self._import(attachment, origin, now, problem)
        if name == "status":
            count = len(self._owned(origin.user_id))
            return [
                say(
                    f"I'm up. {attachment}\nYou own {count} personalit{'y' if count == 1 else 'ies'}; "
                    f"{len(self.personalities)} exist in all."
                )
            ]
        record = self.find(args[0]) if args else None
        if record is None:
            return [say(f"I don't know a personality called `{args[0] if args else ''}`.")]
        if name == "info":
            return [say(describe(record, self.aliases_of(record)))]
        if name == "activate":
            if not record.get("public", True) and record["owner_id"] != origin.user_id:
                return [say(f"`{record['name']}` is private.")]
            if record.get("nsfw") and not origin.nsfw:
                return [say(f"**{record['display_name']}** is age-restricted: it can only be activated in an "
                            "age-restricted channel.")]
            activate = CommandFor(Command("activate", (record["name"],)), origin)
            return [Tell(Kind.CHANNEL, origin.channel_id, activate)]
        owner_only = name == "config"
        allowed = record["owner_id"] == origin.user_id or (origin.bot_owner and not owner_only)
        if not allowed:
            return [say(f"Only the owner of `{record['name']}` can {name} it.")]
        if name == "remove":
            return [*self._remove(record), say(f"Removed **{record['display_name']}** (`{record['name']}`).")]
        if name == "alias":
            return self._alias(record, args[1], say)
        if name == "config":
            return self._config(record, args[1], args[2], say)
        return [say(f"The registry does not handle `{name}`.")]

    # ---- changes --------------------------------------------------------------------------------
    def _add(
        self, raw: str, alias: str, owner: int, display: str | None, now: float
    ) -> tuple[bool, list[Effect], dict[str, Any]]:
        name = normalize_name(raw)
        record = new_record(name, owner, display, now)
        problem = name_problem(name) or display_problem(record["display_name"])
        if problem:
            return False, [], {"problem": problem}
        existing = self.personalities.get(name.lower())
        if existing is not None:
            if existing["owner_id"] == owner and existing["name"] == name:
                return True, [], existing  # the same request again: idempotent
            return False, [], {"problem": f"The name {name!r} is taken."}
        holder = self.aliases.get(normalize_alias(name))
        if holder is not None:  # `@name` already means someone else: the name would steal it
            return False, [], {"problem": f"The name {name!r} is taken (an alias of `{holder}`)."}
        if len(self._owned(owner)) >= self.per_user_cap:
            return False, [], {"problem": f"You already have {self.per_user_cap} personalities, the most one person "
                                          "may have; remove one first."}
        if len(self.personalities) >= CATALOGUE_CAP:
            return False, [], {"problem": "The bot has as many personalities as it can hold; ask its owner."}
        self.personalities[name.lower()] = record
        effects: list[Effect] = [Push(RouteFact("alias", name.lower(), name))]
        for candidate in (normalize_alias(record["display_name"]), alias):
            free = candidate not in self.aliases and candidate not in self.personalities
            if candidate and candidate != name.lower() and free:
                self.aliases[candidate] = name.lower()
                effects.append(Push(RouteFact("alias", candidate, name)))
        return True, effects, record

    def _remove(self, record: dict[str, Any]) -> list[Effect]:
        key = record["name"].lower()
        del self.personalities[key]
        gone = [a for a, n in self.aliases.items() if n == key]
        for alias in gone:
            del self.aliases[alias]
        unrouted = [Push(RouteFact("alias", alias, None)) for alias in [key, *gone]]
        return [*self.saved(key), *unrouted]

    def _alias(self, record: dict[str, Any], alias: str, say: Any) -> list[Effect]:
        key = record["name"].lower()
        holder = self.aliases.get(alias) or (alias if alias in self.personalities else None)
        if holder == key:
            return [say(f"`@{alias}` already means **{record['display_name']}**.")]
        if holder is not None:
            # v2 let anyone take another owner's alias; an alias belongs to whoever made it first.
            return [say(f"The alias `{alias}` is already taken by `{self.personalities[holder]['name']}`.")]
        own = [a for a in self.aliases_of(record) if a != normalize_alias(record["display_name"])]
        if len(own) >= ALIASES_CAP:  # the display name's alias comes free
            return [say(f"**{record['display_name']}** already has {ALIASES_CAP} aliases; that is the most.")]
        self.aliases[alias] = key
        return [
            *self.saved(key),
            Push(RouteFact("alias", alias, record["name"])),
            say(f"`@{alias}` now means **{record['display_name']}**."),
        ]

    def _config(self, record: dict[str, Any], key: str, value: str, say: Any) -> list[Effect]:
        if key not in CONFIG_KEYS:
            return [say(f"Unknown setting `{key}`. Settings: {', '.join(CONFIG_KEYS)}.")]
        problem = apply_config(record, key, value)
        if problem:
            return [say(problem)]
        value = record[CONFIG_KEYS[key]]
        shown = "(updated)" if key == "prompt" else f"`{'default' if value is None else value}`"
        return [*self.saved(record["name"].lower()), say(f"**{record['display_name']}**: {key} is now {shown}.")]

    def _import(self, text: str, origin: Origin, now: float, problem: str = "") -> list[Effect]:
        say = _notifier(origin)
        if problem:
            return [say(f"I couldn't read that attachment: {problem}. Attach the JSON file `export` gave you.")]
        try:
            records = json.loads(text) if text.strip() else None
        except (ValueError, RecursionError):  # nested too deeply is a RecursionError, not a ValueError
            return [say("That attachment is not a JSON file I can read (or it is nested too deeply). "
                        "Attach the JSON file that `export` gave you.")]
        if isinstance(records, dict):
            records = records.get("personalities")
        if not isinstance(records, list) or not records:
            return [say("Attach the JSON file that `export` gave you (a list of personalities) to `import`.")]
        added, skipped, effects = [], [], []
        for item in records[:IMPORT_CAP]:
            problem = import_problem(item)
            if problem:
                skipped.append(f"{str(item.get('name', '?'))[:50] if isinstance(item, dict) else '?'}: {problem}")
                continue
            ok, changes, record = self._add(item["name"], "", origin.user_id, item.get("display_name"), now)
            if not ok:
                skipped.append(f"{item['name']}: {record['problem']}")
                continue
            for key in CONFIG_KEYS:
                field_name = CONFIG_KEYS[key]
                if field_name in item and field_name != "display_name":
                    apply_config(record, key, str(item[field_name]))
            effects += changes
            added.append(record["name"])
        summary = f"Imported {len(added)}: {', '.join(added) or 'none'}."
        if skipped:
            summary += " Skipped " + "; ".join(skipped[:10]) + ("…" if len(skipped) > 10 else "") + "."
        if len(records) > IMPORT_CAP:
            summary += f" Only the first {IMPORT_CAP} were read."
        return [*self.saved(*(name.lower() for name in added)), *effects, say(summary[:1900])]

    def _owned(self, owner: int) -> list[dict[str, Any]]:
        return sorted((r for r in self.personalities.values() if r["owner_id"] == owner), key=lambda r: r["name"])

    def _list(self, owner: int, page: int) -> str:
        records = self._owned(owner)
        if not records:
            return "You have no personalities yet. Create one with `add <name>`."
        pages = (len(records) + PAGE - 1) // PAGE
        page = min(max(1, page), pages)
        shown = records[(page - 1) * PAGE : page * PAGE]
        lines = [f"Your personalities (page {page}/{pages}, {len(records)} in all):"]
        lines += [
            f"• **{r['display_name']}** (`{r['name']}`){'' if r.get('public', True) else ' (private)'}" for r in shown
        ]
        return "\n".join(lines)


def _notifier(origin: Origin) -> Any:
    def say(text: str) -> Tell:
        return Tell(Kind.CHANNEL, origin.channel_id, Notify(origin.channel_id, origin.user_id, text, origin.trigger_id))

    return say
