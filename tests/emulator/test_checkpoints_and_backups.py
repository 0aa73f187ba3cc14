"""Restore points, the backups they make, their progression on the clock, and backup operations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from emu_helpers import START, Api, build, settle
from sdk_parse import sdk_parse

from cbr_emulator.clock import stamp
from cbr_emulator.config import Progression


def _vault_with_servers(api: Api, count: int = 2) -> dict[str, Any]:
    return api.vault(resources=api.servers()[:count])


def test_create_checkpoint_answers_protecting_with_the_resources_and_keeps_the_marker(api: Api) -> None:
    vault = _vault_with_servers(api)
    checkpoint = api.backup_run(vault["id"], name="wf-1234", description="orchestrator marker")
    sdk_parse("CreateCheckpointResponse", {"checkpoint": checkpoint})
    assert checkpoint["status"] == "protecting"
    assert checkpoint["extra_info"] == {
        "name": "wf-1234",
        "description": "orchestrator marker",
        "retention_duration": -1,
    }
    resources = checkpoint["vault"]["resources"]
    assert [r["id"] for r in resources] == [s.id for s in api.servers()[:2]]
    assert resources[0]["resource_size"] == str(api.servers()[0].size_gb)
    assert (resources[0]["backup_count"], resources[0]["backup_size"]) == ("0", "0")
    assert resources[0]["protect_status"] == "protecting"
    assert checkpoint["vault"]["skipped_resources"] == []
    shown = api.ok("show_checkpoint", path={"checkpoint_id": checkpoint["id"]})
    sdk_parse("ShowCheckpointResponse", shown)
    assert shown["checkpoint"]["extra_info"]["name"] == "wf-1234"
    found = api.backups(name="wf-1234")
    assert len(found) == 2
    assert {b["checkpoint_id"] for b in found} == {checkpoint["id"]}
    assert api.backups(name="wf-123") == []


def test_one_backup_per_resource_with_disk_level_children(api: Api) -> None:
    server = api.servers()[0]
    vault = api.vault(resources=[server])
    checkpoint = api.backup_run(vault["id"], auto_trigger=True)
    (backup,) = api.backups(checkpoint_id=checkpoint["id"])
    sdk_parse("ShowBackupResponse", {"backup": backup})
    assert backup["resource_id"] == server.id
    assert backup["resource_type"] == "OS::Nova::Server"
    assert backup["resource_size"] == server.size_gb
    assert backup["extend_info"]["contain_system_disk"] is True
    assert backup["extend_info"]["auto_trigger"] is True
    assert backup["image_type"] == "backup"
    assert backup["incremental"] is False
    children = backup["children"]
    assert [c["resource_id"] for c in children] == [d.id for d in server.disks]
    assert [c["extend_info"]["system_disk"] for c in children] == [True, False]
    assert {c["parent_id"] for c in children} == {backup["id"]}
    assert [c["resource_type"] for c in children] == ["OS::Cinder::Volume"] * 2
    assert api.backups(parent_id=backup["id"])[0]["id"] in {c["id"] for c in children}
    assert backup["name"] == f"autobk_{checkpoint['id'][:4]}_{server.name}"


def test_backup_operation_log_carries_the_backup_and_the_resource(api: Api) -> None:
    server = api.servers()[0]
    vault = api.vault(resources=[server])
    checkpoint = api.backup_run(vault["id"])
    (backup,) = api.backups(checkpoint_id=checkpoint["id"])
    (log,) = api.logs(resource_id=server.id)
    assert log == api.logs(vault_id=vault["id"])[0]
    assert log["operation_type"] == "backup"
    assert log["status"] == "waiting"
    assert log["checkpoint_id"] == checkpoint["id"]
    assert log["extra_info"]["backup"]["backup_id"] == backup["id"]
    assert log["extra_info"]["resource"] == {"id": server.id, "type": "OS::Nova::Server", "name": server.name}
    assert log["extra_info"]["common"]["progress"] == 0
    assert log["provider_id"] == "0daac4c5-6707-4851-97ba-169e36266b66"
    assert log["vault_name"] == vault["name"]
    shown = api.ok("show_op_log", path={"operation_log_id": log["id"]})
    sdk_parse("ShowOpLogResponse", shown)
    api.refused("show_op_log", "6500", 404, path={"operation_log_id": "missing"})


def test_progression_follows_the_clock(api: Api) -> None:
    server = api.servers()[0]  # SLOW: wait 5 s, then 10 s + size_gb / 1 GB/s
    vault = api.vault(resources=[server])
    checkpoint = api.backup_run(vault["id"])
    duration = 10 + server.size_gb
    api.advance(4)
    assert api.backups()[0]["status"] == "waiting_protect"
    assert api.logs()[0]["status"] == "waiting"
    api.advance(1 + duration / 2)
    backup, log = api.backups()[0], api.logs()[0]
    assert backup["status"] == "protecting"
    assert log["status"] == "running"
    assert 45 <= log["extra_info"]["common"]["progress"] <= 55
    assert (
        api.ok("show_checkpoint", path={"checkpoint_id": checkpoint["id"]})["checkpoint"]["status"]
        == "protecting"
    )
    api.advance(duration / 2)
    backup, log = api.backups()[0], api.logs()[0]
    assert backup["status"] == "available"
    assert log["status"] == "success"
    assert log["extra_info"]["common"]["progress"] == 100
    assert backup["protected_at"] == stamp(START + timedelta(seconds=5 + duration))
    assert log["ended_at"] == backup["protected_at"]
    shown = api.ok("show_checkpoint", path={"checkpoint_id": checkpoint["id"]})["checkpoint"]
    assert shown["status"] == "available"
    assert shown["vault"]["resources"][0]["protect_status"] == "available"
    assert shown["vault"]["resources"][0]["backup_count"] == "1"


def test_instant_progression_finishes_at_the_next_tick_without_time_passing() -> None:
    api = Api(build(Progression.instantly()))
    vault = api.vault(resources=api.servers()[:1])
    checkpoint = api.backup_run(vault["id"])
    assert checkpoint["status"] == "protecting"
    assert (
        api.ok("show_checkpoint", path={"checkpoint_id": checkpoint["id"]})["checkpoint"]["status"]
        == "available"
    )
    assert api.backups()[0]["status"] == "available"


def test_set_progression_speeds_up_running_tasks(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    api.backup_run(vault["id"])
    api.emulator.set_progression(Progression.instantly())
    assert api.backups()[0]["status"] == "available"


def test_resources_already_being_backed_up_are_skipped(api: Api) -> None:
    servers = api.servers()[:2]
    vault = api.vault(resources=servers)
    api.backup_run(vault["id"], resources=[servers[0].id])
    second = api.backup_run(vault["id"])
    (skipped,) = second["vault"]["skipped_resources"]
    assert skipped["id"] == servers[0].id
    assert skipped["code"] == "BackupService.6125"
    assert "being backed up" in skipped["reason"]
    assert [r["id"] for r in second["vault"]["resources"]] == [servers[1].id]
    assert len(api.backups(checkpoint_id=second["id"])) == 1
    error = api.refused("create_checkpoint", "0002", 500, body={"checkpoint": {"vault_id": vault["id"]}})
    assert "being backed up" in error.message
    settle(api)
    assert len(api.backups()) == 2


def test_create_checkpoint_refusals(api: Api) -> None:
    empty = api.vault(name="empty")
    api.refused("create_checkpoint", "0001", 400, body={"checkpoint": {"vault_id": empty["id"]}})
    vault = api.vault(name="full", resources=api.servers()[:1])
    outsider = api.servers()[3].id
    body = {"checkpoint": {"vault_id": vault["id"], "parameters": {"resources": [outsider]}}}
    api.refused("create_checkpoint", "6135", body=body)
    api.refused("create_checkpoint", "6105", 404, body={"checkpoint": {"vault_id": "missing"}})
    body = {"checkpoint": {"vault_id": vault["id"], "parameters": {"policy_id": "missing"}}}
    api.refused("create_checkpoint", "6000", body=body)
    replica = api.vault(name="replica", protect_type="replication")
    api.refused("create_checkpoint", "6124", body={"checkpoint": {"vault_id": replica["id"]}})
    assert api.backups() == []
    assert api.logs() == []


def test_failure_probability_makes_backups_fail_with_an_error_code() -> None:
    api = Api(build(Progression(instant=True, failure_probability=1.0)))
    vault = api.vault(resources=api.servers()[:1])
    checkpoint = api.backup_run(vault["id"])
    api.advance(1)
    assert api.backups()[0]["status"] == "error"
    log = api.logs()[0]
    assert log["status"] == "failed"
    assert log["error_info"]["code"].startswith("BackupService.")
    assert log["error_info"]["message"]
    shown = api.ok("show_checkpoint", path={"checkpoint_id": checkpoint["id"]})["checkpoint"]
    assert shown["status"] == "error"
    assert shown["vault"]["resources"][0]["protect_status"] == "error"


def test_later_backups_are_incremental_and_smaller(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    api.backup_run(vault["id"], name="full")
    settle(api)
    api.backup_run(vault["id"], name="incr")
    settle(api)
    api.backup_run(vault["id"], name="forced", incremental=False)
    settle(api)
    (full,), (incr,), (forced,) = (api.backups(name=n) for n in ("full", "incr", "forced"))
    assert (full["incremental"], incr["incremental"], forced["incremental"]) == (False, True, False)
    assert [b["id"] for b in api.backups(incremental="true")] == [incr["id"]]
    used = api.ok("show_vault", path={"vault_id": vault["id"]})["vault"]["billing"]["used"]
    size_mb = api.servers()[0].size_gb * 1024
    assert used == 2 * size_mb + size_mb // 20


def test_manual_retention_deletes_the_backup_when_it_expires(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    api.backup_run(vault["id"], retention_duration_days=2)
    settle(api, 3600)
    (backup,) = api.backups()
    assert backup["expired_at"] == "2025-01-08T00:00:00.000000"
    api.advance(86400 - 1)  # 2025-01-07T00:59:59
    assert len(api.backups()) == 1
    api.advance(82800 + 2)  # 2025-01-08T00:00:01, a second after it expired
    assert api.backups()[0]["status"] == "waiting_delete"
    settle(api, 60)
    assert api.backups() == []
    assert [log["operation_type"] for log in api.logs()] == ["delete", "backup"]


# --- list_backups --------------------------------------------------------------------------------


@pytest.fixture
def many(api: Api) -> dict[str, Any]:
    """Three runs over two servers and a disk vault, done, an hour apart, plus one still running."""
    servers, disks = api.servers(), api.standalone_disks()
    server_vault = api.vault(resources=servers[:2])
    disk_vault = api.vault(name="disks", object_type="disk", resources=disks[:1])
    for number in range(3):
        api.backup_run(server_vault["id"], name=f"run-{number}")
        settle(api, 3600)
    api.backup_run(disk_vault["id"], name="disk-run")
    settle(api, 3600)
    api.backup_run(server_vault["id"], resources=[servers[0].id], name="running")
    return {"server_vault": server_vault, "disk_vault": disk_vault}


def test_list_backups_counts_all_matches_and_pages_by_offset(api: Api, many: dict[str, Any]) -> None:
    page = api.ok("list_backups", query=[("limit", "3"), ("offset", "2")])
    sdk_parse("ListBackupsResponse", page)
    assert (page["count"], page["limit"], page["offset"]) == (8, 3, 2)
    everything = api.backups()
    assert [b["id"] for b in page["backups"]] == [b["id"] for b in everything[2:5]]
    assert [b["name"] for b in everything][:3] == ["running", "disk-run", "run-2"]  # newest first
    assert api.ok("list_backups", query=[("offset", "8")])["backups"] == []


def test_list_backups_pages_by_marker(api: Api, many: dict[str, Any]) -> None:
    everything = [b["id"] for b in api.backups()]
    seen: list[str] = []
    marker: str | None = None
    while True:
        query = [("limit", "3")] + ([("marker", marker)] if marker else [])
        page = api.ok("list_backups", query=query)
        assert page["count"] == 8
        if not page["backups"]:
            break
        seen += [b["id"] for b in page["backups"]]
        marker = page["backups"][-1]["id"]
    assert seen == everything
    api.refused("list_backups", "9900", query=[("marker", "not-a-backup")])


def test_list_backups_filters(api: Api, many: dict[str, Any]) -> None:
    servers = api.servers()
    assert len(api.backups(vault_id=many["disk_vault"]["id"])) == 1
    assert len(api.backups(resource_type="OS::Cinder::Volume")) == 1
    assert len(api.backups(resource_id=servers[1].id)) == 3
    assert len(api.backups(resource_name=servers[0].name)) == 4
    assert len(api.backups(image_type="backup")) == 8
    assert api.backups(image_type="replication") == []
    az = api.backups(resource_id=servers[0].id)[0]["resource_az"]
    assert all(b["resource_az"] == az for b in api.backups(resource_az=az))
    both = api.ok("list_backups", query=[("status", "available"), ("status", "waiting_protect")])
    assert both["count"] == 8
    assert len(api.backups(status="waiting_protect")) == 1
    assert len(api.ok("list_backups", query=[("status", "available,waiting_protect")])["backups"]) == 8
    first_hour = api.backups(start_time="2025-01-06T00:00:00Z", end_time="2025-01-06T00:59:59Z")
    assert {b["name"] for b in first_hour} == {"run-0"}
    assert len(api.backups(enterprise_project_id="0")) == 8
    assert api.backups(enterprise_project_id="other") == []
    assert len(api.backups(used_percent="1")) == 8
    assert api.backups(used_percent="100") == []


def test_list_backups_sorts(api: Api, many: dict[str, Any]) -> None:
    by_name = [b["name"] for b in api.backups(sort="name:asc")]
    assert by_name == sorted(by_name)
    by_name_desc = [b["name"] for b in api.backups(sort="name")]
    assert by_name_desc == sorted(by_name, reverse=True)
    two_keys = api.backups(sort="status:asc,created_at:asc")
    assert [b["status"] for b in two_keys][-1] == "waiting_protect"
    assert [b["name"] for b in two_keys][:2] == ["run-0", "run-0"]
    api.refused("list_backups", "9900", query=[("sort", "size:asc")])
    api.refused("list_backups", "9900", query=[("sort", "name:up")])


def test_shared_backups_are_listed_only_when_asked(api: Api, neighbour: Api, many: dict[str, Any]) -> None:
    backup = api.backups(name="run-0")[0]
    api.ok("add_member", path={"backup_id": backup["id"]}, body={"members": [neighbour.tenant.project_id]})
    assert neighbour.backups() == []
    assert [b["id"] for b in neighbour.backups(own_type="shared")] == [backup["id"]]
    assert [b["id"] for b in neighbour.backups(own_type="all_granted")] == [backup["id"]]
    assert neighbour.backups(own_type="shared", member_status="accepted") == []
    assert neighbour.backup(backup["id"])["id"] == backup["id"]


# --- single backups ------------------------------------------------------------------------------


def test_show_update_and_delete_a_backup(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    api.backup_run(vault["id"])
    backup_id = api.backups()[0]["id"]
    path = {"backup_id": backup_id}
    api.refused("delete_backup", "6201", path=path)  # still being made
    settle(api)
    renamed = api.ok("update_backup", path=path, body={"backup": {"name": "renamed"}})
    sdk_parse("UpdateBackupResponse", renamed)
    assert renamed["backup"]["name"] == "renamed"
    assert api.backup(backup_id)["name"] == "renamed"
    response = api.send("delete_backup", path=path)
    assert (response.status, response.body) == (204, None)
    assert api.backup(backup_id)["status"] == "waiting_delete"
    api.advance(5)
    assert api.backup(backup_id)["status"] == "deleting"
    settle(api, 60)
    api.refused("show_backup", "6200", 404, path=path)
    (log,) = api.logs(operation_type="delete")
    assert log["extra_info"]["delete"] == {"backup_id": backup_id, "backup_name": "renamed"}
    assert log["status"] == "success"


def test_unknown_backup_is_6200_everywhere(api: Api) -> None:
    path = {"backup_id": "missing"}
    for operation, body in [
        ("show_backup", None),
        ("update_backup", {"backup": {"name": "x"}}),
        ("delete_backup", None),
        ("restore_backup", {"restore": {"volume_id": "x"}}),
        (
            "copy_backup",
            {
                "replicate": {
                    "destination_project_id": "b" * 32,
                    "destination_region": "r",
                    "destination_vault_id": "v",
                }
            },
        ),
        ("show_metadata", None),
        ("add_member", {"members": ["c" * 32]}),
    ]:
        api.refused(operation, "6200", 404, path=path, body=body)


def test_show_metadata_describes_the_server(api: Api) -> None:
    server = api.servers()[0]
    vault = api.vault(resources=[server])
    api.backup_run(vault["id"])
    backup_id = api.backups()[0]["id"]
    api.refused("show_metadata", "6206", path={"backup_id": backup_id})
    settle(api)
    metadata = api.ok("show_metadata", path={"backup_id": backup_id})
    sdk_parse("ShowMetadataResponse", metadata)
    assert metadata["backup_id"] == backup_id
    assert server.id in metadata["server"]
    assert len(metadata["volumes"]) == len(server.disks)


# --- restore -------------------------------------------------------------------------------------


def _server_backup(api: Api) -> tuple[Any, dict[str, Any]]:
    server = api.servers()[0]
    vault = api.vault(resources=[server])
    api.backup_run(vault["id"], name="to-restore")
    settle(api)
    return server, api.backups()[0]


def _mappings(backup: dict[str, Any]) -> list[dict[str, str]]:
    return [{"backup_id": c["id"], "volume_id": c["resource_id"]} for c in backup["children"]]


def test_restore_a_server(api: Api) -> None:
    server, backup = _server_backup(api)
    body = {"restore": {"server_id": server.id, "mappings": _mappings(backup), "power_on": True}}
    response = api.send("restore_backup", path={"backup_id": backup["id"]}, body=body)
    assert (response.status, response.body) == (202, None)
    assert api.backup(backup["id"])["status"] == "waiting_restore"
    (log,) = api.logs(operation_type="restore", resource_id=server.id)
    assert log["extra_info"]["restore"] == {
        "backup_id": backup["id"],
        "backup_name": "to-restore",
        "target_resource_id": server.id,
        "target_resource_name": server.name,
    }
    api.advance(6)
    assert api.backup(backup["id"])["status"] == "restoring"
    vault = api.ok("show_vault", path={"vault_id": backup["vault_id"]})["vault"]
    assert vault["resources"][0]["protect_status"] == "restoring"
    api.refused("restore_backup", "2005", path={"backup_id": backup["id"]}, body=body)
    api.refused("delete_backup", "6216", path={"backup_id": backup["id"]})
    api.refused("create_checkpoint", "2010", body={"checkpoint": {"vault_id": backup["vault_id"]}})
    settle(api)
    assert api.backup(backup["id"])["status"] == "available"
    assert api.logs(operation_type="restore")[0]["status"] == "success"


def test_restore_refusals(api: Api) -> None:
    server, backup = _server_backup(api)
    path = {"backup_id": backup["id"]}
    api.refused("restore_backup", "9900", path=path, body={"restore": {"server_id": server.id}})
    other = api.servers()[1]
    api.refused(
        "restore_backup",
        "2003",
        path=path,
        body={"restore": {"server_id": other.id, "mappings": _mappings(backup)}},
    )
    api.refused(
        "restore_backup",
        "7100",
        404,
        path=path,
        body={"restore": {"server_id": "gone", "mappings": _mappings(backup)}},
    )
    swapped = [
        {"backup_id": backup["children"][1]["id"], "volume_id": server.disks[0].id},
        {"backup_id": backup["children"][0]["id"], "volume_id": server.disks[1].id},
    ]
    api.refused(
        "restore_backup", "2013", path=path, body={"restore": {"server_id": server.id, "mappings": swapped}}
    )
    stranger = [{"backup_id": backup["children"][1]["id"], "volume_id": other.disks[1].id}]
    api.refused(
        "restore_backup", "2012", path=path, body={"restore": {"server_id": server.id, "mappings": stranger}}
    )
    api.refused(
        "restore_backup",
        "9900",
        path={"backup_id": backup["children"][0]["id"]},
        body={"restore": {"volume_id": "x"}},
    )
    api.backup_run(backup["vault_id"])
    body = {"restore": {"server_id": server.id, "mappings": _mappings(backup)}}
    api.refused("restore_backup", "2002", path=path, body=body)
    assert api.logs(operation_type="restore") == []


def test_restore_a_disk(api: Api) -> None:
    disks = sorted(api.standalone_disks(), key=lambda d: d.size_gb)
    small, big = disks[0], disks[-1]
    vault = api.vault(object_type="disk", resources=[big])
    api.backup_run(vault["id"])
    settle(api)
    backup = api.backups()[0]
    path = {"backup_id": backup["id"]}
    api.refused("restore_backup", "9900", path=path, body={"restore": {"server_id": "x"}})
    api.refused("restore_backup", "7000", 404, path=path, body={"restore": {"volume_id": "missing"}})
    if small.size_gb < big.size_gb:
        api.refused("restore_backup", "2001", path=path, body={"restore": {"volume_id": small.id}})
    assert api.send("restore_backup", path=path, body={"restore": {"volume_id": big.id}}).status == 202
    api.refused("restore_backup", "2005", path=path, body={"restore": {"volume_id": big.id}})
    settle(api)
    assert api.logs(operation_type="restore")[0]["extra_info"]["restore"]["target_resource_id"] == big.id


def test_unknown_checkpoint_is_6217(api: Api) -> None:
    api.refused("show_checkpoint", "6217", 404, path={"checkpoint_id": "missing"})


def test_a_resource_being_restored_is_skipped_by_a_backup_run(api: Api) -> None:
    servers = api.servers()[:2]
    vault = api.vault(resources=servers)
    api.backup_run(vault["id"], resources=[servers[0].id], name="first")
    settle(api)
    (backup,) = api.backups()
    body = {"restore": {"server_id": servers[0].id, "mappings": _mappings(backup)}}
    api.ok("restore_backup", path={"backup_id": backup["id"]}, body=body)
    checkpoint = api.backup_run(vault["id"])
    (skipped,) = checkpoint["vault"]["skipped_resources"]
    assert (skipped["id"], skipped["code"]) == (servers[0].id, "BackupService.2010")


def test_the_ledger_lists_each_backup_with_the_moment_its_task_ended(api: Api) -> None:
    vault = _vault_with_servers(api)
    checkpoint = api.backup_run(vault["id"])
    running = [b for p in api.emulator.ledger()["projects"] for b in p["backups"]]
    assert [(b["resource_id"], b["ended_at"]) for b in running] == [(s.id, None) for s in api.servers()[:2]]
    settle(api)
    ended = {b["resource_id"]: b for p in api.emulator.ledger()["projects"] for b in p["backups"]}
    for backup in api.backups(checkpoint_id=checkpoint["id"]):
        entry = ended[backup["resource_id"]]
        assert (entry["id"], entry["status"], entry["checkpoint_id"]) == (
            backup["id"],
            "available",
            checkpoint["id"],
        )
        assert entry["ended_at"] == backup["protected_at"]  # the task's end, not the ledger's reading
