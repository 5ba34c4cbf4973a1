"""The container files name only real settings, keep secrets out, and run as the README promises."""

from __future__ import annotations

import re
from pathlib import Path

import config

ROOT = Path(__file__).resolve().parents[2]
# Variables of the other images in compose.yaml (PostgreSQL's and PgBouncer's), not the bot's.
NOT_OURS = frozenset({
    "POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD",
    "DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD", "AUTH_TYPE", "POOL_MODE", "DEFAULT_POOL_SIZE",
    "MAX_CLIENT_CONN", "LISTEN_PORT",
})
SETTINGS = frozenset(env for env, _, _ in config.describe())
# Words in prose that look like variables (an upper-case word with an underscore) but name no setting.
_VARIABLE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def named_variables(text: str) -> set[str]:
    return set(_VARIABLE.findall(text))


def compose_environment(text: str) -> set[str]:
    """Keys under every `environment:` block and every `${VAR}` interpolation of compose.yaml."""
    names = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    block_indent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped == "environment:":
            block_indent = indent
            continue
        if block_indent is not None:
            if stripped and indent <= block_indent:
                block_indent = None
            elif match := re.match(r"([A-Z][A-Z0-9_]*):", stripped):
                names.add(match.group(1))
    return names


def test_compose_sets_only_real_settings_or_its_other_images_variables() -> None:
    names = compose_environment((ROOT / "compose.yaml").read_text())
    assert "TZUROT_DATABASE_URL" in names and "POSTGRES_PASSWORD" in names  # the parser sees both kinds
    unknown = names - SETTINGS - NOT_OURS
    assert not unknown, f"compose.yaml sets variables that are no setting: {sorted(unknown)}"


def test_deploy_page_and_env_example_name_only_real_settings() -> None:
    for name in ("docs/deploy.md", ".env.example"):
        unknown = named_variables((ROOT / name).read_text()) - SETTINGS - NOT_OURS
        assert not unknown, f"{name} names variables that are no setting: {sorted(unknown)}"


def test_the_env_example_holds_no_secret_and_the_env_file_is_never_committed() -> None:
    secrets = {config.variable(f) for f in ("discord_token", "ai_api_key", "secret_key")} | {"POSTGRES_PASSWORD"}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if key in secrets:
                assert value == "", f".env.example gives {key} a value"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_image_runs_unprivileged_with_a_data_volume_and_a_health_check_on_healthz() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^VOLUME .*/data", dockerfile, re.M)
    assert re.search(r"^ENV [^\n]*(?:\\\n[^\n]*)*TZUROT_DATA_DIR=/data", dockerfile, re.M)
    health = re.search(r"^HEALTHCHECK (?:.*\\\n)*.*", dockerfile, re.M)
    assert health and "/healthz" in health.group(0)
