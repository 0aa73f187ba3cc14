"""Organisation policies through the official SDK: held per domain, deployed to the domain's projects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import OperationRecorder, RecordingCbrClient, expect_error, raw_json, unique
from own_domain import TENANT_D1, TENANT_D2, OwnDomain, own_domain

from cbr_emulator.iam import stable_id

DAILY = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=14;BYMINUTE=00"
TWICE_A_DAY = "FREQ=DAILY;INTERVAL=1;BYHOUR=2,14;BYMINUTE=30"


@pytest.fixture(scope="module")
def world(recorder: OperationRecorder) -> Iterator[OwnDomain]:
    with own_domain(recorder) as domain:
        yield domain


def organization_policy(
    operation_type: str = "backup", pattern: str = DAILY, **definition: Any
) -> cbr.OrganizationPolicyCreate:
    return cbr.OrganizationPolicyCreate(
        name=unique("org-policy"),
        description="every project, every day",
        operation_type=operation_type,
        policy_name=unique("deployed"),
        policy_enabled=True,
        policy_operation_definition=cbr.PolicyoODCreate(
            **({"retention_duration_days": 30, "timezone": "UTC+08:00"} | definition)
        ),
        policy_trigger=cbr.PolicyTriggerReq(properties=cbr.PolicyTriggerPropertiesReq(pattern=[pattern])),
    )


def create(client: RecordingCbrClient, policy: cbr.OrganizationPolicyCreate) -> Any:
    request = cbr.CreateOrganizationPolicyRequest(body=cbr.OrganizationPolicyCreateReq(policy=policy))
    return client.create_organization_policy(request).policy


def deployed(client: RecordingCbrClient, policy_id: str) -> dict[str, Any]:
    listed = raw_json(client.list_policies(cbr.ListPoliciesRequest(operation_type="backup")))["policies"]
    return next(p for p in listed if p["id"] == policy_id)


def test_an_organisation_policy_is_deployed_to_every_project_of_the_domain(world: OwnDomain) -> None:
    created = create(world.d1, organization_policy())
    assert created.status == "syncing"
    assert created.domain_id == stable_id("domain", TENANT_D1.domain_name)
    assert created.domain_name == TENANT_D1.domain_name
    assert created.policy_trigger.properties.pattern == [DAILY]

    shown = world.d2.show_organization_policy(
        cbr.ShowOrganizationPolicyRequest(organization_policy_id=created.id)
    ).policy
    assert shown.status == "available"  # instant progression: synced by the next look
    detail = world.d1.list_organization_policy_detail(
        cbr.ListOrganizationPolicyDetailRequest(organization_policy_id=created.id)
    )
    rows = {row.project_id: row for row in detail.policies}
    assert set(rows) == {TENANT_D1.project_id, TENANT_D2.project_id}
    assert detail.count == 2
    assert {row.status for row in rows.values()} == {"available"}

    for client, tenant in ((world.d1, TENANT_D1), (world.d2, TENANT_D2)):
        policy = deployed(client, rows[tenant.project_id].policy_id)
        assert policy["policy_type"] == "organization_policy_v1"
        assert policy["name"] == created.policy_name
        assert policy["trigger"]["properties"]["pattern"] == [DAILY]
        assert policy["operation_definition"]["retention_duration_days"] == 30

    listed = world.d2.list_organization_policies(cbr.ListOrganizationPoliciesRequest(operation_type="backup"))
    assert created.id in [p.id for p in listed.policies]
    assert listed.count == len(listed.policies)
    replication = world.d1.list_organization_policies(
        cbr.ListOrganizationPoliciesRequest(operation_type="replication")
    )
    assert created.id not in [p.id for p in replication.policies]


def test_an_update_is_deployed_again_and_a_deletion_releases_the_deployed_policies(world: OwnDomain) -> None:
    created = create(world.d1, organization_policy())
    change = cbr.OrganizationPolicyUpdate(
        name="renamed-org-policy",
        policy_enabled=False,
        policy_operation_definition=cbr.PolicyoODCreate(max_backups=5),
        policy_trigger=cbr.PolicyTriggerUpdateReq(
            properties=cbr.PolicyTriggerPropertiesUpdateReq(pattern=[TWICE_A_DAY])
        ),
    )
    updated = world.d1.update_organization_policy(
        cbr.UpdateOrganizationPolicyRequest(
            organization_policy_id=created.id, body=cbr.OrganizationPolicyUpdateReq(policy=change)
        )
    ).policy
    assert (updated.name, updated.policy_enabled, updated.status) == ("renamed-org-policy", False, "syncing")
    assert updated.policy_operation_definition.max_backups == 5
    assert updated.policy_operation_definition.retention_duration_days == 30  # merged, as update_policy does

    detail = world.d1.list_organization_policy_detail(
        cbr.ListOrganizationPolicyDetailRequest(organization_policy_id=created.id)
    )
    member_id = next(row.policy_id for row in detail.policies if row.project_id == TENANT_D2.project_id)
    member = deployed(world.d2, member_id)
    assert member["enabled"] is False
    assert member["trigger"]["properties"]["pattern"] == [TWICE_A_DAY]
    assert member["operation_definition"]["max_backups"] == 5

    world.d1.delete_organization_policy(
        cbr.DeleteOrganizationPolicyRequest(organization_policy_id=created.id)
    )
    expect_error(
        lambda: world.d1.show_organization_policy(
            cbr.ShowOrganizationPolicyRequest(organization_policy_id=created.id)
        ),
        404,
        "BackupService.6000",
    )
    assert deployed(world.d2, member_id)["policy_type"] == "organization_policy_removed"


@pytest.mark.parametrize(
    "policy",
    [
        organization_policy(pattern="FREQ=HOURLY;BYHOUR=1;BYMINUTE=0"),
        organization_policy(pattern="FREQ=DAILY;BYHOUR=1,2;BYMINUTE=0,30"),  # runs 30 minutes apart
        organization_policy(operation_type="replication"),  # no destination region or project
        organization_policy(day_backups=3, timezone=None),
        organization_policy(retention_duration_days=0),
    ],
    ids=["hourly", "too-close", "replication-without-destination", "day-backups-without-zone", "zero-days"],
)
def test_the_deployed_policy_is_validated_as_create_policy_validates_one(
    world: OwnDomain, policy: cbr.OrganizationPolicyCreate
) -> None:
    expect_error(lambda: create(world.d1, policy), 400, "BackupService.9900")


def test_unknown_or_foreign_policies_and_bad_queries_are_refused(world: OwnDomain) -> None:
    created = create(world.d1, organization_policy())
    expect_error(
        lambda: world.e.show_organization_policy(
            cbr.ShowOrganizationPolicyRequest(organization_policy_id=created.id)
        ),
        404,
        "BackupService.6000",
    )
    expect_error(
        lambda: world.d1.delete_organization_policy(
            cbr.DeleteOrganizationPolicyRequest(organization_policy_id="no-such-policy")
        ),
        404,
        "BackupService.6000",
    )
    expect_error(
        lambda: world.d1.list_organization_policy_detail(
            cbr.ListOrganizationPolicyDetailRequest(organization_policy_id="no-such-policy")
        ),
        404,
        "BackupService.6000",
    )
    nameless = cbr.OrganizationPolicyUpdateReq(policy=cbr.OrganizationPolicyUpdate(name=""))
    expect_error(
        lambda: world.d1.update_organization_policy(
            cbr.UpdateOrganizationPolicyRequest(organization_policy_id=created.id, body=nameless)
        ),
        400,
        "BackupService.9900",
    )
    expect_error(
        lambda: world.d1.list_organization_policies(cbr.ListOrganizationPoliciesRequest()),
        400,
        "BackupService.9900",
    )
    expect_error(
        lambda: world.d1.list_organization_policies(
            cbr.ListOrganizationPoliciesRequest(operation_type="restore")
        ),
        400,
        "BackupService.9900",
    )
