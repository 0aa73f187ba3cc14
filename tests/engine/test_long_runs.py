"""A run ends after 50 actions; a workflow with more to do (a fleet reading thousands of pages) is then given
back due at once, not after a backoff: on the in-memory store, with the emulator in-process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import pytest
from engine_helpers import PROJECT, REGION
from quick_settings import emulator_settings

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import new_workflow
from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine import CbrActions, Engine
from orchestrator.messages import FleetBackupCommand
from orchestrator.polling.poller import Poller
from orchestrator.store import Claim, OutboxEvent, Step, Workflow, WorkflowStatus
from orchestrator.store.memory import MemoryStore

SERVERS = 2_600  # 52 pages of listing: more than one run's 50 actions
CONFIG = EmulatorConfig(inventory=Inventory(servers=SERVERS, disks=0), progression=Progression.instantly())
NO_DATABASE = "postgresql://nobody@127.0.0.1:1/none"


class ReleaseLog(MemoryStore):
    """The in-memory store, noting each time a run gives a workflow back: its phase and how far ahead."""

    def __init__(self) -> None:
        super().__init__()
        self.releases: list[tuple[uuid.UUID, str, float]] = []

    async def release_until(
        self,
        claim: Claim,
        state: dict[str, Any],
        run_at: datetime,
        steps: Sequence[Step] = (),
        events: Sequence[OutboxEvent] = (),
        cancel_seen: bool = False,
    ) -> None:
        ahead = (run_at - self.clock()).total_seconds()
        self.releases.append((claim.workflow_id, str(state.get("phase")), ahead))
        await super().release_until(claim, state, run_at, steps, events, cancel_seen)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(CONFIG)
    yield running
    await running.close()


@contextlib.asynccontextmanager
async def engine(store: MemoryStore, settings: Settings) -> AsyncIterator[None]:
    clients = CbrClients(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(
        Engine(store, settings, CbrActions(clients, Poller(clients)), "solo").run(stop)
    )
    try:
        yield
    finally:
        stop.set()
        await task
        await clients.close()


async def final(store: MemoryStore, workflow_id: uuid.UUID) -> Workflow:
    async with asyncio.timeout(60):
        while True:
            wf = await store.get_workflow(workflow_id)
            if wf is not None and wf.finished_at is not None:
                return wf
            await asyncio.sleep(0.05)


async def test_a_fleet_listing_more_pages_than_a_run_holds_goes_on_at_once(emulator: RunningEmulator) -> None:
    store = ReleaseLog()
    command = FleetBackupCommand.model_validate(
        {
            "command_id": "long-listing",
            "project_id": PROJECT,
            "region": REGION,
            "select": {"protectables": {"types": ["server"]}},
        }
    )
    [verdict] = await store.create_workflows_if_absent([new_workflow(command)])
    fleet_id = verdict.workflow_id
    async with engine(store, emulator_settings(NO_DATABASE, emulator.base_url)):
        wf = await final(store, fleet_id)

    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    while_listing = [
        ahead for wid, phase, ahead in store.releases if wid == fleet_id and phase == "list_protectables"
    ]
    assert while_listing, store.releases  # its listing did not fit in one run
    assert max(while_listing) <= 0  # and each time it was due again at once: no backoff between pages
