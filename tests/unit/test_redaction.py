"""What a log can show of a message: never what a user wrote (Thespian logs a message whole when a handler
raises; tracebacks and test failures print messages too)."""

from __future__ import annotations

import dataclasses
import inspect

import actors.messages as messages
from actors.effects import Call, Done
from actors.messages import (
    Author,
    CommandFor,
    Heard,
    Incoming,
    Notify,
    Origin,
    Persona,
    Place,
    Speak,
)
from actors.state.commands import Command, parse_command
from supervision.protocol import Deliver

SECRET = "sk-SECRET-in-a-message-0042"


def every_message_with_user_text() -> list[object]:
    incoming = Incoming(1, Place(2, "dm"), Author(3, "alice"), f"!tz auth key {SECRET}", reply_content=SECRET,
                        attachment_text=SECRET)
    command = parse_command(f"!tz auth key {SECRET}")
    assert isinstance(command, Command)
    return [
        incoming,
        Heard(incoming, None, None),
        CommandFor(command, Origin(3, "alice", 2, 1), attachment_text=SECRET),
        Notify(2, 3, SECRET, 1, "export.json", SECRET),
        Speak(2, 3, Persona("lilith", "Lilith"), SECRET, 1),
        Deliver("user", "3", Heard(incoming, None, None), "ref"),
        Call("keys", "seal", (SECRET,), ("seal", 1)),
        Done(("ai", 1), SECRET),
    ]


def test_no_message_shows_what_a_user_wrote() -> None:
    for message in every_message_with_user_text():
        assert "SECRET" not in repr(message) and "SECRET" not in str(message), type(message).__name__


def test_every_message_type_with_a_text_field_hides_it() -> None:
    """A new message type with a free-text field must mark it private (or this test names it)."""
    texty = {"content", "text", "reply_content", "attachment_text", "file_text"}
    for name, cls in inspect.getmembers(messages, inspect.isclass):
        if dataclasses.is_dataclass(cls) and cls.__module__ == messages.__name__:
            for field in dataclasses.fields(cls):
                if field.name in texty:
                    assert field.metadata.get("private"), f"{name}.{field.name} would be shown in logs"
