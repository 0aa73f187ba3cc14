"""What the domain-level calls and the vault extras do over time: suspended resources and scheduled runs,
new expiry dates and retention, deployments of organisation policies, migrations, moves and capacity."""

from __future__ import annotations

from typing import Any

from emu_helpers import AWAY, HOME, NEIGHBOUR, Api, settle

DAY = 86400
AT_6 = "FREQ=DAILY;INTERVAL=1;BYHOUR=6;BYMINUTE=00"


def _bind_daily_policy(api: Api, vault_id: str) -> dict[str, Any]:
    body = {
        "policy": {
            "name": "daily",
            "operation_type": "backup",
            "trigger": {"properties": {"pattern": [AT_6]}},
            "operation_definition": {},
        }
    }
    policy: dict[str, Any] = api.ok("create_policy", body=body)["policy"]
    api.ok("associate_vault_policy", path={"vault_id": vault_id}, body={"policy_id": policy["id"]})
    return policy


def _suspend(api: Api, vault_id: str, resource_ids: list[str], action: str = "suspend") -> None:
    body = {"resource_ids": resource_ids, "action": action}
    api.ok("set_vault_resource", path={"vault_id": vault_id}, body=body)


def test_a_suspended_resource_is_left_out_of_scheduled_backups_only(api: Api) -> None:
    kept, paused = api.servers()[:2]
    vault = api.vault(resources=[kept, paused])
    _bind_daily_policy(api, vault["id"])
    _suspend(api, vault["id"], [paused.id])
    api.advance(6 * 3600)
    assert {b["resource_id"] for b in api.backups()} == {kept.id}
    settle(api, 3600)
    api.backup_run(vault["id"], [paused.id])
    assert {b["resource_id"] for b in api.backups()} == {kept.id, paused.id}


def test_a_vault_whose_resources_are_all_suspended_runs_nothing(api: Api) -> None:
    servers = api.servers()[:2]
    vault = api.vault(resources=servers)
    _bind_daily_policy(api, vault["id"])
    _suspend(api, vault["id"], [s.id for s in servers])
    api.advance(DAY)
    assert api.backups() == []
    assert api.logs() == []
    _suspend(api, vault["id"], [servers[0].id], "unsuspend")
    api.advance(DAY)
    assert {b["resource_id"] for b in api.backups()} == {servers[0].id}


def test_backups_are_deleted_at_their_new_expiry_date(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    api.backup_run(vault["id"])
    settle(api, 3600)
    body = {"expect_expiration_date": "2025-01-10", "time_zone": "UTC+02:00"}
    answer = api.ok("update_expiration_time", path={"vault_id": vault["id"]}, body=body)
    assert answer["affected_backups_count"] == 1
    assert api.backups()[0]["expired_at"] == "2025-01-09T22:00:00.000000"
    api.advance(3 * DAY)  # 2025-01-09T01:00Z
    assert len(api.backups()) == 1
    settle(api, DAY)
    assert api.backups() == []


def test_an_expiry_date_of_today_in_the_zone_is_refused(api: Api) -> None:
    vault = api.vault()
    body = {"expect_expiration_date": "2025-01-06", "time_zone": "UTC-05:00"}  # still the 5th there
    api.ok("update_expiration_time", path={"vault_id": vault["id"]}, body=body)
    body = {"expect_expiration_date": "2025-01-06", "time_zone": "UTC+05:00"}
    api.refused("update_expiration_time", "9900", 400, path={"vault_id": vault["id"]}, body=body)


def _organisation_policy(api: Api) -> dict[str, Any]:
    body = {
        "policy": {
            "name": "everywhere",
            "operation_type": "backup",
            "policy_name": "deployed-daily",
            "policy_enabled": True,
            "policy_operation_definition": {"retention_duration_days": 7},
            "policy_trigger": {"properties": {"pattern": [AT_6]}},
        }
    }
    policy: dict[str, Any] = api.ok("create_organization_policy", body=body)["policy"]
    return policy


def _detail(api: Api, policy_id: str) -> dict[str, dict[str, Any]]:
    rows = api.ok("list_organization_policy_detail", path={"organization_policy_id": policy_id})["policies"]
    return {row["project_id"]: row for row in rows}


def test_an_organisation_policy_syncs_for_one_task_duration_then_runs_in_every_project(api: Api) -> None:
    created = _organisation_policy(api)
    api.advance(14)  # SLOW: 5 s waiting + 10 s
    assert {row["status"] for row in _detail(api, created["id"]).values()} == {"syncing"}
    api.advance(1)
    rows = _detail(api, created["id"])
    assert set(rows) == {HOME.project_id, AWAY.project_id, NEIGHBOUR.project_id}
    assert {row["status"] for row in rows.values()} == {"available"}
    away = Api(api.emulator, AWAY)
    vault = away.vault(resources=away.servers()[:1])
    member_policy = rows[AWAY.project_id]["policy_id"]
    away.ok("associate_vault_policy", path={"vault_id": vault["id"]}, body={"policy_id": member_policy})
    away.advance(DAY)
    assert {log["policy_id"] for log in away.logs(operation_type="backup")} == {member_policy}


def test_a_migration_runs_for_one_task_duration(api: Api) -> None:
    api.refused("show_migrate_status", "4001", 404)
    started = api.ok("migrate_domain", body={"all_regions": True, "reservation": 0})
    assert started == {HOME.region: "running", AWAY.region: "running"}
    api.advance(10)
    halfway = api.ok("show_migrate_status")
    assert halfway["status"] == "migrating"
    assert {p["progress"] for p in halfway["project_status"]} == {50}
    assert api.ok("migrate_domain", body={"all_regions": False, "reservation": 0.1}) == started
    api.advance(5)
    assert api.ok("show_migrate_status", query=[("all_regions", "false")]) == {
        "status": "success",
        "project_status": [
            {
                "status": "success",
                "project_id": p.project_id,
                "project_name": p.name,
                "region_id": p.region,
                "progress": 100,
            }
            for p in (HOME, NEIGHBOUR)
        ],
    }
    assert api.ok("migrate_domain", body={"all_regions": False, "reservation": 0.1}) == {
        HOME.region: "running"
    }


def test_a_move_that_would_overfill_the_destination_changes_nothing(api: Api) -> None:
    server = api.servers()[0]
    source = api.vault(resources=[server], size=1000)
    api.backup_run(source["id"])
    settle(api, 3600)
    small = api.vault(size=10, name="small")
    body = {"destination_vault_id": small["id"], "resource_ids": [server.id]}
    api.refused("migrate_vault_resource", "6114", 400, path={"vault_id": source["id"]}, body=body)
    assert [b["vault_id"] for b in api.backups()] == [source["id"]]
    grown = api.vault(size=10, name="grows", auto_expand=True)
    body = {"destination_vault_id": grown["id"], "resource_ids": [server.id]}
    api.ok("migrate_vault_resource", path={"vault_id": source["id"]}, body=body)
    assert [b["vault_id"] for b in api.backups()] == [grown["id"]]
