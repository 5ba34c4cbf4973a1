"""The import contract: the layering the README describes, enforced on every `make test`.

1. The pure core (`actors/state/`, and the message, effect, result and kind modules it reads) imports only itself and
   the standard library, and nothing of the standard library that reaches the outside world (files, sockets,
   processes, the clock, randomness); it calls no `open`/`print` and asks no clock (`datetime.now()`). The shell
   hands it the time (`handle(msg, now)`) and ids (`IdSource`).
2. `supervision/` knows nothing of the application or of Discord: it never imports `actors`, `edge`,
   `discord_rest`, `bridge` or discord.py.
3. Nothing imports the benchmark (`bench`) or the emulators (`emulator`) except the tests, those packages
   themselves (the benchmark drives the emulators), and the sandbox command (`run_sandbox` and its `emulators`
   in `edge/app.py`).

An AST walk (every import, at any depth, plus `importlib.import_module("...")` with a literal name) rather than
the import-linter package: rule 1 is an allow-list with banned standard-library modules and banned calls, which
import-linter's contracts do not express without a custom contract, and this needs no new dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "data", "node_modules", "build", "dist", ".pytest_cache", ".ruff_cache"}

PURE = ("actors.state", "actors.messages", "actors.effects", "actors.results", "actors.kinds")
# Standard-library modules that reach the outside world (or the clock, or chance): never in the pure core.
IMPURE_STDLIB = frozenset({
    "asyncio", "ctypes", "fcntl", "ftplib", "glob", "http", "importlib", "io", "logging", "mmap", "multiprocessing",
    "os", "pathlib", "random", "secrets", "select", "selectors", "shutil", "signal", "smtplib", "socket",
    "sqlite3", "ssl", "subprocess", "sys", "tempfile", "threading", "time", "urllib.request", "uuid",
})
IMPURE_CALLS = frozenset({"open", "print", "input", "exec", "eval", "__import__", "breakpoint"})
CLOCK_METHODS = frozenset({"now", "utcnow", "today"})  # datetime.now(), date.today(): the clock, not `now`

SUPERVISION_MUST_NOT = ("actors", "edge", "discord_rest", "bridge", "discord")
TEST_ONLY = ("bench", "emulator", "testkit")  # testkit: the test world and the launcher tests and bench share
MAY_USE_TEST_ONLY = ("tests", *TEST_ONLY)  # the benchmark runs against the emulators through the test kit
SANDBOX = {("edge.app", "run_sandbox"), ("edge.app", "emulators")}  # the sandbox command, which starts the emulators


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted (absolute)
    line: int
    function: str  # the enclosing function's name ("" at module level)


def under(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts):
            yield path


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package = module, is_package
        self.found: list[Import] = []
        self.calls: list[tuple[str, int]] = []  # banned calls in the pure core: (what, line)
        self._functions: list[str] = []

    def _add(self, target: str, node: ast.AST) -> None:
        self.found.append(Import(self.module, target, node.lineno, self._functions[0] if self._functions else ""))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._functions.append(node.name)
        self.generic_visit(node)
        self._functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.module.split(".")
            package = package if self.is_package else package[:-1]
            base = ".".join(package[: len(package) - node.level + 1])
            source = ".".join(p for p in (base, node.module) if p)
        else:
            source = node.module or ""
        self._add(source, node)
        for alias in node.names:  # `from actors import tree` imports actors.tree
            if alias.name != "*":
                self._add(f"{source}.{alias.name}", node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        literal = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        if name in ("import_module", "__import__") and isinstance(literal, str):
            self._add(literal, node)
        if isinstance(func, ast.Name) and name in IMPURE_CALLS:
            self.calls.append((f"{name}()", node.lineno))
        if isinstance(func, ast.Attribute) and name in CLOCK_METHODS:
            self.calls.append((f".{name}()", node.lineno))
        self.generic_visit(node)


def scan(root: Path) -> tuple[list[Import], dict[str, list[tuple[str, int]]]]:
    """Every import in the tree under `root`, and the banned calls found in its pure core."""
    imports: list[Import] = []
    calls: dict[str, list[tuple[str, int]]] = {}
    for path in python_files(root):
        module = module_name(path, root)
        visitor = _Imports(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        imports += visitor.found
        if under(module, PURE) and visitor.calls:
            calls[module] = visitor.calls
    return imports, calls


def is_stdlib(target: str) -> bool:
    return target.split(".")[0] in sys.stdlib_module_names or target == "__future__"


def violations(root: Path) -> list[str]:
    """Every breach of the contract, as `module:line imports target (rule)`; empty when it holds."""
    imports, calls = scan(root)
    local = {module_name(p, root).split(".")[0] for p in python_files(root)}
    out: list[str] = []
    for imp in imports:
        where = f"{imp.module}:{imp.line} imports {imp.target}"
        top = imp.target.split(".")[0]
        if under(imp.module, PURE):
            if is_stdlib(imp.target):
                if under(imp.target, tuple(IMPURE_STDLIB)):
                    out.append(f"{where}: the pure core does no I/O (take the clock or ids from the shell)")
            elif not under(imp.target, PURE) and imp.target != "actors":  # `from actors import state`
                out.append(f"{where}: the pure core imports only {', '.join(PURE)} and the standard library")
        if under(imp.module, "supervision") and under(imp.target, SUPERVISION_MUST_NOT):
            out.append(f"{where}: supervision knows nothing of the application or Discord")
        if top in TEST_ONLY and top in local and not under(imp.module, MAY_USE_TEST_ONLY):
            if (imp.module, imp.function) not in SANDBOX:
                out.append(f"{where}: only tests and the sandbox command use {top}")
    for module, found in calls.items():
        out += [f"{module}:{line} calls {what}: the pure core does no I/O and reads no clock" for what, line in found]
    return out


# ---- the contract holds ------------------------------------------------------------------------------------
def test_the_import_contract_holds() -> None:
    found = violations(ROOT)
    assert not found, "the import contract is broken:\n" + "\n".join(found)


def test_the_contract_sees_the_whole_tree() -> None:
    imports, _ = scan(ROOT)
    modules = {i.module for i in imports}
    assert {"actors.state.user", "actors.state.channel", "supervision.supervisor", "edge.app", "bridge"} <= modules
    # The sandbox's exception is real: the sandbox command does start the emulators.
    assert any((i.module, i.function) in SANDBOX and under(i.target, "emulator") for i in imports)


# ---- ...and it fails on every kind of breach (planted in a copy of the tree) ----------------------------
def _tree(tmp_path: Path) -> Path:
    for name in ("actors/__init__.py", "actors/state/__init__.py", "actors/messages.py", "supervision/__init__.py",
                 "edge/__init__.py", "bench/__init__.py", "emulator/__init__.py", "tests/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "actors/state/fine.py").write_text(
        "import re\nfrom datetime import UTC, datetime\nfrom actors.messages import Heard\nfrom . import fine\n"
        "def f(now):\n    return datetime.fromtimestamp(now, UTC)\n")
    (tmp_path / "supervision/fine.py").write_text("from thespian.actors import ActorSystem\nfrom . import fine\n")
    (tmp_path / "edge/app.py").write_text("def run_sandbox():\n    from emulator import x\n")
    (tmp_path / "tests/test_x.py").write_text("import bench\nimport emulator\n")
    return tmp_path


PLANTED = [
    ("actors/state/bad.py", "import httpx\n", "only actors.state"),
    ("actors/state/bad.py", "from discord_rest.client import Ok\n", "only actors.state"),
    ("actors/state/bad.py", "from ai.breaker import Breaker\n", "only actors.state"),
    ("actors/state/bad.py", "def f():\n    import fcntl\n", "no I/O"),
    ("actors/state/bad.py", "import time\n", "no I/O"),
    ("actors/state/bad.py", "import uuid\n", "no I/O"),
    ("actors/state/bad.py", "from os import path\n", "no I/O"),
    ("actors/messages.py", "import random\n", "no I/O"),
    ("actors/state/bad.py", "from datetime import datetime\nx = datetime.now()\n", "reads no clock"),
    ("actors/state/bad.py", "x = open('f')\n", "calls open()"),
    ("actors/state/bad.py", "import importlib\nimportlib.import_module('httpx')\n", "imports httpx"),
    ("supervision/bad.py", "import actors\n", "supervision knows nothing"),
    ("supervision/bad.py", "from actors.messages import Heard\n", "supervision knows nothing"),
    ("supervision/bad.py", "import discord\n", "supervision knows nothing"),
    ("supervision/bad.py", "from edge import app\n", "supervision knows nothing"),
    ("edge/bad.py", "import bench\n", "only tests and the sandbox"),
    ("edge/bad.py", "def run_sandbox():\n    from emulator import x\n", "only tests and the sandbox"),
    ("bad.py", "from emulator.discord import DiscordEmulator\n", "only tests and the sandbox"),
]


def test_a_clean_copy_passes(tmp_path: Path) -> None:
    assert violations(_tree(tmp_path)) == []


@pytest.mark.parametrize(("path", "source", "says"), PLANTED, ids=[f"{p}:{s.split()[1]}" for p, s, _ in PLANTED])
def test_a_planted_breach_fails(tmp_path: Path, path: str, source: str, says: str) -> None:
    root = _tree(tmp_path)
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(source)
    found = violations(root)
    assert any(says in v for v in found), found
