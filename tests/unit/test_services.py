"""An actor's collaborators are made on first use, once, and only what was made is there to close."""

from __future__ import annotations

import pytest

from actors.services import Services


def test_a_service_is_made_on_its_first_lookup_and_only_once() -> None:
    made: list[str] = []
    services = Services({"ai": lambda: made.append("ai") or "client", "keys": lambda: made.append("keys") or "box"})
    assert made == [] and "ai" in services
    assert services["ai"] == "client" and services["ai"] == "client"
    assert made == ["ai"]
    assert list(services.values()) == ["client"]  # what on_stop closes: only what was made


def test_an_unknown_service_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        Services({})["nope"]


def test_a_factory_that_fails_is_tried_again_next_time() -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("key file busy")
        return "box"

    services = Services({"keys": flaky})
    with pytest.raises(OSError):
        services["keys"]
    assert services["keys"] == "box" and len(attempts) == 2
