"""A planted key must never show up in errors, reprs, tracebacks or log lines."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import pytest

from ai import AIClient, AIError
from emulator.ai import EmulatorThread
from tests.ai.helpers import MESSAGES, free_port

PLANTED = "sk-or-v1-PLANTED0secret0key0do0not0leak"
USER_PLANTED = "user-PLANTED-secret-without-sk-prefix"
FAILS = ["429", "500", "503", "401", "403", "400", "timeout", "empty", "malformed", "trickle", "error200"]


def exposed_text(error: BaseException) -> str:
    """Everything a log handler or a careless caller could print about an error."""
    return " ".join(
        [str(error), repr(error), repr(error.args), "".join(traceback.format_exception(error)), repr(vars(error))]
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_planted_keys_never_leak(
    emulator: EmulatorThread,
    make_client: Callable[..., AIClient],
    caplog: pytest.LogCaptureFixture,
    stream: bool,
) -> None:
    caplog.set_level(logging.DEBUG)  # includes httpx/httpcore debug logs
    client = make_client(api_key=PLANTED, timeout_s=0.4)
    kinds: set[str] = set()
    for fail in FAILS:
        for user_key in (None, USER_PLANTED):
            emulator.clear_faults()
            emulator.add_fault(fail=fail, retry_after=0)
            with pytest.raises(AIError) as caught:
                client.complete(MESSAGES, model="m", stream=stream, api_key=user_key)
            error = caught.value
            kinds.add(error.kind)
            assert error.__cause__ is None and error.__context__ is None
            for secret in (PLANTED, USER_PLANTED):
                assert secret not in exposed_text(error), (fail, user_key)
    assert kinds == {"rate_limited", "unavailable", "auth", "bad_request", "timeout", "empty", "malformed"}
    for secret in (PLANTED, USER_PLANTED):
        assert secret not in repr(client) and secret not in str(client) and secret not in repr(vars(client))
        assert secret not in caplog.text
        assert all(secret not in str(r.args) for r in caplog.records)


def test_connection_errors_do_not_leak() -> None:
    client = AIClient(f"http://127.0.0.1:{free_port()}/v1", PLANTED, timeout_s=1.0)
    with pytest.raises(AIError) as caught:
        client.complete(MESSAGES, model="m", api_key=USER_PLANTED)
    assert PLANTED not in exposed_text(caught.value) and USER_PLANTED not in exposed_text(caught.value)
    client.close()
