"""The benchmark harness: `python -m bench <scenario> [--quick] [--json]`."""
