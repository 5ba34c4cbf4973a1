"""Printing a scenario's figures: a small table for people, or one JSON object for scripts."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from typing import Any


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "commit": commit or "unknown"}


def emit(scenario: str, figures: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"scenario": scenario, **figures, "machine": machine()}))
        return
    width = max(len(k) for k in figures)
    print(f"{scenario}")
    for key, value in figures.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {shown}")
