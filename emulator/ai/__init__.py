"""Local OpenAI-compatible AI emulator: deterministic replies, fault and latency injection."""

from emulator.ai.replies import expected_reply, key_fingerprint, long_text
from emulator.ai.server import AIEmulator, EmulatorThread

__all__ = ["AIEmulator", "EmulatorThread", "expected_reply", "key_fingerprint", "long_text"]
