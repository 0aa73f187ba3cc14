"""Policies: create, list, show, update, delete."""

from __future__ import annotations

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import (
    TENANT_B,
    UUID,
    RecordingCbrClient,
    Waiter,
    expect_error,
    unique,
)

UNKNOWN_ID = "5a5a5a5a-6b6b-4c7c-8d8d-9e9e9e9e9e9e"
DAILY = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=14;BYMINUTE=00"
TWICE_A_DAY = ["FREQ=DAILY;INTERVAL=1;BYHOUR=6;BYMINUTE=00", "FREQ=DAILY;INTERVAL=1;BYHOUR=18;BYMINUTE=30"]


def _create(client: RecordingCbrClient, name: str, **definition: object) -> cbr.CreatePolicyResponse:
    operation_type = "replication" if "destination_region" in definition else "backup"
    body = cbr.PolicyCreateReq(
        policy=cbr.PolicyCreate(
            name=name,
            operation_type=operation_type,
            enabled=True,
            trigger=cbr.PolicyTriggerReq(
                properties=cbr.PolicyTriggerPropertiesReq(pattern=[DAILY], start_window_minutes=60)
            ),
            operation_definition=cbr.PolicyoODCreate(**definition),
        )
    )
    return client.create_policy(cbr.CreatePolicyRequest(body=body))


def test_create_policy_answers_with_what_was_sent(cbr_a: RecordingCbrClient) -> None:
    name = unique("contract-policy")
    policy = _create(
        cbr_a,
        name,
        max_backups=10,
        timezone="UTC+08:00",
        day_backups=3,
        week_backups=2,
        full_backup_interval=-1,
    ).policy
    assert isinstance(policy, cbr.Policy)
    assert UUID.match(policy.id), policy.id
    assert (policy.name, policy.operation_type, policy.enabled) == (name, "backup", True)
    definition = policy.operation_definition
    assert definition.max_backups == 10
    assert definition.timezone == "UTC+08:00"
    assert (definition.day_backups, definition.week_backups) == (3, 2)
    assert definition.full_backup_interval == -1
    assert policy.trigger.id
    assert policy.trigger.type == "time"
    assert policy.trigger.properties.pattern == [DAILY]
    assert policy.trigger.properties.start_window_minutes == 60
    assert not policy.associated_vaults

    shown = cbr_a.show_policy(cbr.ShowPolicyRequest(policy_id=policy.id)).policy
    assert (shown.id, shown.name, shown.enabled, shown.operation_type) == (policy.id, name, True, "backup")
    assert shown.trigger.properties.pattern == [DAILY]
    assert shown.operation_definition.max_backups == 10


def test_list_policies_counts_and_filters(cbr_a: RecordingCbrClient, cbr_b: RecordingCbrClient) -> None:
    backup_policy = _create(cbr_a, unique("contract-list"), retention_duration_days=7).policy
    replication_policy = _create(
        cbr_a,
        unique("contract-replicate"),
        retention_duration_days=7,
        destination_region=TENANT_B.region,
        destination_project_id=TENANT_B.project_id,
    ).policy
    assert replication_policy.operation_type == "replication"
    assert replication_policy.operation_definition.destination_region == TENANT_B.region
    assert replication_policy.operation_definition.destination_project_id == TENANT_B.project_id

    everything = cbr_a.list_policies(cbr.ListPoliciesRequest())
    ids = [p.id for p in everything.policies]
    assert {backup_policy.id, replication_policy.id} <= set(ids)
    assert everything.count == len(ids)

    backups_only = cbr_a.list_policies(cbr.ListPoliciesRequest(operation_type="backup")).policies
    assert backup_policy.id in {p.id for p in backups_only}
    assert all(p.operation_type == "backup" for p in backups_only)
    replication_only = cbr_a.list_policies(cbr.ListPoliciesRequest(operation_type="replication")).policies
    assert replication_policy.id in {p.id for p in replication_only}
    assert all(p.operation_type == "replication" for p in replication_only)

    assert backup_policy.id not in {p.id for p in cbr_b.list_policies(cbr.ListPoliciesRequest()).policies}


def test_update_policy(cbr_a: RecordingCbrClient) -> None:
    policy = _create(cbr_a, unique("contract-update"), retention_duration_days=7).policy
    new_name = unique("contract-updated")
    body = cbr.PolicyUpdateReq(
        policy=cbr.PolicyUpdate(
            name=new_name,
            enabled=False,
            operation_definition=cbr.PolicyoODCreate(max_backups=5, timezone="UTC+08:00"),
            trigger=cbr.PolicyTriggerUpdateReq(
                properties=cbr.PolicyTriggerPropertiesUpdateReq(pattern=TWICE_A_DAY, start_window_minutes=120)
            ),
        )
    )
    updated = cbr_a.update_policy(cbr.UpdatePolicyRequest(policy_id=policy.id, body=body)).policy
    assert isinstance(updated, cbr.Policy)
    assert (updated.id, updated.name, updated.enabled) == (policy.id, new_name, False)
    assert updated.operation_definition.max_backups == 5
    assert updated.trigger.properties.pattern == TWICE_A_DAY
    assert updated.trigger.properties.start_window_minutes == 120

    shown = cbr_a.show_policy(cbr.ShowPolicyRequest(policy_id=policy.id)).policy
    assert (shown.name, shown.enabled, shown.trigger.properties.pattern) == (new_name, False, TWICE_A_DAY)


def test_delete_policy(cbr_a: RecordingCbrClient, waiter: Waiter) -> None:
    policy = _create(cbr_a, unique("contract-delete"), retention_duration_days=7).policy
    answer = cbr_a.delete_policy(cbr.DeletePolicyRequest(policy_id=policy.id))
    assert isinstance(answer, cbr.DeletePolicyResponse)
    waiter.until_gone(
        "the policy to disappear",
        lambda: cbr_a.show_policy(cbr.ShowPolicyRequest(policy_id=policy.id)),
        404,
        "BackupService.6000",
    )
    assert policy.id not in {p.id for p in cbr_a.list_policies(cbr.ListPoliciesRequest()).policies}


def test_policy_errors(cbr_a: RecordingCbrClient) -> None:
    expect_error(
        lambda: cbr_a.show_policy(cbr.ShowPolicyRequest(policy_id=UNKNOWN_ID)), 404, "BackupService.6000"
    )
    expect_error(
        lambda: cbr_a.delete_policy(cbr.DeletePolicyRequest(policy_id=UNKNOWN_ID)), 404, "BackupService.6000"
    )
    expect_error(
        lambda: cbr_a.update_policy(
            cbr.UpdatePolicyRequest(
                policy_id=UNKNOWN_ID, body=cbr.PolicyUpdateReq(policy=cbr.PolicyUpdate(name="x"))
            )
        ),
        404,
        "BackupService.6000",
    )
    no_trigger = {
        "policy": {"name": unique("contract-bad"), "operation_type": "backup", "operation_definition": {}}
    }
    expect_error(
        lambda: cbr_a.create_policy(cbr.CreatePolicyRequest(body=no_trigger)), 400, "BackupService.9900"
    )
    bad_type = {
        "policy": {
            "name": unique("contract-bad"),
            "operation_type": "archive",
            "trigger": {"properties": {"pattern": [DAILY]}},
            "operation_definition": {"retention_duration_days": 7},
        }
    }
    expect_error(
        lambda: cbr_a.create_policy(cbr.CreatePolicyRequest(body=bad_type)), 400, "BackupService.9900"
    )
