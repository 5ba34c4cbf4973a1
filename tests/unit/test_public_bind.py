"""A public bind the operator allowed (TZUROT_ALLOW_PUBLIC_BIND=1) starts, with a warning that says what it risks."""

from __future__ import annotations

import logging

import pytest

import config
from edge import launch


class Stop(Exception):
    """Raised instead of starting the actor system: the test is about what comes before it."""


class NoBridge:
    def __init__(self, settings: config.Settings, tree: object = None) -> None:
        self.settings = settings

    def start(self, on_fact: object) -> NoBridge:
        raise Stop


@pytest.mark.parametrize(("host", "warned"), [("203.0.113.7", True), ("10.0.0.5", False), ("127.0.0.1", False)])
def test_an_allowed_public_bind_is_warned_about_before_the_actor_system_starts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, host: str, warned: bool
) -> None:
    monkeypatch.setattr(launch, "Bridge", NoBridge)
    settings = config.load({"TZUROT_BIND_HOST": host, "TZUROT_ALLOW_PUBLIC_BIND": "1"})
    with caplog.at_level(logging.WARNING, logger="tzurot.edge"), pytest.raises(Stop):
        launch.start_tree(settings)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("public_bind")]
    assert bool(said) == warned
    if warned:
        assert host in said[0] and "run code in the bot" in said[0]
