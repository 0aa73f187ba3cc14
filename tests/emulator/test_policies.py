"""Policies: RRULE validation, scheduled runs on the clock, retention, replication policies."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from emu_helpers import Api, build, settle
from sdk_parse import sdk_parse

from cbr_emulator.config import Progression

DAY = 86400
EVERY_DAY_AT_6 = "FREQ=DAILY;INTERVAL=1;BYHOUR=6;BYMINUTE=00"


def _policy_body(patterns: list[str], operation_type: str = "backup", **definition: Any) -> dict[str, Any]:
    return {
        "policy": {
            "name": "nightly",
            "operation_type": operation_type,
            "trigger": {"properties": {"pattern": patterns}},
            "operation_definition": definition,
        }
    }


def _create(api: Api, patterns: list[str] | None = None, **definition: Any) -> dict[str, Any]:
    policy: dict[str, Any] = api.ok(
        "create_policy", body=_policy_body(patterns or [EVERY_DAY_AT_6], **definition)
    )["policy"]
    return policy


def _bind(api: Api, vault: dict[str, Any], policy: dict[str, Any]) -> None:
    api.ok("associate_vault_policy", path={"vault_id": vault["id"]}, body={"policy_id": policy["id"]})


@pytest.mark.parametrize(
    "patterns",
    [
        ["FREQ=WEEKLY;BYDAY=SU,MO,TU,WE,TH,FR,SA;BYHOUR=23;BYMINUTE=00"],
        [EVERY_DAY_AT_6],
        ["FREQ=DAILY;INTERVAL=2;BYHOUR=2,14;BYMINUTE=30"],
        ["FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;BYHOUR=1;BYMINUTE=0", "FREQ=WEEKLY;BYDAY=FR;BYHOUR=1;BYMINUTE=0"],
        ["FREQ=DAILY;BYHOUR=" + ",".join(str(h) for h in range(24)) + ";BYMINUTE=0"],
        [f"FREQ=DAILY;BYHOUR={h};BYMINUTE=15" for h in range(24)],
        ["FREQ=DAILY;BYHOUR=22;BYMINUTE=0", "FREQ=DAILY;BYHOUR=23;BYMINUTE=0"],
    ],
)
def test_accepted_patterns(api: Api, patterns: list[str]) -> None:
    policy = api.ok("create_policy", body=_policy_body(patterns))
    sdk_parse("CreatePolicyResponse", policy)
    assert policy["policy"]["trigger"]["properties"]["pattern"] == patterns


@pytest.mark.parametrize(
    "patterns",
    [
        [],
        [""],
        ["nonsense"],
        ["FREQ=HOURLY;BYHOUR=1;BYMINUTE=0"],
        ["FREQ=MONTHLY;BYHOUR=1;BYMINUTE=0"],
        ["BYHOUR=1;BYMINUTE=0"],
        ["freq=daily;byhour=1;byminute=0"],
        ["FREQ=DAILY;BYHOUR=24;BYMINUTE=0"],
        ["FREQ=DAILY;BYHOUR=1;BYMINUTE=60"],
        ["FREQ=DAILY;BYHOUR=-1;BYMINUTE=0"],
        ["FREQ=DAILY;BYHOUR=1"],
        ["FREQ=DAILY;BYMINUTE=1"],
        ["FREQ=WEEKLY;BYDAY=XX;BYHOUR=1;BYMINUTE=0"],
        ["FREQ=WEEKLY;BYDAY=1MO;BYHOUR=1;BYMINUTE=0"],
        ["FREQ=WEEKLY;BYDAY=MO,MO;BYHOUR=1;BYMINUTE=0"],
        ["FREQ=DAILY;BYHOUR=1;BYMINUTE=0;BYSECOND=5"],
        ["FREQ=DAILY;BYHOUR=1;BYMINUTE=0;COUNT=3"],
        ["FREQ=DAILY;FREQ=WEEKLY;BYHOUR=1;BYMINUTE=0"],
        ["FREQ=DAILY;INTERVAL=0;BYHOUR=1;BYMINUTE=0"],
        ["FREQ=DAILY;INTERVAL=x;BYHOUR=1;BYMINUTE=0"],
        ["RRULE:FREQ=DAILY;BYHOUR=1;BYMINUTE=0"],
        ["FREQ=DAILY;BYHOUR=1;BYMINUTE=0,30"],  # 30 minutes apart
        ["FREQ=DAILY;BYHOUR=1;BYMINUTE=0", "FREQ=DAILY;BYHOUR=1;BYMINUTE=10"],
        ["FREQ=DAILY;BYHOUR=23;BYMINUTE=30", "FREQ=DAILY;BYHOUR=0;BYMINUTE=10"],  # across midnight
        [f"FREQ=DAILY;BYHOUR={h % 24};BYMINUTE=0" for h in range(25)],  # 25 rules
        [12],
        "FREQ=DAILY;BYHOUR=1;BYMINUTE=0",
    ],
)
def test_refused_patterns(api: Api, patterns: Any) -> None:
    api.refused("create_policy", "9900", 400, body=_policy_body(patterns))
    assert api.ok("list_policies")["count"] == 0


@pytest.mark.parametrize(
    "zone", ["UTC+99:99", "UTC+14:30", "UTC-12:30", "UTC+08:60", "UTC+8:00", "GMT+08:00"]
)
def test_a_timezone_outside_utc_minus_12_to_plus_14_or_malformed_is_refused(api: Api, zone: str) -> None:
    body = _policy_body([EVERY_DAY_AT_6], timezone=zone)
    api.refused("create_policy", "9900", 400, body=body)
    policy = _create(api)
    update = {"policy": {"operation_definition": {"timezone": zone}}}
    refused = api.refused("update_policy", "9900", 400, path={"policy_id": policy["id"]}, body=update)
    assert "timezone" in refused.message
    assert api.ok("show_policy", path={"policy_id": policy["id"]})["policy"]["operation_definition"].get(
        "timezone"
    ) in (None, "")


@pytest.mark.parametrize("zone", ["UTC-12:00", "UTC+00:00", "UTC+05:45", "UTC+14:00"])
def test_every_offset_in_use_is_accepted(api: Api, zone: str) -> None:
    assert _create(api, timezone=zone)["operation_definition"]["timezone"] == zone


def test_policy_crud(api: Api) -> None:
    policy = _create(api, retention_duration_days=30)
    assert policy["enabled"] is True
    assert policy["operation_type"] == "backup"
    assert policy["trigger"]["name"] == "default"
    assert policy["trigger"]["type"] == "time"
    assert policy["trigger"]["properties"]["start_time"] == "2025-01-06 00:00:00"
    assert policy["operation_definition"] == {"retention_duration_days": 30}
    assert policy["associated_vaults"] is None
    path = {"policy_id": policy["id"]}
    sdk_parse("ShowPolicyResponse", api.ok("show_policy", path=path))
    listed = api.ok("list_policies", query=[("operation_type", "backup")])
    sdk_parse("ListPoliciesResponse", listed)
    assert listed["count"] == 1
    assert api.ok("list_policies", query=[("operation_type", "replication")])["count"] == 0
    change = {
        "policy": {
            "name": "renamed",
            "enabled": False,
            "operation_definition": {"max_backups": 5},
            "trigger": {"properties": {"pattern": ["FREQ=DAILY;BYHOUR=3;BYMINUTE=0"]}},
        }
    }
    updated = api.ok("update_policy", path=path, body=change)
    sdk_parse("UpdatePolicyResponse", updated)
    assert updated["policy"]["name"] == "renamed"
    assert updated["policy"]["enabled"] is False
    assert updated["policy"]["operation_definition"] == {"retention_duration_days": 30, "max_backups": 5}
    assert updated["policy"]["trigger"]["properties"]["pattern"] == ["FREQ=DAILY;BYHOUR=3;BYMINUTE=0"]
    bad = {"policy": {"trigger": {"properties": {"pattern": ["FREQ=YEARLY;BYHOUR=1;BYMINUTE=0"]}}}}
    api.refused("update_policy", "9900", path=path, body=bad)
    assert api.send("delete_policy", path=path).status == 204
    for operation in ("show_policy", "delete_policy"):
        api.refused(operation, "6000", 404, path=path)
    api.refused("update_policy", "6000", 404, path=path, body={"policy": {"name": "x"}})


def test_at_most_32_policies_of_a_type() -> None:
    api = Api(build(servers=0, disks=0))
    for _ in range(32):
        _create(api)
    api.refused("create_policy", "6001", body=_policy_body([EVERY_DAY_AT_6]))


def test_a_policy_runs_the_vault_backup_at_each_occurrence(api: Api) -> None:
    servers = api.servers()[:2]
    vault = api.vault(resources=servers)
    policy = _create(api)
    _bind(api, vault, policy)
    api.advance(6 * 3600 - 1)
    assert api.backups() == []
    api.advance(1)
    backups = api.backups()
    assert len(backups) == 2
    assert {b["created_at"] for b in backups} == {"2025-01-06T06:00:00.000000"}
    assert all(b["extend_info"]["auto_trigger"] for b in backups)
    assert {log["policy_id"] for log in api.logs()} == {policy["id"]}
    settle(api, 3600)
    assert {b["status"] for b in api.backups()} == {"available"}
    api.advance(DAY)
    assert len(api.backups()) == 4


def test_a_clock_jump_runs_each_missed_occurrence_in_order(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    _bind(api, vault, _create(api))
    api.advance(5 * DAY)
    days = sorted(b["created_at"][:13] for b in api.backups())
    assert days == [f"2025-01-{d:02d}T06" for d in range(6, 11)]
    assert {b["status"] for b in api.backups()} == {"available"}
    assert [b["incremental"] for b in api.backups(sort="created_at:asc")] == [False, True, True, True, True]


def test_a_long_jump_runs_only_the_last_catch_up_runs() -> None:
    api = Api(build(Progression(instant=True, catch_up_runs=3)))
    vault = api.vault(resources=api.servers()[:1])
    _bind(api, vault, _create(api))
    api.advance(30 * DAY)
    days = sorted(b["created_at"][:10] for b in api.backups())
    assert days == ["2025-02-02", "2025-02-03", "2025-02-04"]


def test_retention_days_delete_old_automatic_backups(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    policy = _create(api, retention_duration_days=2)
    _bind(api, vault, policy)
    api.backup_run(vault["id"], name="manual")
    api.advance(6 * DAY)
    automatic = [b for b in api.backups() if b["extend_info"]["auto_trigger"]]
    assert sorted(b["created_at"][:10] for b in automatic) == ["2025-01-10", "2025-01-11"]
    assert automatic[0]["expired_at"] == "2025-01-13T06:00:00.000000"
    assert len(api.backups(name="manual")) == 1
    deletions = api.logs(operation_type="delete")
    assert len(deletions) == 4
    assert {log["policy_id"] for log in deletions} == {policy["id"]}


def test_max_backups_keeps_the_newest_automatic_backups_per_resource(api: Api) -> None:
    servers = api.servers()[:2]
    vault = api.vault(resources=servers)
    _bind(api, vault, _create(api, max_backups=3))
    api.backup_run(vault["id"], name="manual")
    api.advance(6 * DAY)
    settle(api, 3600)
    counts = Counter(b["resource_id"] for b in api.backups() if b["extend_info"]["auto_trigger"])
    assert counts == {servers[0].id: 3, servers[1].id: 3}
    newest = sorted({b["created_at"][:10] for b in api.backups() if b["extend_info"]["auto_trigger"]})
    assert newest == ["2025-01-09", "2025-01-10", "2025-01-11"]
    assert len(api.backups(name="manual")) == 2


def test_long_term_rules_keep_backups_out_of_max_backups(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    _bind(api, vault, _create(api, max_backups=1, week_backups=2, timezone="UTC+00:00"))
    api.advance(13 * DAY)  # runs on 6..18 January; weeks start on the 6th and the 13th
    settle(api, 3600)
    kept = sorted(b["created_at"][:10] for b in api.backups())
    assert kept == ["2025-01-12", "2025-01-17", "2025-01-18"]


def test_removing_the_policy_keeps_time_retention_but_not_count_retention(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    policy = _create(api, retention_duration_days=3)
    _bind(api, vault, policy)
    api.advance(DAY)
    assert len(api.backups()) == 1
    api.ok("disassociate_vault_policy", path={"vault_id": vault["id"]}, body={"policy_id": policy["id"]})
    api.advance(10 * DAY)
    assert api.backups() == []  # expired on the 9th, no new run after the removal


def test_disabled_updated_and_deleted_policies(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    policy = _create(api)
    _bind(api, vault, policy)
    path = {"policy_id": policy["id"]}
    api.ok("update_policy", path=path, body={"policy": {"enabled": False}})
    api.advance(2 * DAY)
    assert api.backups() == []
    moved = {
        "policy": {
            "enabled": True,
            "trigger": {"properties": {"pattern": ["FREQ=DAILY;BYHOUR=12;BYMINUTE=0"]}},
        }
    }
    api.ok("update_policy", path=path, body=moved)
    api.advance(DAY)
    assert [b["created_at"] for b in api.backups()] == ["2025-01-08T12:00:00.000000"]
    api.ok("delete_policy", path=path)
    api.advance(3 * DAY)
    assert len(api.backups()) == 1
    assert api.ok("list_vault", query=[("policy_id", policy["id"])])["count"] == 0


def test_a_run_over_busy_resources_leaves_skipped_operation_logs() -> None:
    api = Api(build(Progression(base_seconds=7200, gb_per_second=1, waiting_seconds=0)))
    vault = api.vault(resources=api.servers()[:1])
    hourly = ["FREQ=DAILY;BYHOUR=" + ",".join(str(h) for h in range(24)) + ";BYMINUTE=0"]
    _bind(api, vault, _create(api, hourly))
    api.advance(2 * 3600 + 1)  # the 01:00 backup runs for over two hours: the 02:00 run is skipped
    skipped = api.logs(status="skipped")
    assert len(skipped) == 1
    assert skipped[0]["error_info"]["code"] == "BackupService.0002"
    assert skipped[0]["extra_info"]["resource"]["id"] == api.servers()[0].id
    sdk_parse("ListOpLogsResponse", api.ok("list_op_logs"))


def test_a_replication_policy_replicates_new_backups(api: Api, away: Api) -> None:
    target = away.vault(protect_type="replication")
    vault = api.vault(resources=api.servers()[:1])
    body = _policy_body(
        [EVERY_DAY_AT_6],
        "replication",
        destination_region=away.tenant.region,
        destination_project_id=away.tenant.project_id,
    )
    policy = api.ok("create_policy", body=body)["policy"]
    answer = api.ok(
        "associate_vault_policy",
        path={"vault_id": vault["id"]},
        body={"policy_id": policy["id"], "destination_vault_id": target["id"]},
    )
    assert answer["associate_policy"]["destination_vault_id"] == target["id"]
    api.backup_run(vault["id"])
    api.advance(DAY)
    (replica,) = away.backups()
    assert replica["image_type"] == "replication"
    assert replica["extend_info"]["auto_trigger"] is True
    assert api.logs(operation_type="replication")[0]["policy_id"] == policy["id"]
    shown = api.ok("show_policy", path={"policy_id": policy["id"]})["policy"]
    assert shown["associated_vaults"] == [{"vault_id": vault["id"], "destination_vault_id": target["id"]}]
    moved = {"policy": {"operation_definition": {"destination_region": "cn-north-4"}}}
    api.refused("update_policy", "6003", path={"policy_id": policy["id"]}, body=moved)


def test_a_replication_policy_needs_its_destination(api: Api) -> None:
    api.refused("create_policy", "9900", body=_policy_body([EVERY_DAY_AT_6], "replication"))
