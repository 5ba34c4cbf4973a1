"""The stack the end-to-end tests drive lives in `bench/stack.py`, shared with the benchmark harness."""

from bench.stack import ROOT, BotProcess, Sandbox, descendants, wait_for

__all__ = ["ROOT", "BotProcess", "Sandbox", "descendants", "wait_for"]
