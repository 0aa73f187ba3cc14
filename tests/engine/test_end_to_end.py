"""Each workflow kind end to end: command on the queue → workflow → CBR (emulator) → final state → event."""

from __future__ import annotations

import json
import logging

import pytest
from engine_helpers import EndToEnd, backup_command, collect
from store_rows import raw_sql

from cbr_emulator.config import DEFAULT_TENANT
from cbr_emulator.faults import FaultPlan, FaultRule
from orchestrator.store import WorkflowStatus


async def test_backup_of_several_servers_end_to_end(
    e2e: EndToEnd,
) -> None:
    ids = e2e.servers(3)
    await e2e.publish(backup_command("b-1", ids, description="nightly"))
    await e2e.drain()

    wf = await e2e.workflow("b-1")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert wf.result is not None
    resources = wf.result["resources"]
    assert [r["resource_id"] for r in resources] == ids
    assert all(r["status"] == "succeeded" and r["backup_id"] and r["size_gb"] for r in resources)
    assert e2e.emulator.counters.requests_of("create_checkpoint") == 1

    events = await e2e.final_events()
    assert len(events) == 1
    event = events[0]
    assert event["specversion"] == "1.0"
    assert event["subject"] == f"workflows/{wf.id}"
    assert event["data"]["checkpoint_id"] == wf.result["checkpoint_id"]
    assert [r["backup_id"] for r in event["data"]["resources"]] == [r["backup_id"] for r in resources]
    steps = await e2e.store.steps_of(wf.id)
    ops = [s.step.operation for s in steps]
    assert ops[:4] == ["FindVault", "FindVault", "CreateVault", "CreateCheckpoint"]  # found missing twice


async def test_secret_key_never_reaches_logs_database_or_events(
    e2e: EndToEnd,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = DEFAULT_TENANT.secret_key
    e2e.emulator.faults.replace(
        FaultPlan(
            rules=[FaultRule(operation="list_backups", error_probability=1.0, error_status=500, max_faults=2)]
        )
    )
    await e2e.publish(backup_command("canary", e2e.servers(1)))
    await e2e.drain()
    dump = await raw_sql(e2e.store).fetchval(
        "SELECT string_agg(t::text, ' ') FROM (SELECT w::text AS t FROM workflows w UNION ALL "
        "SELECT s::text FROM steps s UNION ALL SELECT o::text FROM outbox o) x"
    )
    events = json.dumps(await collect(e2e.events_queue))
    assert "retry_later" in dump  # the run went through error paths too
    assert secret not in dump
    assert secret not in events
    assert secret not in caplog.text
    assert secret not in repr(e2e.settings)
