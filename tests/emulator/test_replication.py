"""Cross-region replication of server backups: copy_backup, copy_checkpoint and replication records."""

from __future__ import annotations

from typing import Any

from emu_helpers import Api, settle
from sdk_parse import sdk_parse


def _source(api: Api, count: int = 1) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    vault = api.vault(resources=api.servers()[:count])
    api.backup_run(vault["id"], name="to-copy")
    settle(api)
    return vault, api.backups()


def _replicate(away: Api, target: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "replicate": {
            "destination_project_id": away.tenant.project_id,
            "destination_region": away.tenant.region,
            "destination_vault_id": target["id"],
            **extra,
        }
    }


def test_copy_backup_creates_a_replica_in_the_other_region(api: Api, away: Api) -> None:
    _, (backup,) = _source(api)
    target = away.vault(protect_type="replication", name="replicas")
    answer = api.ok(
        "copy_backup", path={"backup_id": backup["id"]}, body=_replicate(away, target, name="copied")
    )
    sdk_parse("CopyBackupResponse", answer)
    replication = answer["replication"]
    assert replication["backup_id"] == backup["id"]
    assert (replication["source_region"], replication["destination_region"]) == (
        "eu-west-101",
        "ap-southeast-1",
    )
    assert replication["project_id"] == api.tenant.project_id
    (log,) = api.logs(operation_type="replication")
    assert log["status"] == "waiting"
    assert log["extra_info"]["replication"]["source_backup_id"] == backup["id"]
    assert log["extra_info"]["replication"]["destination_backup_id"] is None
    assert api.backup(backup["id"])["replication_records"][0]["status"] == "waiting_replicate"
    assert api.backups()[0]["replication_records"] == []
    assert away.backups() == []
    settle(api)
    (replica,) = away.backups()
    assert replica["image_type"] == "replication"
    assert replica["vault_id"] == target["id"]
    assert replica["name"] == "copied"
    assert replica["resource_id"] == backup["resource_id"]
    assert replica["project_id"] == away.tenant.project_id
    assert len(replica["children"]) == 2
    (log,) = api.logs(operation_type="replication")
    assert log["status"] == "success"
    assert log["extra_info"]["replication"]["destination_backup_id"] == replica["id"]
    listed = api.ok("list_backups", query=[("show_replication", "true")])
    sdk_parse("ListBackupsResponse", listed)
    (record,) = listed["backups"][0]["replication_records"]
    assert record["id"] == replication["replication_record_id"]
    assert (record["status"], record["destination_backup_id"]) == ("success", replica["id"])
    assert record["extra_info"]["progress"] == 100
    api.refused("list_backups", "9900", query=[("show_replication", "yes")])


def test_a_replica_cannot_be_restored_or_replicated_again(api: Api, away: Api) -> None:
    _, (backup,) = _source(api)
    target = away.vault(protect_type="replication")
    api.ok("copy_backup", path={"backup_id": backup["id"]}, body=_replicate(away, target))
    settle(api)
    (replica,) = away.backups()
    mappings = [{"backup_id": c["id"], "volume_id": c["resource_id"]} for c in replica["children"]]
    restore = {"restore": {"server_id": replica["resource_id"], "mappings": mappings}}
    away.refused("restore_backup", "2004", path={"backup_id": replica["id"]}, body=restore)
    home = api.vault(protect_type="replication", name="back-home")
    away.refused("copy_backup", "1002", 500, path={"backup_id": replica["id"]}, body=_replicate(api, home))


def test_replication_refusals(api: Api, away: Api, neighbour: Api) -> None:
    _, (backup,) = _source(api)
    path = {"backup_id": backup["id"]}
    target = away.vault(protect_type="replication", name="replicas")
    plain = away.vault(name="plain")
    api.refused("copy_backup", "6119", path=path, body=_replicate(away, plain))
    api.refused("copy_backup", "6120", path=path, body=_replicate(away, {"id": "missing"}))
    same_region = neighbour.vault(protect_type="replication")
    api.refused("copy_backup", "1005", 500, path=path, body=_replicate(neighbour, same_region))
    unknown = {
        "replicate": {
            "destination_project_id": "d" * 32,
            "destination_region": "ap-southeast-1",
            "destination_vault_id": target["id"],
        }
    }
    api.refused("copy_backup", "1011", path=path, body=unknown)
    api.ok("copy_backup", path=path, body=_replicate(away, target))
    api.refused("copy_backup", "1009", 500, path=path, body=_replicate(away, target))
    api.refused("delete_backup", "6216", path=path)
    api.refused("delete_vault", "6130", path={"vault_id": backup["vault_id"]})
    settle(api)
    api.refused("copy_backup", "1009", 500, path=path, body=_replicate(away, target))


def test_only_available_server_backups_with_a_system_disk_replicate(api: Api, away: Api) -> None:
    target = away.vault(protect_type="replication")
    vault = api.vault(resources=api.servers()[:1])
    api.backup_run(vault["id"])
    (running,) = api.backups()
    api.refused("copy_backup", "1001", 500, path={"backup_id": running["id"]}, body=_replicate(away, target))
    disk_vault = api.vault(name="disks", object_type="disk", resources=api.standalone_disks()[:1])
    api.backup_run(disk_vault["id"], name="disk")
    server = api.servers()[1]
    data_only = {
        "id": server.id,
        "type": "OS::Nova::Server",
        "extra_info": {"exclude_volumes": [server.disks[0].id]},
    }
    api.ok("add_vault_resource", path={"vault_id": vault["id"]}, body={"resources": [data_only]})
    api.backup_run(vault["id"], resources=[server.id], name="no-system-disk")
    settle(api)
    (disk_backup,) = api.backups(name="disk")
    api.refused(
        "copy_backup", "1003", 500, path={"backup_id": disk_backup["id"]}, body=_replicate(away, target)
    )
    (partial,) = api.backups(name="no-system-disk")
    assert partial["extend_info"]["contain_system_disk"] is False
    assert len(partial["children"]) == 1
    api.refused("copy_backup", "1004", 500, path={"backup_id": partial["id"]}, body=_replicate(away, target))


def test_copy_checkpoint_replicates_every_eligible_backup_of_the_vault(api: Api, away: Api) -> None:
    vault, backups = _source(api, count=2)
    target = away.vault(protect_type="replication")
    body = {
        "replicate": {
            "vault_id": vault["id"],
            "destination_project_id": away.tenant.project_id,
            "destination_region": away.tenant.region,
            "destination_vault_id": target["id"],
            "auto_trigger": False,
        }
    }
    answer = api.ok("copy_checkpoint", body=body)
    sdk_parse("CopyCheckpointResponse", answer)
    assert {b["backup_id"] for b in answer["replication"]["backups"]} == {b["id"] for b in backups}
    assert answer["replication"]["vault_id"] == vault["id"]
    assert len(api.logs(operation_type="replication")) == 2
    api.refused("copy_checkpoint", "0001", body=body)  # everything is already on its way
    settle(api)
    assert len(away.backups(image_type="replication")) == 2
    body["replicate"]["vault_id"] = "missing"
    api.refused("copy_checkpoint", "6105", body=body)


def test_replication_capabilities_list_the_configured_regions(api: Api) -> None:
    answer = api.ok("show_replication_capabilities")
    sdk_parse("ShowReplicationCapabilitiesResponse", answer)
    regions = {r["name"]: r["replication_destinations"] for r in answer["regions"]}
    assert regions == {"ap-southeast-1": ["eu-west-101"], "eu-west-101": ["ap-southeast-1"]}
