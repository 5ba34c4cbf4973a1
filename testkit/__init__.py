"""What the tests and the benchmarks share: one world of pure states (`world.py`) and one launcher of the real
bot with its emulators (`process.py`, `stack.py`). Only tests, `bench` and the sandbox tooling import it."""
