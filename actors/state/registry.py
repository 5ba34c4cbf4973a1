"""The personality catalogue: names are unique across the whole bot, so one actor owns them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.effects import Effect, Reply, Save
from actors.messages import (
    ListPersonalities,
    LookupPersonality,
    NotFound,
    PersonalityInfo,
    PersonalityList,
    Refused,
    RegisterPersonality,
)
from actors.state.names import display_problem, name_problem, normalize_name


@dataclass
class RegistryState:
    KIND = "registry"
    SCHEMA = 1

    personalities: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-cased name -> record

    @classmethod
    def restore(cls, key: str, data: dict[str, Any] | None, settings: Any = None) -> RegistryState:
        state = cls()
        if data:
            state.personalities = {str(k): dict(v) for k, v in data.get("personalities", {}).items()}
        return state

    def snapshot(self) -> dict[str, Any]:
        return {"personalities": self.personalities}

    def info(self, record: dict[str, Any]) -> PersonalityInfo:
        return PersonalityInfo(record["name"], record["display_name"], record["owner_id"])

    def handle(self, msg: Any, now: float) -> list[Effect]:
        match msg:
            case RegisterPersonality(name=raw, owner_id=owner, display_name=display):
                name = normalize_name(raw)
                display = normalize_name(name[:1].upper() + name[1:] if display is None else display)
                problem = name_problem(name) or display_problem(display)
                if problem:
                    return [Reply(Refused(problem))]
                existing = self.personalities.get(name.lower())
                if existing is not None:
                    if existing["owner_id"] == owner and existing["name"] == name:
                        return [Reply(self.info(existing))]  # the same request again: idempotent
                    return [Reply(Refused(f"The name {name!r} is taken."))]
                record = {"name": name, "display_name": display, "owner_id": owner, "created": now}
                self.personalities[name.lower()] = record
                return [Save(), Reply(self.info(record))]
            case LookupPersonality(name=raw):
                name = normalize_name(raw)
                record = self.personalities.get(name.lower())
                return [Reply(self.info(record) if record else NotFound(f"personality {name!r}"))]
            case ListPersonalities(owner_id=owner):
                names = sorted(r["name"] for r in self.personalities.values() if r["owner_id"] == owner)
                return [Reply(PersonalityList(owner, tuple(names)))]
        return [Reply(Refused(f"I do not understand {type(msg).__name__}."))]
