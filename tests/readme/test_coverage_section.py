"""The README's "Coverage and RPO", pasted into bash: the emulator, a vault of two servers, one backed up by
hand, and the ledger's states as ``coverage --refresh --json`` prints them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pg_databases import drop_database, dsn_of, unique_name
from readme_text import README, blocks, section
from test_first_real_run import PROLOGUE, free_port, run_bash

HEADING = "### Coverage and RPO"


def section_script() -> str:
    shell = [block.text for block in blocks(section(README.read_text("utf-8"), HEADING), "sh")]
    assert len(shell) == 3, "the section lost its shell blocks"
    return PROLOGUE + "\n".join(shell)


@pytest.fixture
async def private_database() -> AsyncIterator[str]:
    """A database name no one uses, left for the section to create, dropped afterwards."""
    name = unique_name("readme")
    yield dsn_of(name)
    await drop_database(name)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def written_json(checkout: Path) -> Any:
    (written,) = checkout.glob("tmp*/coverage.json")
    return json.loads(written.read_text())


async def test_the_coverage_section_runs_as_pasted_and_counts_each_state(
    private_database: str, checkout: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    env |= {
        "EMULATOR_PORT": str(free_port()),
        "CBR_ORCH_DATABASE_URL": private_database,
        "TMPDIR": str(checkout),
        "COLUMNS": "160",
        "NO_COLOR": "1",
    }
    code, output = await run_bash(section_script(), checkout, env)
    assert code == 0, output[-6000:]
    assert "refreshed 1 project(s) (1 full pass)" in output, output
    shown = written_json(checkout)
    [project] = shown["projects"]
    assert project["counts"] == {"never": 1, "unprotected": 18, "stale": 0, "ok": 1}
    never = project["worst"][0]
    assert (never["state"], never["vault_name"], never["name"]) == ("never", "nightly", "ecs-0002")
    assert never["rpo_seconds"] == 3600  # the vault's RPO, by its name
    assert shown["refresh"]["projects"] == 1
