"""The README's backup example, as printed, succeeds on the emulator: through the queue, a worker and
the emulator's default tenant (whose inventory holds the server it names)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from quick_settings import emulator_settings
from readme_text import README, blocks

from cbr_emulator.config import EmulatorConfig, Progression
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import submit
from orchestrator.config import Names
from orchestrator.messages import BackupCommand, parse_command
from orchestrator.store import Store
from orchestrator.worker import run_worker


def readme_backup_command() -> BackupCommand:
    examples = [json.loads(b.text) for b in blocks(README.read_text("utf-8"), "json")]
    backups = [e for e in examples if isinstance(e, dict) and e.get("kind") == "backup"]
    assert len(backups) == 1, "the README shows one backup command"
    command = parse_command(json.dumps(backups[0]).encode())
    assert isinstance(command, BackupCommand)
    return command


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with await start_emulator(EmulatorConfig(progression=Progression.instantly())) as running:
        yield running


async def test_the_readmes_backup_example_succeeds_on_the_emulator(
    dsn: str, private_names: Names, emulator: RunningEmulator
) -> None:
    command = readme_backup_command()
    settings = emulator_settings(dsn, emulator.base_url, prefix=private_names.prefix)
    await submit(settings, command)
    await asyncio.wait_for(run_worker(settings, asyncio.Event(), drain=True), 60)
    store = await Store.connect(dsn)
    try:
        workflow = await store.workflow_by_command(command.command_id)
    finally:
        await store.close()
    assert workflow is not None
    assert (workflow.status.value, workflow.error_code) == ("succeeded", None)
    assert workflow.result is not None
    assert [r["status"] for r in workflow.result["resources"]] == ["succeeded"]
