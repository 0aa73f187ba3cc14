"""Restore drills end to end: backups made on the emulator, a drill command through a real worker, the
restores seen in the emulator's ledger; a crash right after a restore call; a refusal by CBR (2003)."""

from __future__ import annotations

import io
import signal
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from engine_helpers import (
    PROJECT,
    REGION,
    EndToEnd,
    backup_command,
    run_engine_process,
    run_until_done,
    submit,
    tuned,
)
from rich.console import Console

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from cbr_emulator.inventory import Server, build_inventory
from cbr_emulator.ledger import project_ledger
from orchestrator.cli.views.status import workflow_detail
from orchestrator.messages import RestoreDrillCommand
from orchestrator.store import WorkflowStatus, workflow_status

SERVERS = 12


def rendered(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=250, color_system=None).print(renderable)
    return out.getvalue()


def inventory_config(cross_server_restore: bool) -> EmulatorConfig:
    progression = Progression(base_seconds=0.3, waiting_seconds=0, gb_per_second=1e6)
    inventory = Inventory(servers=SERVERS, disks=0)
    return EmulatorConfig(
        inventory=inventory, progression=progression, cross_server_restore=cross_server_restore
    )


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return inventory_config(cross_server_restore=True)


def fleet_split(config: EmulatorConfig, scratch: int) -> tuple[list[str], list[str]]:
    """The servers with the largest disks as scratch servers, and the others whose disks fit them all."""
    found = list(build_inventory(config.inventory, REGION, PROJECT).servers.values())
    by_size = sorted(found, key=lambda s: min(d.size_gb for d in s.disks), reverse=True)
    chosen = by_size[:scratch]

    def fits(server: Server) -> bool:
        return all(
            len(s.disks) >= len(server.disks)
            and all(a.size_gb <= b.size_gb for a, b in zip(server.disks, s.disks, strict=False))
            for s in chosen
        )

    return [s.id for s in chosen], [s.id for s in found if s not in chosen and fits(s)]


def drill_command(command_id: str, scratch: list[str], **sample: Any) -> RestoreDrillCommand:
    return RestoreDrillCommand.model_validate(
        {
            "kind": "restore_drill",
            "command_id": command_id,
            "project_id": PROJECT,
            "region": REGION,
            "sample": {"vaults": [{"name": "vault-e2e"}], **sample},
            "scratch_servers": scratch,
        }
    )


def restores(e2e: EndToEnd) -> list[dict[str, Any]]:
    project = e2e.emulator.emulator.world.project(REGION, PROJECT)
    return list(project_ledger(project)["restores"])


async def backed_up(e2e: EndToEnd, servers: list[str]) -> None:
    await e2e.publish(backup_command("backups", servers))
    await e2e.drain()
    assert (await e2e.workflow("backups")).status is WorkflowStatus.SUCCEEDED


async def test_a_drill_restores_each_sample_to_a_scratch_server_one_at_a_time_and_reports_its_rto(
    e2e: EndToEnd,
) -> None:
    scratch, fleet = fleet_split(e2e.emulator_config, 2)
    assert len(fleet) >= 5, fleet
    await backed_up(e2e, fleet[:5])
    await e2e.publish(drill_command("drill-1", scratch, per_vault=5))
    await e2e.drain(seconds=60)

    wf = await e2e.workflow("drill-1")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    report = wf.result["drill"] if wf.result else None
    assert report is not None and report["succeeded"] == 5
    assert {s["resource_id"] for s in report["samples"]} == set(fleet[:5])
    assert all(s["scratch_server_id"] in scratch and s["rto_seconds"] > 0 for s in report["samples"])

    done = restores(e2e)
    assert sorted(r["backup_id"] for r in done) == sorted(s["backup_id"] for s in report["samples"])
    assert {r["target_resource_id"] for r in done} <= set(scratch)  # never anywhere else
    for server in scratch:  # one restore at a time on each scratch server
        spans = sorted(
            (datetime.fromisoformat(r["created_at"]), datetime.fromisoformat(r["ended_at"]))
            for r in done
            if r["target_resource_id"] == server
        )
        assert all(end <= start for (_, end), (start, _) in pairwise(spans)), spans
    [final] = [e for e in await e2e.final_events() if e["data"]["kind"] == "restore_drill"]
    assert final["data"]["outcome"] == "succeeded" and final["data"]["drill"]["succeeded"] == 5

    detail = await workflow_status(e2e.settings.database_url, "drill-1")  # what `status drill-1` shows
    assert detail is not None
    shown = rendered(workflow_detail(detail))
    assert "5 restored, 0 failed, 0 skipped · RTO median" in shown
    assert all(s["backup_id"] in shown and s["resource_id"] in shown for s in report["samples"])


async def test_a_crash_right_after_a_restore_call_does_not_restore_it_again(e2e: EndToEnd) -> None:
    scratch, fleet = fleet_split(e2e.emulator_config, 1)
    await backed_up(e2e, fleet[:2])
    await submit(e2e.store, drill_command("drill-crash", scratch, per_vault=2))
    doomed = tuned(e2e.settings, lease_seconds=3.0)
    assert await run_engine_process(doomed, "doomed", crash_at="after_restore_call") == -signal.SIGKILL
    assert len(restores(e2e)) == 1  # the restore reached the cloud; its answer was never recorded

    await run_until_done(e2e.store, e2e.settings, "survivor", seconds=60)
    wf = await e2e.workflow("drill-crash")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    done = restores(e2e)
    assert len(done) == 2 and len({r["backup_id"] for r in done}) == 2  # each sample restored once
    assert wf.result is not None and wf.result["drill"]["succeeded"] == 2


@pytest.mark.parametrize("emulator_config", [inventory_config(cross_server_restore=False)])
async def test_where_cbr_refuses_a_restore_to_another_server_the_drill_says_so(e2e: EndToEnd) -> None:
    scratch, fleet = fleet_split(e2e.emulator_config, 1)
    await backed_up(e2e, fleet[:1])
    await e2e.publish(drill_command("drill-2003", scratch))
    await e2e.drain()
    wf = await e2e.workflow("drill-2003")
    assert wf.status is WorkflowStatus.FAILED
    assert wf.error_code is not None and wf.error_code.endswith("2003"), wf.error_code
    assert restores(e2e) == []
