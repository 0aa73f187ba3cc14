"""Cross-region replication: tenant A (region 1) copies backups into B's replication vault (region 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    SERVER,
    SERVER_PROVIDER,
    TENANT_A,
    TENANT_B,
    Pool,
    RecordingCbrClient,
    Waiter,
    expect_error,
    unique,
)

UNKNOWN_ID = "2e2e2e2e-3f3f-4a4a-8b5b-6c6c6c6c6c6c"


@pytest.fixture(scope="module")
def replica_vault_b(cbr_b: RecordingCbrClient, new_vault: Callable[..., Any]) -> Any:
    vault = new_vault(cbr_b, [], protect_type="replication", size=500)
    assert vault.project_id == TENANT_B.project_id
    assert vault.billing.protect_type == "replication"
    assert vault.billing.spec_code == "vault.replication.server.normal"
    return vault


def _replicas(client: RecordingCbrClient, vault_id: str) -> list[Any]:
    return client.list_backups(cbr.ListBackupsRequest(vault_id=vault_id, limit=1000)).backups


def _copy(client: RecordingCbrClient, backup_id: str, vault_id: str, **extra: Any) -> Any:
    return client.copy_backup(
        cbr.CopyBackupRequest(
            backup_id=backup_id,
            body=cbr.BackupReplicateReq(
                replicate=cbr.BackupReplicateReqBody(
                    destination_project_id=TENANT_B.project_id,
                    destination_region=TENANT_B.region,
                    destination_vault_id=vault_id,
                    **extra,
                )
            ),
        )
    )


def test_copy_backup_makes_the_replica_visible_to_the_other_tenant(
    cbr_a: RecordingCbrClient,
    cbr_b: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    replica_vault_b: Any,
    waiter: Waiter,
) -> None:
    server = pool_a.server()
    vault = new_vault(cbr_a, [server])
    _, (source,) = back_up(cbr_a, vault.id, [server.id])
    name = unique("contract-replica")

    replication = _copy(
        cbr_a, source.id, replica_vault_b.id, name=name, description="replica of the contract suite"
    ).replication
    assert isinstance(replication, cbr.BackupReplicateRespBody)
    assert replication.backup_id == source.id
    assert replication.destination_project_id == TENANT_B.project_id
    assert replication.destination_region == TENANT_B.region
    assert replication.destination_vault_id == replica_vault_b.id
    assert replication.project_id == TENANT_A.project_id
    assert replication.source_region == TENANT_A.region
    assert replication.provider_id == SERVER_PROVIDER
    assert replication.replication_record_id

    def replica() -> Any:
        found = [b for b in _replicas(cbr_b, replica_vault_b.id) if b.resource_id == server.id]
        return found[0] if found and found[0].status == "available" else None

    copy = waiter.until("the replica to be available in region 2", replica)
    assert copy.image_type == "replication"
    assert copy.name == name
    assert copy.description == "replica of the contract suite"
    assert copy.project_id == TENANT_B.project_id
    assert copy.vault_id == replica_vault_b.id
    assert (copy.resource_id, copy.resource_type, copy.resource_name) == (server.id, SERVER, server.name)
    assert copy.id != source.id
    assert cbr_b.show_backup(cbr.ShowBackupRequest(backup_id=copy.id)).backup.image_type == "replication"
    assert copy.id in {
        b.id for b in cbr_b.list_backups(cbr.ListBackupsRequest(image_type="replication")).backups
    }

    def record() -> Any:
        listed = cbr_a.list_backups(
            cbr.ListBackupsRequest(checkpoint_id=source.checkpoint_id, show_replication=True)
        )
        (backup,) = listed.backups
        records = [r for r in backup.replication_records or [] if r.id == replication.replication_record_id]
        return records[0] if records and records[0].status == "success" else None

    entry = waiter.until("the replication record to succeed", record)
    assert entry.destination_backup_id == copy.id
    assert entry.destination_vault_id == replica_vault_b.id
    assert entry.destination_region == TENANT_B.region
    assert entry.destination_project_id == TENANT_B.project_id
    assert entry.source_backup_id == source.id
    assert entry.source_region == TENANT_A.region

    without = cbr_a.list_backups(cbr.ListBackupsRequest(checkpoint_id=source.checkpoint_id))
    assert not without.backups[0].replication_records, "replication_records only with show_replication=true"

    logs = cbr_a.list_op_logs(cbr.ListOpLogsRequest(operation_type="replication", resource_id=server.id))
    (log,) = logs.operation_logs
    assert log.status == "success"
    assert log.extra_info.replication.source_backup_id == source.id
    assert log.extra_info.replication.destination_backup_id == copy.id
    assert log.extra_info.replication.destination_region == TENANT_B.region
    assert log.extra_info.replication.destination_project_id == TENANT_B.project_id

    expect_error(lambda: _copy(cbr_a, source.id, replica_vault_b.id), 500, "BackupService.1009")


def test_copy_checkpoint_replicates_the_vaults_backups(
    cbr_a: RecordingCbrClient,
    cbr_b: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    replica_vault_b: Any,
    waiter: Waiter,
) -> None:
    servers = [pool_a.server(), pool_a.server()]
    vault = new_vault(cbr_a, servers)
    _, sources = back_up(cbr_a, vault.id, [s.id for s in servers])

    answer = cbr_a.copy_checkpoint(
        cbr.CopyCheckpointRequest(
            body=cbr.CheckpointReplicateReq(
                replicate=cbr.CheckpointReplicateParam(
                    vault_id=vault.id,
                    destination_project_id=TENANT_B.project_id,
                    destination_region=TENANT_B.region,
                    destination_vault_id=replica_vault_b.id,
                )
            )
        )
    ).replication
    assert isinstance(answer, cbr.CheckpointReplicateRespBody)
    assert answer.vault_id == vault.id
    assert answer.project_id == TENANT_A.project_id
    assert answer.source_region == TENANT_A.region
    assert answer.destination_region == TENANT_B.region
    assert answer.destination_project_id == TENANT_B.project_id
    assert answer.destination_vault_id == replica_vault_b.id
    assert answer.provider_id == SERVER_PROVIDER
    assert {b.backup_id for b in answer.backups} == {b.id for b in sources}
    assert all(b.replication_record_id for b in answer.backups)

    def replicas() -> Any:
        found = [b for b in _replicas(cbr_b, replica_vault_b.id) if b.resource_id in {s.id for s in servers}]
        return found if len(found) == 2 and all(b.status == "available" for b in found) else None

    copies = waiter.until("both replicas to be available in region 2", replicas)
    assert {b.resource_id for b in copies} == {s.id for s in servers}
    assert all(b.image_type == "replication" for b in copies)

    # each queued backup carries the replication record the answer named, pointing at its replica
    record_of = {b.backup_id: b.replication_record_id for b in answer.backups}
    replica_of = {b.resource_id: b.id for b in copies}
    listed = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, show_replication=True)).backups
    for source in listed:
        (record,) = [r for r in source.replication_records or [] if r.id == record_of[source.id]]
        assert record.status == "success"
        assert record.destination_backup_id == replica_of[source.resource_id]
        assert record.destination_vault_id == replica_vault_b.id


def test_replication_errors(
    cbr_a: RecordingCbrClient,
    cbr_b: RecordingCbrClient,
    server_vault_a: Any,
    new_vault: Callable[..., Any],
) -> None:
    source = server_vault_a.backups[0]
    expect_error(lambda: _copy(cbr_a, source.id, UNKNOWN_ID), 400, "BackupService.6120")
    backup_vault_b = new_vault(cbr_b, [])
    expect_error(lambda: _copy(cbr_a, source.id, backup_vault_b.id), 400, "BackupService.6119")
    expect_error(
        lambda: cbr_a.copy_backup(
            cbr.CopyBackupRequest(
                backup_id=source.id, body={"replicate": {"destination_region": TENANT_B.region}}
            )
        ),
        400,
        "BackupService.9900",
    )
    expect_error(lambda: _copy(cbr_a, UNKNOWN_ID, backup_vault_b.id), 404, "BackupService.6200")
