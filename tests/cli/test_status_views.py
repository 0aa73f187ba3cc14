"""``status`` as a user and a script read it: the list fits 120 columns, one line per workflow; a running
backup shows each resource and how far it is; no empty tables; ``--json`` is JSON whatever the terminal;
``--events`` prints event bodies.

Workflows are written here as the engine stores them, in all the states a user meets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cli_runner import run_cli
from store_rows import raw_sql

from orchestrator.store import Store

P, R = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "ap-southeast-3"
LONG_MESSAGE = "the vault may exist in the cloud; looking for it failed: " + "x" * 120


async def insert(store: Store, command_id: str, kind: str, status: str, **columns: Any) -> uuid.UUID:
    wid = columns.pop("id", uuid.uuid4())
    if status not in ("pending", "running"):
        columns.setdefault("finished_at", datetime.now(UTC))
    names = ["id", "command_id", "kind", "status", "project_id", "region", *columns]
    values = [wid, command_id, kind, status, P, R, *columns.values()]
    marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await raw_sql(store).execute(f"INSERT INTO workflows ({', '.join(names)}) VALUES ({marks})", *values)
    return wid


def backup_input(*resource_ids: str, vault: str = "vault-nightly") -> dict[str, Any]:
    return {
        "kind": "backup",
        "vault": {"name": vault},
        "resources": [{"id": r, "type": "OS::Nova::Server"} for r in resource_ids],
    }


def succeeded(resource_id: str, backup_id: str) -> dict[str, Any]:
    return {"resource_id": resource_id, "status": "succeeded", "backup_id": backup_id, "size_gb": 40}


async def running_backup(store: Store, command_id: str) -> dict[str, str]:
    """A backup admitted, its checkpoint created, one of its two resources backed up; its ids."""
    ids = {k: str(uuid.uuid4()) for k in ("done", "busy", "backup", "checkpoint", "vault")}
    await insert(
        store,
        command_id,
        "backup",
        "running",
        input=backup_input(ids["done"], ids["busy"]),
        state={
            "phase": "poll",
            "admitted": True,
            "vault_id": ids["vault"],
            "checkpoint_id": ids["checkpoint"],
            "pending": [ids["busy"]],
            "results": {ids["done"]: succeeded(ids["done"], ids["backup"])},
            "progress_reported": 50,
        },
        attempts=1,
    )
    return ids


async def test_the_list_fits_120_columns_with_one_line_per_workflow(store: Store, dsn: str) -> None:
    three_minutes_ago = datetime.now(UTC) - timedelta(minutes=3)
    counts = {"total": 600, "succeeded": 408, "failed": 3, "skipped": 1, "running": 188, "children": 3}
    fleet = await insert(
        store,
        "nightly-fleet-eu-2026-12-05",
        "fleet_backup",
        "running",
        input={},
        state={"phase": "watch", "counts": counts},
        updated_at=three_minutes_ago,
    )
    child = f"fleet/{fleet}/000001"
    await insert(store, child, "backup", "running", input=backup_input("a"), parent_id=fleet)
    await running_backup(store, "db-servers-backup-2026-12-05")
    await insert(
        store,
        "restore-db-primary-2026-12-05",
        "restore",
        "failed",
        input={},
        error_code="orchestrator.outcome_unknown",
        error_message=LONG_MESSAGE,
        updated_at=three_minutes_ago,
    )
    await insert(
        store,
        "weekly-backup-app-2026-12-05",
        "backup",
        "partially_succeeded",
        input=backup_input("b", "c"),
        updated_at=three_minutes_ago,
    )

    run = await run_cli(dsn, "status", env={"COLUMNS": "120"})
    assert (run.code, run.stderr) == (0, "")
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    expected = {
        "nightly-fleet-eu-2026-12-05": ("fleet", "running", "412/600 · 3 failed · 1 skipped", "3m ago"),
        "db-servers-backup-2026-12-05": ("backup", "running", "50%", "s ago"),
        "restore-db-primary-2026-12-05": ("restore", "failed", "orchestrator.outcome_unknown", "3m ago"),
        "weekly-backup-app-2026-12-05": ("backup", "partial", "3m ago"),
    }
    for command_id, parts in expected.items():
        [row] = [line for line in lines if command_id in line]  # one line: not wrapped
        assert all(part in row for part in parts), (row, parts)
    assert child not in run.stdout  # a fleet's children are listed in its detail
    assert "4 workflows" in run.stdout


async def test_a_running_backup_shows_each_resource_and_how_far_it_is(store: Store, dsn: str) -> None:
    ids = await running_backup(store, "half-done")
    narrow = await run_cli(dsn, "status", "half-done", env={"COLUMNS": "120"})
    assert (narrow.code, narrow.stderr) == (0, "")
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert "running · 50%" in narrow.stdout
    for label, key in (("vault id", "vault"), ("checkpoint", "checkpoint")):
        [line] = [x for x in lines if x.startswith(label + " ")]
        assert line.split()[-1] == ids[key]  # the whole id, on its own line
    assert f"{ids['done']} · server · succeeded · 40 GB" in lines
    assert f"{ids['busy']} · server · running" in lines
    [backup] = [x for x in lines if x.strip().startswith("backup ")]
    assert backup.split() == ["backup", ids["backup"]]

    wide = await run_cli(dsn, "status", "half-done", env={"COLUMNS": "300"})
    [done] = [x for x in wide.stdout.splitlines() if ids["done"] in x]  # a table: one line per resource
    assert done.split()[:8] == [
        ids["done"],
        "server",
        "succeeded",
        ids["backup"],
        ids["checkpoint"],
        "vault-nightly",
        ids["vault"],
        "40",
    ]
    [busy] = [x for x in wide.stdout.splitlines() if ids["busy"] in x]
    assert busy.split()[:3] == [ids["busy"], "server", "running"]


async def test_a_workflow_without_calls_or_events_draws_no_empty_table(store: Store, dsn: str) -> None:
    await insert(store, "not-started", "backup", "pending", input=backup_input("srv-1"))
    run = await run_cli(dsn, "status", "not-started")
    assert (run.code, run.stderr) == (0, "")
    assert "no CBR calls yet" in run.stdout and "no events yet" in run.stdout
    assert "step history" not in run.stdout and "routing key" not in run.stdout
    [resource] = [line for line in run.stdout.splitlines() if "srv-1" in line]
    assert resource.split() == ["srv-1", "server", "waiting", "vault-nightly"]
    assert "not resolved yet" in run.stdout and "not created yet" in run.stdout  # its vault id, checkpoint
    assert not any(c in run.stdout for c in "┏┃┡└")  # no boxed table: neither steps nor events


async def test_json_is_printed_as_is_whatever_the_terminal(store: Store, dsn: str) -> None:
    ids = await running_backup(store, "json-backup[/x]")
    wid = await insert(
        store,
        "json-failed",
        "restore",
        "failed",
        input={"backup_id": "bk-1", "server_id": "srv-9"},
        error_code="E[/x]",
        error_message=LONG_MESSAGE,
    )
    await raw_sql(store).execute(
        """INSERT INTO outbox (event_id, workflow_id, routing_key, body, published_at)
           VALUES ('ev-1', $1, 'workflow.restore.failed', $2, now())""",
        wid,
        {"data": {"error_message": LONG_MESSAGE}},
    )
    narrow = {"COLUMNS": "40"}  # Rich would wrap these lines (and break the JSON) at 40 columns

    listed = await run_cli(dsn, "status", "--json", env=narrow)
    assert (listed.code, listed.stderr) == (0, "")
    by_command = {w["command_id"]: w for w in json.loads(listed.stdout)}
    assert by_command["json-failed"]["error_message"] == LONG_MESSAGE
    assert by_command["json-backup[/x]"]["percent_done"] == 50

    one = json.loads((await run_cli(dsn, "status", "json-backup[/x]", "--json", env=narrow)).stdout)
    workflow = one["workflow"]
    assert (workflow["checkpoint_id"], workflow["vault_id"]) == (ids["checkpoint"], ids["vault"])
    assert [(r["resource_id"], r["status"], r["backup_id"]) for r in one["resources"]] == [
        (ids["done"], "succeeded", ids["backup"]),
        (ids["busy"], "running", None),
    ]
    assert one["steps"] == [] and one["events"] == []

    failed = json.loads((await run_cli(dsn, "status", str(wid), "--json", env=narrow)).stdout)
    assert failed["workflow"]["error_code"] == "E[/x]"
    [event] = failed["events"]
    assert event["event_id"] == "ev-1" and event["body"]["data"]["error_message"] == LONG_MESSAGE

    missing = await run_cli(dsn, "status", "nope", "--json")
    assert missing.code == 1
    assert json.loads(missing.stdout) == {"error": "no workflow with id or command id 'nope'"}


async def test_a_fleet_and_a_page_of_its_resources_as_json(store: Store, dsn: str) -> None:
    counts = {"total": 2, "succeeded": 1, "failed": 1, "children": 1, "children_final": 1}
    fleet = await insert(
        store,
        "json-fleet",
        "fleet_backup",
        "partially_succeeded",
        input={},
        state={"phase": "summarize", "counts": counts},
        result={"resources": [], "fleet": {"counts": counts, "problems_total": 1}},
    )
    failure = {"resource_id": "srv-b", "status": "failed", "error_code": "BackupService.6114"}
    await insert(
        store,
        f"fleet/{fleet}/000001",
        "backup",
        "partially_succeeded",
        parent_id=fleet,
        input=backup_input("srv-a", "srv-b", vault="fleet-vault-1"),
        state={"vault_id": "vault-id-1"},
        result={"resources": [succeeded("srv-a", "bk-a"), failure], "checkpoint_id": "cp-1"},
    )
    shown = json.loads((await run_cli(dsn, "status", "json-fleet", "--json")).stdout)
    assert shown["workflow"]["fleet"]["counts"]["failed"] == 1
    assert shown["fleet"]["children_total"] == 1 and shown["fleet"]["children"][0]["vault"] == "vault-id-1"
    assert [p["resource_id"] for p in shown["fleet"]["problems"]] == ["srv-b"]

    page = json.loads((await run_cli(dsn, "status", "json-fleet", "--resources", "--json")).stdout)
    assert (page["offset"], page["total"]) == (0, 2)
    assert [(r["resource_id"], r["backup_id"], r["checkpoint_id"]) for r in page["resources"]] == [
        ("srv-a", "bk-a", "cp-1"),
        ("srv-b", None, "cp-1"),
    ]


async def test_a_fleet_over_several_projects_shows_how_far_each_project_is(store: Store, dsn: str) -> None:
    other = "e" * 32
    projects = [
        {"project_id": P, "region": R, "total": 300, "running": 100, "succeeded": 199, "failed": 1},
        {"project_id": other, "region": "eu-west-0", "total": 200, "waiting": 200},
    ]
    counts = {"total": 500, "running": 100, "waiting": 200, "succeeded": 199, "failed": 1, "children": 3}
    state = {"phase": "watch", "counts": counts, "projects": projects}
    await insert(store, "two-projects", "fleet_backup", "running", input={}, state=state)

    shown = (await run_cli(dsn, "status", "two-projects")).stdout
    assert "2 projects" in shown
    [mine] = [line for line in shown.splitlines() if P in line and "│" in line]  # a row of the table
    assert [cell.strip() for cell in mine.split("│")[2:10]] == [R, "300", "0", "100", "199", "1", "0", "66%"]
    assert other in shown

    as_json = json.loads((await run_cli(dsn, "status", "two-projects", "--json")).stdout)
    assert [(p["project_id"], p["waiting"]) for p in as_json["workflow"]["fleet"]["projects"]] == [
        (P, 0),
        (other, 200),
    ]


async def test_events_bodies_are_printed_on_request(store: Store, dsn: str) -> None:
    wid = await insert(store, "with-events", "backup", "running", input=backup_input("srv-1"))
    body = {"id": "ev-42", "data": {"progress": 25, "note": "[bold]as written[/bold]"}}
    await raw_sql(store).execute(
        """INSERT INTO outbox (event_id, workflow_id, routing_key, body)
           VALUES ('ev-42', $1, 'workflow.backup.progress', $2)""",
        wid,
        body,
    )
    plain = await run_cli(dsn, "status", "with-events")
    assert "ev-42" in plain.stdout and "workflow.backup.progress" in plain.stdout
    assert "as written" not in plain.stdout  # bodies only on request
    detailed = await run_cli(dsn, "status", "with-events", "--events")
    assert (detailed.code, detailed.stderr) == (0, "")
    assert "event ev-42 · workflow.backup.progress · published not yet" in detailed.stdout
    assert '"note": "[bold]as written[/bold]"' in detailed.stdout and '"progress": 25' in detailed.stdout
    refused = await run_cli(dsn, "status", "--events")
    assert refused.code == 2 and "--events needs a workflow id or command id" in refused.stderr
