"""Operation-log queries, per-project isolation and the Emulator facade (describe, tenants)."""

from __future__ import annotations

from emu_helpers import HOME, Api, build, settle
from sdk_parse import sdk_parse

from cbr_emulator.config import Progression


def _history(api: Api) -> None:
    """Backups of three servers an hour apart, one restore, one deletion."""
    servers = api.servers()
    vault = api.vault(resources=servers[:3])
    for server in servers[:3]:
        api.backup_run(vault["id"], resources=[server.id], name=f"b-{server.name}")
        settle(api, 3600)
    backup = api.backups(resource_id=servers[0].id)[0]
    mappings = [{"backup_id": c["id"], "volume_id": c["resource_id"]} for c in backup["children"]]
    api.ok(
        "restore_backup",
        path={"backup_id": backup["id"]},
        body={"restore": {"server_id": servers[0].id, "mappings": mappings}},
    )
    settle(api, 3600)
    api.ok("delete_backup", path={"backup_id": api.backups(resource_id=servers[2].id)[0]["id"]})


def test_list_op_logs_filters(api: Api) -> None:
    _history(api)
    servers = api.servers()
    everything = api.ok("list_op_logs")
    sdk_parse("ListOpLogsResponse", everything)
    assert (everything["count"], everything["limit"], everything["offset"]) == (5, 1000, 0)
    assert [log["operation_type"] for log in everything["operation_logs"]] == [
        "delete",
        "restore",
        "backup",
        "backup",
        "backup",
    ]
    assert len(api.logs(operation_type="backup")) == 3
    assert len(api.logs(status="success")) == 4
    assert len(api.logs(status="waiting")) == 1
    assert len(api.logs(resource_id=servers[0].id)) == 2
    assert len(api.logs(resource_name=servers[1].name)) == 1
    assert len(api.logs(vault_name="vault-1")) == 5
    assert len(api.logs(provider_id="0daac4c5-6707-4851-97ba-169e36266b66")) == 5
    assert len(api.logs(start_time="2025-01-06T01:00:00Z", end_time="2025-01-06T02:59:59Z")) == 2
    assert len(api.logs(enterprise_project_id="0")) == 5
    assert api.logs(vault_id="other") == []


def test_list_op_logs_pages(api: Api) -> None:
    _history(api)
    every_id = [log["id"] for log in api.logs()]
    page = api.ok("list_op_logs", query=[("limit", "2"), ("offset", "2")])
    assert page["count"] == 5
    assert [log["id"] for log in page["operation_logs"]] == every_id[2:4]
    assert api.ok("list_op_logs", query=[("offset", "5")])["operation_logs"] == []


def test_a_thousand_logs_fit_in_one_page() -> None:
    api = Api(build(Progression.instantly(), servers=0, disks=250))
    vault = api.vault(object_type="disk", resources=api.standalone_disks()[:250], size=10_000_000)
    for _ in range(5):
        api.backup_run(vault["id"])
        api.advance(1)
    page = api.ok("list_op_logs", query=[("operation_type", "backup")])
    assert page["count"] == 1250
    assert len(page["operation_logs"]) == 1000
    assert len(api.ok("list_op_logs", query=[("offset", "1000")])["operation_logs"]) == 250


def test_projects_see_only_their_own_objects(api: Api, neighbour: Api, away: Api) -> None:
    _history(api)
    for other in (neighbour, away):
        assert other.logs() == []
        assert other.backups() == []
        other.refused("show_op_log", "6500", path={"operation_log_id": api.logs()[0]["id"]})
        other.refused("show_backup", "6200", path={"backup_id": api.backups()[0]["id"]})


def test_describe_summarises_every_project(api: Api) -> None:
    _history(api)
    summary = api.emulator.describe()
    assert summary["clock"] == "2025-01-06T04:00:00.000000"
    (project,) = [p for p in summary["projects"] if p["project_id"] == HOME.project_id]
    assert project["vaults"] == 1
    assert project["checkpoints"] == 3
    assert project["backups"] == {"available": 2, "waiting_delete": 1}
    assert project["operation_logs"] == {"success": 4, "waiting": 1}
    assert summary["running_tasks"] == 1
    assert summary["timer_failures"] == 0


def test_tenants_are_looked_up_by_project(api: Api) -> None:
    emulator = api.emulator
    assert emulator.tenant_for_project(HOME.project_id) == HOME
    assert emulator.tenant_for_project("f" * 32) is None
    assert [t.project_id for t in emulator.tenants] == ["a" * 32, "b" * 32, "c" * 32]
