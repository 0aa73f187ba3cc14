"""Streaming selection on the emulator: backups start while the fleet still lists, a crash between pages
doubles nothing, and selection by ids or by vaults still works."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from engine_helpers import (
    PROJECT,
    REGION,
    EndToEnd,
    drain_worker,
    emulator_project,
)

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from cbr_emulator.rate_limit import RateLimit
from cbr_emulator.server import RunningEmulator
from orchestrator.config import RateLimitSettings
from orchestrator.messages import FleetBackupCommand
from orchestrator.store import WorkflowStatus

FLEET = 300  # 6 full pages of 50, then an empty one
BY_TYPE = {"protectables": {"types": ["server"]}}


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(
        inventory=Inventory(servers=FLEET, disks=0),
        progression=Progression.instantly(),
        rate_limit=RateLimit(requests_per_second=10, burst=2),
    )


def fleet_command(command_id: str, select: dict[str, Any], **over: Any) -> FleetBackupCommand:
    return FleetBackupCommand.model_validate(
        {"command_id": command_id, "project_id": PROJECT, "region": REGION, "select": select, **over}
    )


def backups_per_server(running: RunningEmulator) -> Counter[str]:
    """Backups the emulator holds per server (whole-resource backups, not their disks')."""
    backups = emulator_project(running).backups.values()
    return Counter(b.resource_id for b in backups if b.parent_id is None)


def answered_log(running: RunningEmulator) -> list[str]:
    """From now on, the operation of each answered request, in the order of the answers (a 429 is not)."""
    log: list[str] = []
    counters = running.counters
    record = counters.record_status

    def recording(status: str, operation: str = "unrouted") -> None:
        if status.startswith("2"):
            log.append(operation)
        record(status, operation)

    counters.record_status = recording  # type: ignore[method-assign]
    return log


async def test_the_first_checkpoint_starts_before_the_last_page_is_listed(e2e: EndToEnd) -> None:
    log = answered_log(e2e.emulator)
    slow = RateLimitSettings(rate=10, burst=2, max_rate=10)  # the orchestrator's side of the 10 calls/s
    settings = e2e.settings.model_copy(update={"rate_limit": slow})
    await e2e.publish(fleet_command("fleet-stream", BY_TYPE, project_tasks=50))  # a child a page
    await drain_worker(settings, seconds=90)

    wf = await e2e.workflow("fleet-stream")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert wf.result is not None and wf.result["fleet"]["counts"]["succeeded"] == FLEET
    pages = [i for i, op in enumerate(log) if op == "list_protectable"]
    assert len(pages) == FLEET // 50 + 1
    first_checkpoint = log.index("create_checkpoint")
    assert first_checkpoint < pages[-1], log  # a backup ran while the fleet was still listing
    assert set(backups_per_server(e2e.emulator).values()) == {1}
    assert len(backups_per_server(e2e.emulator)) == FLEET
