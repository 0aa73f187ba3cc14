"""Fleets end to end: command on the queue → parent → children admitted and run on the emulator → summary."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from engine_helpers import PROJECT, REGION, EndToEnd, collect
from rich.console import Console
from store_rows import raw_sql

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.state import ProjectState
from orchestrator.cli.fleet_watch import wait_for_workflow
from orchestrator.cli.views.status import workflow_detail, workflows_table
from orchestrator.messages import WINDOW_CLOSED, FleetBackupCommand
from orchestrator.store import WorkflowStatus, list_workflows, workflow_status
from orchestrator.workflows.fleet_report import report_of

FLEET = 600


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(inventory=Inventory(servers=FLEET, disks=0), progression=Progression.instantly())


def fleet_command(command_id: str, select: dict[str, Any], **over: Any) -> FleetBackupCommand:
    return FleetBackupCommand.model_validate(
        {"command_id": command_id, "project_id": PROJECT, "region": REGION, "select": select, **over}
    )


def rendered(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=250, color_system=None).print(renderable)
    return out.getvalue()


def finals(events: list[dict[str, Any]], kind: str = "fleet_backup") -> list[dict[str, Any]]:
    return [e for e in events if e["data"]["kind"] == kind and e["data"]["outcome"] != "progress"]


async def test_fleet_of_600_servers_by_type_is_packed_into_vaults_holding_at_most_their_size(
    e2e: EndToEnd,
) -> None:
    command = fleet_command("fleet-1", {"protectables": {"types": ["server"]}}, vault_concurrency=2)
    live = io.StringIO()
    waiting = asyncio.create_task(
        wait_for_workflow(
            e2e.settings.database_url, "fleet-1", Console(file=live, width=200), poll_seconds=0.05
        )
    )
    await e2e.publish(command)
    await e2e.drain(seconds=60)
    followed = await asyncio.wait_for(waiting, 5)  # what `submit --wait` shows
    assert followed.status is WorkflowStatus.SUCCEEDED and f"{FLEET}/{FLEET}" in live.getvalue()

    wf = await e2e.store.workflow_by_command("fleet-1")
    assert wf is not None and wf.result is not None
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    counts = wf.result["fleet"]["counts"]
    vaults = list(e2e.emulator.emulator.world.project(REGION, PROJECT).vaults.values())
    held = {v.name: sum(r.size_gb for r in v.resources.values()) for v in vaults}
    assert sum(held.values()) > 10 * 10_240  # 600 servers need many vaults of the default 10,240 GB
    assert all(v.size_gb == 10_240 and held[v.name] <= v.size_gb for v in vaults), held
    used = {v.name: emulator_state(e2e).vault_used_mb(v.id) / 1024 for v in vaults}
    assert all(used[v.name] <= v.size_gb for v in vaults), used  # and what their backups store fits
    assert (counts["total"], counts["succeeded"], counts["failed"], counts["children"]) == (
        FLEET,
        FLEET,
        0,
        len(vaults),
    )
    assert counts["bytes_protected"] > 0
    assert e2e.emulator.counters.requests_of("create_checkpoint") == len(vaults)  # one checkpoint per vault
    assert e2e.emulator.counters.requests_of("create_vault") == len(vaults)
    assert e2e.emulator.counters.requests_of("list_protectable") == FLEET // 50 + 1  # sizes come with it

    events = await collect(e2e.events_queue)
    [summary] = finals(events)
    data = summary["data"]
    assert data["outcome"] == "succeeded" and data["resources"] == []
    assert "backups" not in data["fleet"] and data["fleet"]["problems_total"] == 0
    page = await e2e.store.fleet.resource_page(wf.id, 0, FLEET)  # every backup, from PostgreSQL
    assert sorted(r.resource_id for r in page.rows) == sorted(e2e.servers(FLEET))
    assert all(r.status == "succeeded" and r.backup_id and r.checkpoint_id and r.vault for r in page.rows)
    progress = [
        e for e in events if e["data"]["kind"] == "fleet_backup" and e["data"]["outcome"] == "progress"
    ]
    assert all(e["data"]["fleet"]["counts"]["total"] == FLEET for e in progress)

    listed = rendered(workflows_table(await list_workflows(e2e.settings.database_url)))
    assert f"{FLEET}/{FLEET}" in listed  # the fleet's row in `status`
    detail = await workflow_status(e2e.settings.database_url, "fleet-1")
    assert detail is not None and detail.fleet is not None and len(detail.fleet.children) == len(vaults)
    shown = rendered(workflow_detail(detail))
    assert f"{len(vaults)} child backups" in shown and "0 failed or skipped resources" in shown


def emulator_state(e2e: EndToEnd) -> ProjectState:
    return e2e.emulator.emulator.world.project(REGION, PROJECT)


ENDED = ("succeeded", "failed", "skipped", "ended")
BIG_VAULTS = {"size_gb": 1_000_000}  # room for 255 servers of any size: vaults packed by count


async def test_a_fleet_never_runs_more_backup_tasks_at_once_than_its_project_cap(e2e: EndToEnd) -> None:
    e2e.emulator.emulator.set_progression(Progression(base_seconds=1, gb_per_second=1e6, waiting_seconds=0))
    select = {"protectables": {"types": ["server"]}}  # 600: children and vaults of 200
    command = fleet_command("fleet-cap", select, project_concurrency=200, auto_vaults=BIG_VAULTS)  # old name
    await e2e.publish(command)
    await e2e.drain(seconds=90)

    wf = await e2e.workflow("fleet-cap")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert wf.result is not None and wf.result["fleet"]["counts"]["succeeded"] == FLEET
    [project] = e2e.emulator.emulator.describe()["projects"]
    peak = project["backup_tasks"]["peak_running"]
    assert 88 <= peak <= 200, peak  # CBR's unit: backup tasks running at once, one per resource
    sizes = await raw_sql(e2e.store).fetch(
        "SELECT jsonb_array_length(input -> 'resources') AS n FROM workflows WHERE parent_id = $1", wf.id
    )
    assert max(r["n"] for r in sizes) <= 200 and sum(r["n"] for r in sizes) == FLEET
    vaults = sorted(len(v.resources) for v in emulator_state(e2e).vaults.values())
    assert vaults == [200, 200, 200] and len(sizes) == 3  # a vault made for each child of 200


async def test_children_share_the_vaults_made_for_them_each_made_once(e2e: EndToEnd) -> None:
    e2e.emulator.emulator.set_progression(Progression(base_seconds=0.2, gb_per_second=1e6, waiting_seconds=0))
    select = {"protectables": {"types": ["server"]}}  # 600: vaults of 200, each two children of 100
    await e2e.publish(
        fleet_command("fleet-shared", select, project_tasks=100, vault_concurrency=2, auto_vaults=BIG_VAULTS)
    )
    await e2e.drain(seconds=90)

    wf = await e2e.workflow("fleet-shared")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    state = emulator_state(e2e)
    vaults = sorted((v.name, len(v.resources)) for v in state.vaults.values())
    assert [n for _, n in vaults] == [200, 200, 200] and len({name for name, _ in vaults}) == 3
    children = await raw_sql(e2e.store).fetch("SELECT input FROM workflows WHERE parent_id = $1", wf.id)
    assert len(children) == 6
    [project] = e2e.emulator.emulator.describe()["projects"]
    assert project["backup_tasks"]["peak_running"] <= 100
    assert e2e.emulator.counters.requests_of("create_vault") == 3
    assert e2e.emulator.counters.requests_of("create_checkpoint") == 6


async def test_fleet_progress_moves_per_resource_while_children_run(e2e: EndToEnd) -> None:
    e2e.emulator.emulator.set_progression(Progression(base_seconds=0.2, gb_per_second=150, waiting_seconds=0))
    ids = e2e.servers(300)  # two children, 255 and 45, running side by side
    command = fleet_command(
        "fleet-moves",
        {"resources": [{"id": i} for i in ids]},
        project_tasks=300,
        vault_concurrency=2,
        auto_vaults=BIG_VAULTS,
    )
    seen: list[int] = []  # what `submit --wait` and `status` read: the parent's counts, resource by resource

    async def follow() -> None:
        while True:
            wf = await e2e.store.workflow_by_command("fleet-moves")
            report = report_of(wf.kind, wf.state, wf.result, datetime.now(UTC)) if wf else None
            if report is not None:
                seen.append(report.counts.final)
            await asyncio.sleep(0.05)

    following = asyncio.create_task(follow())
    await e2e.publish(command)
    await e2e.drain(seconds=60)
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)

    wf = await e2e.workflow("fleet-moves")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    between = sorted(set(seen) - {0, 45, 255, 300})  # not only whole children
    assert len(between) >= 3, sorted(set(seen))  # as often as the children poll
    events = await collect(e2e.events_queue)
    progress = [e for e in events if e["data"]["outcome"] == "progress"]
    finals_seen = [sum(e["data"]["fleet"]["counts"][k] for k in ENDED) for e in progress]
    assert len(progress) >= 3 and len({e["id"] for e in progress}) == len(progress)
    assert finals_seen == sorted(finals_seen) and set(finals_seen) - {0, 45, 255, 300}


async def test_partially_failing_fleet_reports_each_failed_resource_with_its_cbr_code(
    e2e: EndToEnd,
) -> None:
    e2e.emulator.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(
                    operation="create_checkpoint",
                    error_probability=1.0,
                    error_status=400,
                    error_code="BackupService.6114",
                    error_message="The vault capacity is insufficient.",
                    max_faults=1,
                )
            ]
        )
    )
    ids = e2e.servers(300)  # two children: 255 + 45
    select = {"resources": [{"id": i} for i in ids]}
    await e2e.publish(fleet_command("fleet-2", select, project_tasks=256, auto_vaults=BIG_VAULTS))
    await e2e.drain(seconds=60)

    wf = await e2e.store.workflow_by_command("fleet-2")
    assert wf is not None and wf.status is WorkflowStatus.PARTIALLY_SUCCEEDED, (
        wf.error_code,
        wf.error_message,
    )
    [summary] = finals(await collect(e2e.events_queue))
    data = summary["data"]
    assert data["outcome"] == "partially_succeeded"
    failed, problems = data["resources"], data["fleet"]["problems_total"]
    assert problems in (255, 45)  # the child whose checkpoint call failed
    assert len(failed) == min(problems, 100)  # the event lists the first 100 at most
    assert {(r["status"], r["error_code"], r["error_message"]) for r in failed} == {
        ("failed", "BackupService.6114", "The vault capacity is insufficient.")
    }
    page = await e2e.store.fleet.resource_page(wf.id, 0, 300)  # every result, from PostgreSQL
    succeeded = {r.resource_id: r.backup_id for r in page.rows if r.status == "succeeded"}
    failed_ids = [r.resource_id for r in page.rows if r.status == "failed"]
    assert len(succeeded) + len(failed_ids) == 300 and len(failed_ids) == problems and all(succeeded.values())
    assert set(succeeded) | set(failed_ids) == set(ids)
    assert [r["resource_id"] for r in failed] == failed_ids[:100]
    counts = data["fleet"]["counts"]
    assert (counts["succeeded"], counts["failed"]) == (len(succeeded), problems)
    detail = await workflow_status(e2e.settings.database_url, "fleet-2")
    assert detail is not None and "BackupService.6114" in rendered(workflow_detail(detail))


async def test_children_not_started_in_the_window_expire_with_their_resources_skipped(
    e2e: EndToEnd,
) -> None:
    e2e.emulator.emulator.set_progression(Progression(base_seconds=2, gb_per_second=1e6, waiting_seconds=0))
    ids = e2e.servers(300)
    command = fleet_command(
        "fleet-3",
        {"resources": [{"id": i} for i in ids]},
        project_tasks=256,  # children of 255 and 45: one at a time
        auto_vaults=BIG_VAULTS,
        window_seconds=1,
    )
    await e2e.publish(command)
    await e2e.drain(seconds=60)

    wf = await e2e.store.workflow_by_command("fleet-3")
    assert wf is not None and wf.status is WorkflowStatus.PARTIALLY_SUCCEEDED, (
        wf.error_code,
        wf.error_message,
    )
    children = await raw_sql(e2e.store).fetch(
        "SELECT status FROM workflows WHERE parent_id = $1 ORDER BY command_id", wf.id
    )
    assert sorted(c["status"] for c in children) == ["expired", "succeeded"]  # the cap held the second back
    [summary] = finals(await collect(e2e.events_queue))
    skipped = summary["data"]["resources"]
    assert skipped and {(r["status"], r["error_code"]) for r in skipped} == {("skipped", WINDOW_CLOSED)}
    fleet = summary["data"]["fleet"]
    assert fleet["counts"]["skipped"] == fleet["counts"]["window_closed"] == fleet["problems_total"]
    assert len(skipped) == min(fleet["problems_total"], 100)
