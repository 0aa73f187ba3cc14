"""The engine's logic on the in-memory store: real CBR calls to the emulator in-process, no database.

The same engine, runs and leases as in production; only the store differs (held to PostgreSQL's behaviour
by ``tests/store_contract``), so these run in a fraction of a second each.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from engine_helpers import backup_command, servers
from quick_settings import emulator_settings

from cbr_emulator.config import EmulatorConfig, Progression
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import new_workflow
from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine import CbrActions, Engine
from orchestrator.messages import CANCELLED, AnyCommand
from orchestrator.polling.poller import Poller
from orchestrator.store import Verdict, Workflow, WorkflowStatus
from orchestrator.store.memory import MemoryStore

NO_DATABASE = "postgresql://nobody@127.0.0.1:1/none"  # never connected to: the store is in memory
CONFIG = EmulatorConfig(progression=Progression.instantly())


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(CONFIG)
    yield running
    await running.close()


@pytest.fixture
def settings(emulator: RunningEmulator) -> Settings:
    return emulator_settings(NO_DATABASE, emulator.base_url)


@contextlib.asynccontextmanager
async def engines(store: MemoryStore, settings: Settings, *owners: str) -> AsyncIterator[None]:
    clients = CbrClients(settings)
    running = [Engine(store, settings, CbrActions(clients, Poller(clients, window=0.05)), o) for o in owners]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(engine.run(stop)) for engine in running]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await clients.close()


async def submitted(store: MemoryStore, *commands: AnyCommand) -> list[Workflow]:
    verdicts = await store.create_workflows_if_absent([new_workflow(c) for c in commands])
    assert {v.verdict for v in verdicts} == {Verdict.NEW}
    return [wf for v in verdicts if (wf := await store.get_workflow(v.workflow_id)) is not None]


async def finished(store: MemoryStore, workflows: list[Workflow], seconds: float = 15) -> list[Workflow]:
    """The workflows once every one is final."""
    async with asyncio.timeout(seconds):
        while True:
            now = [await store.get_workflow(wf.id) for wf in workflows]
            if all(wf is not None and wf.finished_at is not None for wf in now):
                return [wf for wf in now if wf is not None]
            await asyncio.sleep(0.02)


async def test_a_backup_runs_to_success_with_one_final_event(settings: Settings) -> None:
    store = MemoryStore()
    [wf] = await submitted(store, backup_command("mem-1", servers(CONFIG, 2)))
    async with engines(store, settings, "solo"):
        [done] = await finished(store, [wf])
    assert done.status is WorkflowStatus.SUCCEEDED, (done.error_code, done.error_message)
    assert [e.routing_key.rsplit(".", 1)[-1] for e in await store.events_of(wf.id)][-1] == "succeeded"
    operations = [s.step.operation for s in await store.steps_of(wf.id)]
    assert "CreateCheckpoint" in operations
    assert done.result is not None
    results = {r["resource_id"]: r["status"] for r in done.result["resources"]}
    assert results == dict.fromkeys(servers(CONFIG, 2), "succeeded")


async def test_two_engines_share_the_work_and_each_workflow_ends_once(settings: Settings) -> None:
    store = MemoryStore()
    ids = servers(CONFIG, 6)
    commands = [backup_command(f"mem-{i}", [ids[i]], vault=f"vault-{i % 2}") for i in range(6)]
    workflows = await submitted(store, *commands)
    async with engines(store, settings, "one", "two"):
        done = await finished(store, workflows)
    assert {wf.status for wf in done} == {WorkflowStatus.SUCCEEDED}
    for wf in done:
        finals = [e for e in await store.events_of(wf.id) if e.routing_key.endswith("succeeded")]
        assert len(finals) == 1, wf.command_id


async def test_a_backup_asked_to_cancel_before_it_starts_ends_cancelled(settings: Settings) -> None:
    store = MemoryStore()
    [wf] = await submitted(store, backup_command("mem-cancel", servers(CONFIG, 1)))
    assert (await store.request_cancel("mem-cancel")).accepted
    async with engines(store, settings, "solo"):
        [done] = await finished(store, [wf])
    assert (done.status, done.error_code) == (WorkflowStatus.CANCELLED, CANCELLED)
    assert [s.step.operation for s in await store.steps_of(wf.id)] == []  # no CBR call made
