"""Following workflows over the API: one in full, a filtered list page by page, a fleet's resources page by
page, and cancelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_helpers import OTHER_PROJECT, PROJECT, backup_body, bearer
from api_types import MakeKey

from orchestrator.messages import workflow_id_for
from orchestrator.store import Store, WorkflowStatus
from orchestrator.store.models import Finish, NewChild, OutboxEvent, Step, StepOutcome

LEASE = 30.0


async def submitted(client: Any, key: str, *bodies: dict[str, Any]) -> list[str]:
    ids = []
    for body in bodies:
        answer = await client.post("/v1/commands", json=body, headers=bearer(key))
        assert answer.status == 202, await answer.text()
        ids.append((await answer.json())["workflow_id"])
    return ids


async def finish_first_due(store: Store, status: WorkflowStatus, result: dict[str, Any]) -> None:
    [wf] = await store.claim_due("test-worker", LEASE, 1)
    now = datetime.now(UTC)
    step = Step("create_checkpoint", StepOutcome.OK, now, now, {"vault": "v"}, {"checkpoint": "cp-1"})
    event = OutboxEvent(f"{wf.command_id}-final", f"workflow.{status.value}", {"status": status.value})
    await store.finish_with_event(wf.claim, {"phase": "done"}, Finish(status, result), event, [step])


async def test_a_workflow_in_full_by_its_id_or_command_id(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup", "read"))
    [wid] = await submitted(client, key, backup_body())
    resources = [
        {"resource_id": f"server-{n}", "status": "succeeded", "backup_id": f"b-{n}"} for n in (1, 2, 3)
    ]
    await finish_first_due(store, WorkflowStatus.SUCCEEDED, {"resources": resources, "checkpoint_id": "cp-1"})
    by_id = await (await client.get(f"/v1/workflows/{wid}", headers=bearer(key))).json()
    by_command = await (await client.get("/v1/workflows/api-backup-1", headers=bearer(key))).json()
    assert by_id == by_command
    assert by_id["workflow"]["status"] == "succeeded" and by_id["workflow"]["percent_done"] == 100
    assert by_id["workflow"]["checkpoint_id"] == "cp-1"
    assert [(r["resource_id"], r["backup_id"], r["checkpoint_id"]) for r in by_id["resources"]] == [
        (f"server-{n}", f"b-{n}", "cp-1") for n in (1, 2, 3)
    ]
    assert [s["operation"] for s in by_id["steps"]] == ["create_checkpoint"]
    assert [e["routing_key"] for e in by_id["events"]] == ["workflow.succeeded"]
    assert by_id["events"][0]["body"] == {"status": "succeeded"}


async def test_another_projects_workflow_is_not_found_and_reading_needs_read(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    [wid] = await submitted(client, await make_key(("backup",)), backup_body())
    elsewhere = await make_key(("admin",), projects=(OTHER_PROJECT,))
    for path in (f"/v1/workflows/{wid}", f"/v1/workflows/{wid}/resources", "/v1/workflows/unknown"):
        assert (await client.get(path, headers=bearer(elsewhere))).status == 404
    cancel = await client.post(f"/v1/workflows/{wid}/cancel", headers=bearer(elsewhere))
    assert cancel.status == 404
    listed = await client.get("/v1/workflows", headers=bearer(elsewhere))
    assert (await listed.json())["workflows"] == []
    mine = await client.get("/v1/workflows", params={"project": PROJECT}, headers=bearer(elsewhere))
    assert (await mine.json())["workflows"] == []
    backup_only = await make_key(("backup",))
    assert (await client.get(f"/v1/workflows/{wid}", headers=bearer(backup_only))).status == 403


async def test_the_list_filters_and_pages_with_a_cursor(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup", "read"))
    await submitted(client, key, *[backup_body(f"list-{n}") for n in range(5)])
    await finish_first_due(store, WorkflowStatus.FAILED, {})
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2, "kind": "backup", "project": PROJECT}
    while True:
        page = await (await client.get("/v1/workflows", params=params, headers=bearer(key))).json()
        seen += [w["command_id"] for w in page["workflows"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == [f"list-{n}" for n in range(5)] and len(seen) == 5
    failed = await client.get("/v1/workflows", params={"status": "failed"}, headers=bearer(key))
    assert [w["status"] for w in (await failed.json())["workflows"]] == ["failed"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    later = await client.get("/v1/workflows", params={"created_after": future}, headers=bearer(key))
    assert (await later.json())["workflows"] == []
    unix_time = {"created_before": "0.5"}  # not RFC 3339, whatever pydantic would make of it
    bads = ({"limit": 1001}, {"cursor": "not-a-cursor"}, {"status": "sleeping"}, {"colour": "red"}, unix_time)
    for bad in bads:
        answer = await client.get("/v1/workflows", params=bad, headers=bearer(key))
        assert answer.status == 422, bad


async def test_a_fleets_resources_are_read_page_by_page(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup", "read"))
    servers = [{"id": f"s-{n}"} for n in range(7)]
    fleet = {k: v for k, v in backup_body("fleet-1").items() if k not in ("vault", "resources")}
    [wid] = await submitted(client, key, fleet | {"kind": "fleet_backup", "select": {"resources": servers}})
    [parent] = await store.claim_due("test-worker", LEASE, 1)
    children = [
        NewChild(
            workflow_id_for(f"fleet-1/child-{n}"),
            f"fleet-1/child-{n}",
            "backup",
            PROJECT,
            "eu-west-101",
            {"resources": servers[n * 4 : n * 4 + 4]},
        )
        for n in (0, 1)
    ]
    await store.fleet.spawn(parent.claim, children)
    seen, params = [], {"limit": 3}
    while True:
        answer = await client.get(f"/v1/workflows/{wid}/resources", params=params, headers=bearer(key))
        page = await answer.json()
        assert page["total"] == 7 and len(page["resources"]) <= 3
        seen += [(r["position"], r["resource_id"], r["status"]) for r in page["resources"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [(n + 1, f"s-{n}", "waiting") for n in range(7)]
    detail = await (await client.get(f"/v1/workflows/{wid}", headers=bearer(key))).json()
    assert detail["fleet"]["children_total"] == 2 and detail["resources"] == []


async def test_cancel_is_202_while_it_runs_and_409_once_it_ended(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup", "read"))
    running, ended = await submitted(client, key, backup_body("to-cancel"), backup_body("ended"))
    claimed = await store.claim_due("test-worker", LEASE, 10)
    done = next(wf for wf in claimed if wf.command_id == "ended")
    await store.finish_with_event(done.claim, {}, Finish(WorkflowStatus.SUCCEEDED, {}), None)
    first = await client.post(f"/v1/workflows/{running}/cancel", headers=bearer(key))
    assert first.status == 202 and (await first.json())["verdict"] == "requested"
    again = await client.post("/v1/workflows/to-cancel/cancel", headers=bearer(key))
    assert again.status == 202 and (await again.json())["verdict"] == "already_requested"
    assert (await client.post(f"/v1/workflows/{ended}/cancel", headers=bearer(key))).status == 409
    reader = await make_key(("read",))
    assert (await client.post(f"/v1/workflows/{running}/cancel", headers=bearer(reader))).status == 403
