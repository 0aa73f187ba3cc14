"""The answer models read every documented example, keep unknown fields and smooth the cloud's quirks."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from orchestrator.cbr.bodies import (
    BillingCreate,
    CheckpointParameters,
    PolicyCreate,
    ResourceRef,
    TriggerInput,
    TriggerPropertiesInput,
    VaultCreate,
)
from orchestrator.cbr.client import parse_reply
from orchestrator.cbr.errors import CbrApiError, ErrorKind
from orchestrator.cbr.models import (
    AddedResources,
    Backup,
    BackupMetadata,
    BackupPage,
    BackupReplication,
    Checkpoint,
    CheckpointReplication,
    Member,
    MemberPage,
    OperationDefinition,
    OperationLog,
    OperationLogPage,
    Policy,
    PolicyList,
    ProjectTagList,
    Protectable,
    ProtectableList,
    RemovedResources,
    ReplicationCapabilities,
    StorageUsagePage,
    Vault,
    VaultPage,
    VaultPolicyBinding,
    VaultTags,
    parse_timestamp,
)
from orchestrator.cbr.transport import Reply

EXAMPLES = json.loads((Path(__file__).parent.parent / "data" / "cbr-response-examples.json").read_text())

# operation -> (model, member of the answer the client reads, or None for the whole answer)
READERS: dict[str, tuple[type[BaseModel], str | None]] = {
    "create_vault": (Vault, "vault"),
    "show_vault": (Vault, "vault"),
    "update_vault": (Vault, "vault"),
    "list_vault": (VaultPage, None),
    "add_vault_resource": (AddedResources, None),
    "remove_vault_resource": (RemovedResources, None),
    "associate_vault_policy": (VaultPolicyBinding, "associate_policy"),
    "disassociate_vault_policy": (VaultPolicyBinding, "dissociate_policy"),
    "create_checkpoint": (Checkpoint, "checkpoint"),
    "show_checkpoint": (Checkpoint, "checkpoint"),
    "copy_checkpoint": (CheckpointReplication, "replication"),
    "list_backups": (BackupPage, None),
    "show_backup": (Backup, "backup"),
    "update_backup": (Backup, "backup"),
    "copy_backup": (BackupReplication, "replication"),
    "show_metadata": (BackupMetadata, None),
    "list_op_logs": (OperationLogPage, None),
    "show_op_log": (OperationLog, "operation_log"),
    "create_policy": (Policy, "policy"),
    "show_policy": (Policy, "policy"),
    "update_policy": (Policy, "policy"),
    "list_policies": (PolicyList, None),
    "show_vault_tag": (VaultTags, None),
    "show_vault_project_tag": (ProjectTagList, None),
    "add_member": (MemberPage, None),
    "show_members_detail": (MemberPage, None),
    "show_member_detail": (Member, "member"),
    "update_member_status": (Member, "member"),
    "list_protectable": (ProtectableList, None),
    "show_protectable": (Protectable, "instance"),
    "show_replication_capabilities": (ReplicationCapabilities, None),
    "show_storage_usage": (StorageUsagePage, None),
}


def _read(source: str, operation: str) -> BaseModel:
    model, key = READERS[operation]
    return parse_reply(Reply(operation, 200, EXAMPLES[source][operation], None), model, key)


def test_every_spec_example_has_a_reader() -> None:
    assert set(EXAMPLES["spec"]) == set(READERS)


@pytest.mark.parametrize("operation", sorted(EXAMPLES["spec"]))
def test_spec_example_parses(operation: str) -> None:
    assert isinstance(_read("spec", operation), READERS[operation][0])


@pytest.mark.parametrize("operation", sorted(EXAMPLES["seed"]))
def test_seed_example_parses(operation: str) -> None:
    assert isinstance(_read("seed", operation), READERS[operation][0])


def test_checkpoint_resource_sizes_sent_as_strings_become_numbers() -> None:
    checkpoint = _read("seed", "create_checkpoint")
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.status == "protecting"
    assert checkpoint.vault is not None
    resource = checkpoint.vault.resources[0]
    assert (resource.resource_size, resource.backup_size, resource.backup_count) == (40, 0, 0)
    assert checkpoint.skipped_resources == []
    assert checkpoint.extra_info is not None
    assert checkpoint.extra_info.retention_duration == -1


def test_finished_checkpoint_has_null_vault() -> None:
    checkpoint = _read("seed", "show_checkpoint")
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.status == "available"
    assert checkpoint.vault is None
    assert checkpoint.skipped_resources == []


def test_skipped_resources_carry_code_and_reason() -> None:
    checkpoint = Checkpoint.model_validate(
        {
            "id": "c",
            "status": "protecting",
            "vault": {
                "id": "v",
                "resources": [],
                "skipped_resources": [
                    {"id": "r", "type": "OS::Nova::Server", "code": "BackupService.6125", "reason": "busy"}
                ],
            },
        }
    )
    assert [(s.id, s.code) for s in checkpoint.skipped_resources] == [("r", "BackupService.6125")]


def test_server_backup_keeps_disk_children_and_unknown_fields() -> None:
    backup = _read("spec", "show_backup")
    assert isinstance(backup, Backup)
    assert backup.resource_type == "OS::Nova::Server"
    assert [child.resource_type for child in backup.children] == ["OS::Cinder::Volume"]
    assert backup.children[0].parent_id == backup.id
    assert backup.replication_records == []  # absent in the example
    assert backup.extend_info is not None
    assert backup.extend_info.os_images_data == []
    assert backup.extend_info.contain_system_disk is True


def test_seed_backup_page_keeps_unknown_extend_info() -> None:
    page = _read("seed", "list_backups")
    assert isinstance(page, BackupPage)
    assert page.count == 150
    assert len(page.backups) == 1
    extend_info = page.backups[0].extend_info
    assert extend_info is not None
    assert extend_info.model_extra == {
        "app_consistency": {
            "app_consistency": "0",
            "app_consistency_status": "0",
            "app_consistency_error_code": "0",
            "app_consistency_error_message": "",
        }
    }


def test_replication_records_parse() -> None:
    backup = Backup.model_validate(
        {
            "id": "b",
            "status": "available",
            "replication_records": [
                {
                    "id": "r",
                    "status": "replicating",
                    "destination_region": "eu-west-0",
                    "extra_info": {"progress": 40, "fail_code": None, "destination_vault_id": "dv"},
                }
            ],
        }
    )
    record = backup.replication_records[0]
    assert record.status == "replicating"
    assert record.extra_info is not None
    assert record.extra_info.progress == 40


def test_operation_log_blocks() -> None:
    log = _read("spec", "show_op_log")
    assert isinstance(log, OperationLog)
    assert log.status == "success"
    assert log.operation_type == "backup"
    assert log.progress == 100
    assert log.extra_info is not None
    assert log.extra_info.backup is not None
    assert log.extra_info.backup.backup_id == "0e5d0ef6-7f0a-4890-b98c-cb12490e31c1"
    assert log.extra_info.resource is not None
    assert log.extra_info.resource.type == "OS::Nova::Server"
    assert log.error_info is not None
    assert log.error_info.code == ""


def test_operation_log_replication_and_restore_blocks() -> None:
    log = OperationLog.model_validate(
        {
            "id": "o",
            "status": "running",
            "operation_type": "replication",
            "extra_info": {
                "common": {"progress": 30, "request_id": "req-1"},
                "resource": {"id": "r", "type": "OS::Nova::Server"},
                "replication": {
                    "source_region": "a",
                    "source_project_id": "p",
                    "source_backup_id": "b",
                    "destination_region": "z",
                    "destination_project_id": "q",
                },
                "restore": {"backup_id": "b", "target_resource_id": "t"},
                "backup": {"backup_id": "b", "incremental": "true", "app_consistency_status": 0},
            },
        }
    )
    assert log.extra_info is not None
    assert log.extra_info.replication is not None
    assert log.extra_info.replication.destination_region == "z"
    assert log.extra_info.restore is not None
    assert log.extra_info.restore.target_resource_id == "t"
    assert log.extra_info.backup is not None
    assert (log.extra_info.backup.incremental, log.extra_info.backup.app_consistency_status) == ("true", "0")


def test_policy_trigger_and_null_associated_vaults() -> None:
    policy = _read("seed", "create_policy")
    assert isinstance(policy, Policy)
    assert policy.associated_vaults == []
    assert policy.trigger is not None
    assert policy.trigger.properties is not None
    assert policy.trigger.properties.start_time == "2020-08-17 08:39:44"
    assert policy.operation_definition == OperationDefinition(retention_duration_days=30)


def test_project_tag_values_tolerate_a_bare_string() -> None:
    tags = _read("spec", "show_vault_project_tag")
    assert isinstance(tags, ProjectTagList)
    assert [(tag.key, tag.values) for tag in tags.tags] == [("a", ["b"]), ("string", ["string"])]


def test_vault_tag_value_may_be_null() -> None:
    vault = _read("spec", "show_vault")
    assert isinstance(vault, Vault)
    assert [(tag.key, tag.value) for tag in vault.tags] == [("fds", None)]
    assert vault.billing is not None
    assert vault.billing.spec_code == "vault.backup.server.normal"


def test_protectable_with_children_and_detail() -> None:
    instances = _read("spec", "list_protectable")
    assert isinstance(instances, ProtectableList)
    server = instances.instances[0]
    assert server.children
    assert server.children[0]["type"] == "OS::Cinder::Volume"
    assert server.protectable is not None


def test_shared_member_and_usage() -> None:
    members = _read("spec", "show_members_detail")
    assert isinstance(members, MemberPage)
    assert members.count == 50
    assert members.members[0].status == "pending"
    usage = _read("spec", "show_storage_usage")
    assert isinstance(usage, StorageUsagePage)
    assert usage.resource_count == 1
    assert usage.storage_usage[0].backup_count == 1


def test_capabilities() -> None:
    capabilities = _read("spec", "show_replication_capabilities")
    assert isinstance(capabilities, ReplicationCapabilities)
    assert capabilities.regions[0].replication_destinations == ["cn-shenzhen-1", "cn-hk1"]


def test_missing_member_is_invalid_response() -> None:
    with pytest.raises(CbrApiError) as caught:
        parse_reply(Reply("show_vault", 200, {"vaults": []}, "req-9"), Vault, "vault")
    error = caught.value
    assert (error.code, error.kind, error.status, error.request_id) == (
        "invalid_response",
        ErrorKind.TERMINAL,
        200,
        "req-9",
    )


def test_wrong_shape_is_invalid_response_not_a_pydantic_error() -> None:
    with pytest.raises(CbrApiError) as caught:
        parse_reply(Reply("show_backup", 200, {"backup": {"id": "b"}}, None), Backup, "backup")
    assert caught.value.code == "invalid_response"
    assert "status" in caught.value.message


def test_invalid_response_text_does_not_echo_values() -> None:
    body = {"backup": {"id": "b", "status": {"secret-looking": "value-123"}}}
    with pytest.raises(CbrApiError) as caught:
        parse_reply(Reply("show_backup", 200, body, None), Backup, "backup")
    assert "value-123" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-02-05T10:38:34.209782", datetime(2020, 2, 5, 10, 38, 34, 209782, tzinfo=UTC)),
        ("2020-02-23T01:00:32Z", datetime(2020, 2, 23, 1, 0, 32, tzinfo=UTC)),
        ("2020-01-08 09:59:49", datetime(2020, 1, 8, 9, 59, 49, tzinfo=UTC)),
        ("2019-02-13T06:52:13.855000Z", datetime(2019, 2, 13, 6, 52, 13, 855000, tzinfo=UTC)),
        ("2020-01-08T10:00:00+02:00", datetime(2020, 1, 8, 8, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


def test_request_bodies_drop_none_and_keep_required_empty_list() -> None:
    vault = VaultCreate(name="v1", billing=BillingCreate(object_type="server", size=100))
    assert vault.to_json() == {
        "name": "v1",
        "billing": {
            "object_type": "server",
            "protect_type": "backup",
            "consistent_level": "crash_consistent",
            "size": 100,
        },
        "resources": [],
    }


def test_request_bodies_refuse_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        CheckpointParameters.model_validate({"resource": ["typo"]})


def test_checkpoint_parameters_and_policy_body() -> None:
    parameters = CheckpointParameters(resources=["r1"], name="manual-001", incremental=False)
    assert parameters.to_json() == {"resources": ["r1"], "name": "manual-001", "incremental": False}
    policy = PolicyCreate(
        name="daily",
        trigger=TriggerInput(properties=TriggerPropertiesInput(pattern=["FREQ=DAILY;BYHOUR=6;BYMINUTE=00"])),
        operation_definition=OperationDefinition(retention_duration_days=7, timezone="UTC+08:00"),
    )
    assert policy.to_json() == {
        "name": "daily",
        "operation_type": "backup",
        "trigger": {"properties": {"pattern": ["FREQ=DAILY;BYHOUR=6;BYMINUTE=00"]}},
        "operation_definition": {"retention_duration_days": 7, "timezone": "UTC+08:00"},
    }
    resource = ResourceRef(id="r1", type="OS::Nova::Server")
    assert resource.to_json() == {"id": "r1", "type": "OS::Nova::Server"}
