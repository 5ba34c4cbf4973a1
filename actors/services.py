"""An actor's collaborators (AI client, Discord REST client, key box...), each made on its first use.

Every actor is its own process, and whatever it builds it holds alone: a user who only ever runs commands
never needs an AI client or the key box, so neither is built for them. `on_stop` closes only what was made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class Services(dict[str, Any]):
    """A dict of services that makes a missing one from its factory (once) when it is first looked up."""

    def __init__(self, factories: Mapping[str, Callable[[], Any]]) -> None:
        super().__init__()
        self._factories = dict(factories)

    def __missing__(self, name: str) -> Any:
        factory = self._factories.get(name)
        if factory is None:
            raise KeyError(name)
        made = self[name] = factory()
        return made

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or name in self._factories
