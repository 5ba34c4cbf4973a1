"""Installing the project puts no module into site-packages: its short top-level names (`config`, `store`, `ai`,
`edge`, `bench`, ...) would shadow, or be shadowed by, other packages'. Everything runs from the checkout."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_install_lists_no_package_and_no_module() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools.get("packages") == [] and setuptools.get("py-modules") == [], setuptools
    assert set(setuptools) <= {"packages", "py-modules"}, "no package discovery, data or directory mapping either"
