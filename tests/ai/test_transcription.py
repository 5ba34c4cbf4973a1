"""Voice messages heard through the backend's OpenAI-compatible /audio/transcriptions (the emulator's, here)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ai import AIClient
from ai.errors import AIError
from emulator.ai.audio import transcript_of

Factory = Callable[..., AIClient]


def test_the_emulator_hears_what_a_test_wrote_and_fingerprints_any_other_sound() -> None:
    assert transcript_of(b"SAY: the cat sat on the mat ") == "the cat sat on the mat"
    assert transcript_of(b"\x00\xff\x10") == transcript_of(b"\x00\xff\x10")
    assert transcript_of(b"\x00\xff\x10").startswith("[3 bytes of audio, ")


def test_an_audio_file_is_transcribed(make_client: Factory) -> None:
    text = make_client().transcribe(b"SAY:hello from my phone", "voice-message.ogg", model="whisper-1")
    assert text == "hello from my phone"


def test_an_empty_file_is_a_clear_error_that_never_shows_the_key(make_client: Factory) -> None:
    with pytest.raises(AIError) as failed:
        make_client(api_key="sk-secret-operator-key-123456").transcribe(b"", "x.ogg", model="whisper-1")
    assert failed.value.kind == "bad_request" and "sk-secret" not in str(failed.value)
