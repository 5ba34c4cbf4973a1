"""The bot on a sharded gateway, and start-up refusals about where it listens and which shards it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_data_dir import refused


@pytest.mark.parametrize("host", ["0.0.0.0", "203.0.113.7"])
def test_a_public_actor_bind_stops_the_bot_before_any_actor_starts(tmp_path: Path, host: str) -> None:
    code, output = refused(tmp_path, {"TZUROT_BIND_HOST": host})
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1, output
    assert lines[0].startswith("configuration error: TZUROT_BIND_HOST") and "TZUROT_ALLOW_PUBLIC_BIND=1" in lines[0]
    assert not (tmp_path / "data" / "supervisor.log").exists()  # no actor system was started


def test_shard_ids_that_do_not_fit_the_count_stop_the_bot(tmp_path: Path) -> None:
    code, output = refused(tmp_path, {"TZUROT_SHARD_COUNT": "2", "TZUROT_SHARD_IDS": "1,2"})
    assert code == 2 and output.strip() == (
        "configuration error: TZUROT_SHARD_IDS: shard 2 is not below TZUROT_SHARD_COUNT (2)")
