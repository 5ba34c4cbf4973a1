"""A tell that supervision refuses (its actor is parked) is published as Undelivered, never dropped silently."""

from __future__ import annotations

import pytest

from actors.kinds import Kind
from actors.messages import GetUserSettings, SetAutorespond
from bridge import ActorUnavailable
from supervision.protocol import Undelivered
from testkit.process import wait_for
from tests.system.faulty import CRASH_ON_START_KEY

FAULTY = "tests.system.faulty.FaultyUserActor"
KEY = CRASH_ON_START_KEY


def test_a_tell_to_a_parked_actor_is_published_to_the_outlet_and_an_ask_still_gets_unavailable(make_tree) -> None:
    facts: list[object] = []
    tree = make_tree(
        {"TZUROT_USER_SHARDS": "1", "TZUROT_INTENSITY_MAX_RESTARTS": "1"}, user_class=FAULTY, on_fact=facts.append
    )
    with pytest.raises(ActorUnavailable):  # it dies at every start: parked after two failures
        tree.ask(Kind.USER, KEY, GetUserSettings(int(KEY)))

    body = SetAutorespond(int(KEY), True)
    tree.bridge.tell(Kind.USER, KEY, body)

    [fact] = wait_for(lambda: [f for f in facts if isinstance(f, Undelivered)], what="the Undelivered fact")
    assert (fact.kind, fact.key, fact.body) == ("user", KEY, body)
    assert fact.retry_after_s > 0 and "exited with status 3" in fact.reason
    with pytest.raises(ActorUnavailable) as parked:  # an ask is answered, as before
        tree.ask(Kind.USER, KEY, GetUserSettings(int(KEY)), timeout=2)
    assert parked.value.retry_after_s > 0
    assert len([f for f in facts if isinstance(f, Undelivered)]) == 1  # the ask's refusal is not published
