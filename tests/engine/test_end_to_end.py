"""Each workflow kind end to end: command on the queue → workflow → CBR (emulator) → final state → event."""

from __future__ import annotations

import json
import logging

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from engine_helpers import backup_command, collect, drain_worker, publish, servers

from orchestrator.config import Settings
from orchestrator.emulator.config import DEFAULT_TENANT, EmulatorConfig
from orchestrator.emulator.faults import FaultPlan, FaultRule
from orchestrator.emulator.server import RunningEmulator
from orchestrator.store import Store, WorkflowStatus


async def test_backup_of_several_servers_end_to_end(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    ids = servers(emulator_config, 3)
    await publish(connection, settings, backup_command("b-1", ids, description="nightly"))
    await drain_worker(settings)

    wf = await store.workflow_by_command("b-1")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert wf.result is not None
    resources = wf.result["resources"]
    assert [r["resource_id"] for r in resources] == ids
    assert all(r["status"] == "succeeded" and r["backup_id"] and r["size_gb"] for r in resources)
    assert emulator.counters.requests_of("create_checkpoint") == 1

    events = [e for e in await collect(events_queue) if e["data"]["outcome"] != "progress"]
    assert len(events) == 1
    event = events[0]
    assert event["specversion"] == "1.0"
    assert event["subject"] == f"workflows/{wf.id}"
    assert event["data"]["checkpoint_id"] == wf.result["checkpoint_id"]
    assert [r["backup_id"] for r in event["data"]["resources"]] == [r["backup_id"] for r in resources]
    steps = await store.steps_of(wf.id)
    ops = [s.step.operation for s in steps]
    assert ops[:4] == ["FindVault", "FindVault", "CreateVault", "CreateCheckpoint"]  # found missing twice


async def test_secret_key_never_reaches_logs_database_or_events(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = DEFAULT_TENANT.secret_key
    emulator.faults.replace(
        FaultPlan(
            rules=[FaultRule(operation="list_backups", error_probability=1.0, error_status=500, max_faults=2)]
        )
    )
    await publish(connection, settings, backup_command("canary", servers(emulator_config, 1)))
    await drain_worker(settings)
    dump = await store.pool.fetchval(
        "SELECT string_agg(t::text, ' ') FROM (SELECT w::text AS t FROM workflows w UNION ALL "
        "SELECT s::text FROM steps s UNION ALL SELECT o::text FROM outbox o) x"
    )
    events = json.dumps(await collect(events_queue))
    assert "retry_later" in dump  # the run went through error paths too
    assert secret not in dump
    assert secret not in events
    assert secret not in caplog.text
    assert secret not in repr(settings)
