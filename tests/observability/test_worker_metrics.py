"""A worker's metrics, scraped over HTTP from its metrics port while it runs a backup on the emulator: the
counters move with the right labels, the histograms count, the gauges read the queues and the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from engine_helpers import EndToEnd, backup_command
from scrape import Samples, free_port, registry, scrape, total, value

from cbr_emulator.faults import FaultPlan, FaultRule
from orchestrator.config import MetricsSettings, Settings
from orchestrator.store import Store, WorkflowStatus
from orchestrator.worker import run_worker


async def finished(store: Store, command_id: str, seconds: float = 30) -> WorkflowStatus:
    async with asyncio.timeout(seconds):
        while True:
            wf = await store.workflow_by_command(command_id)
            if wf is not None and wf.finished_at is not None:
                return wf.status
            await asyncio.sleep(0.1)


async def settled(store: Store) -> None:
    """Until every event is published (the outbox empty for the relay)."""
    async with asyncio.timeout(10):
        while True:
            if await store.unpublished_count() == 0:
                return
            await asyncio.sleep(0.1)


@pytest.fixture
def served(e2e: EndToEnd) -> Settings:
    """The test's settings with the metrics endpoint on a free port, refreshed often."""
    metrics = MetricsSettings(port=free_port(), refresh_seconds=0.1)
    return e2e.settings.model_copy(update={"metrics": metrics})


@pytest.fixture
async def worker(served: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(served, stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 30)


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


async def test_a_backup_moves_the_counters_and_histograms_as_a_scrape_sees_them(
    e2e: EndToEnd, served: Settings
) -> None:
    before = registry()
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(served, stop))
    try:
        await e2e.publish(backup_command("metrics-1", e2e.servers(1)))
        assert await finished(e2e.store, "metrics-1") is WorkflowStatus.SUCCEEDED
        await settled(e2e.store)
        await asyncio.sleep(0.5)  # a refresh of the gauges after the relay's last publication
        after = await scrape(served.metrics.port)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    assert delta(after, before, "cbr_orch_workflows_total", kind="backup", outcome="succeeded") == 1
    assert delta(after, before, "cbr_orch_workflows_total", outcome="failed") == 0
    assert delta(after, before, "cbr_orch_workflow_duration_seconds_count", kind="backup") == 1
    assert delta(after, before, "cbr_orch_step_duration_seconds_count", kind="backup") > 0
    phases = {
        dict(labels)["step"] for (name, labels) in after if name == "cbr_orch_step_duration_seconds_count"
    }
    assert {"resolve_vault", "checkpoint"} <= phases  # the backup machine's phases, not free text

    called = e2e.emulator.counters.snapshot()["requests"]["by_operation"]
    assert {"create_vault", "create_checkpoint"} <= set(called)
    for operation, count in called.items():
        assert delta(after, before, "cbr_orch_cbr_calls_total", operation=operation) == count, operation
        assert delta(after, before, "cbr_orch_cbr_call_duration_seconds_count", operation=operation) == count
    statuses = {dict(labels)["status"] for (name, labels) in after if name == "cbr_orch_cbr_calls_total"}
    assert all(status.isdigit() or status in ("timeout", "error") for status in statuses), statuses
    assert delta(after, before, "cbr_orch_cbr_calls_total", status="200") > 0
    assert delta(after, before, "cbr_orch_rate_limiter_wait_seconds_count") == sum(called.values())
    assert delta(after, before, "cbr_orch_admission_wait_seconds_count") == 1

    assert value(after, "cbr_orch_intake_queue_depth") == 0
    assert value(after, "cbr_orch_dead_letters") == 0
    assert value(after, "cbr_orch_outbox_lag_seconds") == 0
    project = e2e.settings.credentials[0].project_id
    assert value(after, "cbr_orch_protected_resources", project=project, state="ok") == 1
    assert value(after, "cbr_orch_protected_resources", project=project, state="stale") == 0
    assert 0 <= value(after, "cbr_orch_backup_age_seconds", project=project) < 60
    assert not [k for k in after if k[0] == "cbr_orch_resource_backup_age_seconds"]  # per resource: off


async def test_a_throttled_call_counts_for_its_project(e2e: EndToEnd, served: Settings) -> None:
    e2e.emulator.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(
                    operation="list_vault", throttle_probability=1.0, max_faults=1, retry_after_seconds=0.05
                )
            ]
        )
    )
    project = e2e.settings.credentials[0].project_id
    before = registry()
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(served, stop))
    try:
        await e2e.publish(backup_command("metrics-429", e2e.servers(1)))
        assert await finished(e2e.store, "metrics-429") is WorkflowStatus.SUCCEEDED
        after = await scrape(served.metrics.port)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert e2e.emulator.counters.snapshot()["throttled"]["total"] == 1
    assert delta(after, before, "cbr_orch_cbr_throttled_total", project=project) == 1
    assert delta(after, before, "cbr_orch_cbr_calls_total", operation="list_vault", status="429") == 1


async def test_the_worker_answers_health_and_readiness_on_its_metrics_port(
    e2e: EndToEnd, served: Settings, worker: None
) -> None:
    port = served.metrics.port
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(10):
            while True:  # the endpoint is up before the worker's connections are made
                try:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as ready:
                        answer = (ready.status, await ready.json())
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        assert answer == (200, {"status": "ok", "database": "ok", "broker": "ok"})
        async with session.get(f"http://127.0.0.1:{port}/healthz") as health:
            assert (health.status, await health.json()) == (200, {"status": "ok"})
