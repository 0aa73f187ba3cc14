"""Replication polls of one project are answered by one list of replication tasks, not a read per backup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from engine_helpers import (
    DEST,
    PROJECT,
    REGION,
    client_for,
    emulator_project,
    eventually,
    run_until_done,
    running_engines,
    servers,
    slow_tasks,
    submit,
    tuned,
)

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.inventory import SERVER_TYPE
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.bodies import (
    BackupReplicate,
    BillingCreate,
    CheckpointParameters,
    ResourceRef,
    VaultCreate,
)
from orchestrator.cbr.clients import CbrClients
from orchestrator.cbr.errors import CbrApiError, ErrorKind
from orchestrator.cbr.query import BackupFilter
from orchestrator.config import Settings
from orchestrator.messages import ReplicateCommand
from orchestrator.polling.poller import Poller
from orchestrator.store import Store, WorkflowStatus
from orchestrator.workflows.base import BackupDetails, PollReplication, ReplicaSeen

N = 4


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(tenants=[DEFAULT_TENANT, DEST], progression=Progression.instantly())


@pytest.fixture
async def source_backups(emulator: RunningEmulator, emulator_config: EmulatorConfig) -> list[str]:
    """One available backup of each of N servers, made by one checkpoint."""
    ids = servers(emulator_config, N)
    async with client_for(emulator.base_url, DEFAULT_TENANT) as cbr:
        vault = await cbr.create_vault(
            VaultCreate(
                name="sources",
                billing=BillingCreate(object_type="server", size=10_000),
                resources=[ResourceRef(id=sid, type=SERVER_TYPE) for sid in ids],
            )
        )
        checkpoint = await cbr.create_checkpoint(vault.id, CheckpointParameters(resources=ids))
        backups = [b async for b in cbr.iter_backups(BackupFilter(checkpoint_id=checkpoint.id))]
    by_server = {b.resource_id: b.id for b in backups if b.parent_id is None and b.status == "available"}
    return [by_server[sid] for sid in ids]


@pytest.fixture
async def replica_vault(emulator: RunningEmulator) -> str:
    async with client_for(emulator.base_url, DEST) as dest:
        vault = await dest.create_vault(
            VaultCreate(
                name="replicas",
                billing=BillingCreate(object_type="server", protect_type="replication", size=10_000),
            )
        )
    return vault.id


@pytest.fixture
async def poller(settings: Settings) -> AsyncIterator[Poller]:
    clients = CbrClients(settings)
    yield Poller(clients)
    await clients.close()


def replicate_command(command_id: str, backup_id: str, vault_id: str) -> ReplicateCommand:
    return ReplicateCommand.model_validate(
        {
            "command_id": command_id,
            "project_id": PROJECT,
            "region": REGION,
            "backup_id": backup_id,
            "destination_region": DEST.region,
            "destination_project_id": DEST.project_id,
            "destination_vault_id": vault_id,
        }
    )


def destination_of(running: RunningEmulator, backup_id: str) -> str | None:
    [record] = emulator_project(running).backups[backup_id].replication_records
    return record.destination_backup_id


async def test_concurrent_replication_polls_cost_one_task_listing_and_a_read_per_straggler(
    emulator: RunningEmulator, source_backups: list[str], replica_vault: str, poller: Poller
) -> None:
    since = datetime.now(UTC)
    slow_tasks(emulator, seconds=60)
    *replicated, never = source_backups
    body = BackupReplicate(
        destination_project_id=DEST.project_id,
        destination_region=DEST.region,
        destination_vault_id=replica_vault,
    )
    async with client_for(emulator.base_url, DEFAULT_TENANT) as cbr:
        records = [(await cbr.replicate_backup(b, body)).replication_record_id for b in replicated]
    polls = [PollReplication(b, r, DEST.region, since) for b, r in zip(replicated, records, strict=True)]
    straggler = PollReplication(never, None, DEST.region, since)
    emulator.counters.reset()

    answers = await asyncio.gather(*(poller.replication(PROJECT, REGION, p) for p in [*polls, straggler]))
    assert emulator.counters.requests_of("list_op_logs") == 1
    assert emulator.counters.requests_of("show_backup") == 1  # only the one with no replication task
    running = [ReplicaSeen(r or "", DEST.region, "replicating", None, progress=0) for r in records]
    assert answers[:-1] == running
    assert isinstance(answers[-1], BackupDetails)
    assert (answers[-1].backup_id, answers[-1].replicas) == (never, ())

    emulator.clock.advance(120)
    answers = await asyncio.gather(*(poller.replication(PROJECT, REGION, p) for p in polls))
    assert emulator.counters.requests_of("list_op_logs") == 2
    assert emulator.counters.requests_of("show_backup") == 1
    assert [(a.status, a.destination_backup_id) for a in answers if isinstance(a, ReplicaSeen)] == [
        ("success", destination_of(emulator, b)) for b in replicated
    ]


async def test_a_straggler_whose_read_fails_fails_alone(
    emulator: RunningEmulator, source_backups: list[str], replica_vault: str, poller: Poller
) -> None:
    since = datetime.now(UTC)
    slow_tasks(emulator, seconds=60)
    replicated, never = source_backups[:2]
    body = BackupReplicate(
        destination_project_id=DEST.project_id,
        destination_region=DEST.region,
        destination_vault_id=replica_vault,
    )
    async with client_for(emulator.base_url, DEFAULT_TENANT) as cbr:
        record = (await cbr.replicate_backup(replicated, body)).replication_record_id
    emulator.faults.replace(FaultPlan(rules=[FaultRule(operation="show_backup", error_probability=1.0)]))

    polls = [
        PollReplication(replicated, record, DEST.region, since),
        PollReplication(never, None, DEST.region, since),
    ]
    seen, failed = await asyncio.gather(
        *(poller.replication(PROJECT, REGION, p) for p in polls), return_exceptions=True
    )
    assert isinstance(seen, ReplicaSeen)
    assert seen.status == "replicating"
    assert isinstance(failed, CbrApiError)
    assert (failed.code, failed.kind) == ("BackupService.9910", ErrorKind.RETRY_LATER)


async def test_a_failed_replication_is_read_from_its_backup_which_says_why(
    emulator: RunningEmulator, source_backups: list[str], replica_vault: str, poller: Poller
) -> None:
    since = datetime.now(UTC)
    slow_tasks(emulator, seconds=60)
    backup_id = source_backups[0]
    body = BackupReplicate(
        destination_project_id=DEST.project_id,
        destination_region=DEST.region,
        destination_vault_id=replica_vault,
    )
    async with client_for(emulator.base_url, DEFAULT_TENANT) as cbr:
        record = (await cbr.replicate_backup(backup_id, body)).replication_record_id
    async with client_for(emulator.base_url, DEST) as dest:
        await dest.delete_vault(replica_vault)  # the replication cannot land: it fails
    emulator.clock.advance(120)
    emulator.counters.reset()

    answer = await poller.replication(PROJECT, REGION, PollReplication(backup_id, record, DEST.region, since))
    assert emulator.counters.requests_of("list_op_logs") == 1
    assert emulator.counters.requests_of("show_backup") == 1
    assert isinstance(answer, BackupDetails)
    [replica] = answer.replicas
    assert (replica.record_id, replica.status, replica.fail_code) == (record, "fail", "BackupService.1008")


async def test_replicate_workflows_polled_together_cost_one_list_call(
    store: Store,
    settings: Settings,
    emulator: RunningEmulator,
    source_backups: list[str],
    replica_vault: str,
) -> None:
    slow_tasks(emulator, seconds=60)  # the replications wait for the test to move the clock
    await submit(
        store, *(replicate_command(f"rep-{i}", b, replica_vault) for i, b in enumerate(source_backups))
    )
    together = tuned(settings, concurrency=N)

    async def all_polled() -> bool:
        workflows = await store.list_workflows(limit=100)
        ops = [{s.step.operation for s in await store.steps_of(wf.id)} for wf in workflows]
        return len(ops) == N and all("PollReplication" in o for o in ops)

    async with running_engines(store, together, "first"):
        await eventually(all_polled, 10)
    await asyncio.sleep(together.worker.status_poll_seconds * 3)  # every workflow is due again
    emulator.counters.reset()
    emulator.clock.advance(120)  # every replication ends

    await run_until_done(store, together, "second", poll_window=0.5)
    assert emulator.counters.requests_of("list_op_logs") == 1
    assert emulator.counters.requests_of("show_backup") == 0
    assert emulator.counters.requests_of("copy_backup") == 0
    assert await store.count_by_status() == {WorkflowStatus.SUCCEEDED: N}
    for i, backup_id in enumerate(source_backups):
        wf = await store.workflow_by_command(f"rep-{i}")
        assert wf is not None
        assert wf.result is not None
        assert wf.result["destination_backup_id"] == destination_of(emulator, backup_id)
