"""Sync: importing backup copies into B's replication vault and synchronising it (operation logs ``sync``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    SERVER,
    TENANT_B,
    Pool,
    RecordingCbrClient,
    Waiter,
    expect_error,
    parse_timestamp,
    raw_json,
    unique,
)

UNKNOWN_ID = "2e2e2e2e-3f3f-4a4a-8b5b-6c6c6c6c6c6c"
TAKEN = 1_700_000_000  # Unix seconds of the imported copies


@pytest.fixture(scope="module")
def replicated(
    cbr_a: RecordingCbrClient,
    cbr_b: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    waiter: Waiter,
) -> tuple[Any, Any]:
    """B's replication vault holding the replica of one of A's server backups: (vault, source server)."""
    vault = new_vault(cbr_b, [], protect_type="replication", size=500)
    server = pool_a.server()
    source_vault = new_vault(cbr_a, [server])
    _, (source,) = back_up(cbr_a, source_vault.id, [server.id])
    cbr_a.copy_backup(
        cbr.CopyBackupRequest(
            backup_id=source.id,
            body=cbr.BackupReplicateReq(
                replicate=cbr.BackupReplicateReqBody(
                    destination_project_id=TENANT_B.project_id,
                    destination_region=TENANT_B.region,
                    destination_vault_id=vault.id,
                )
            ),
        )
    )

    def replica() -> Any:
        found = cbr_b.list_backups(cbr.ListBackupsRequest(vault_id=vault.id)).backups
        return found if found and found[0].status == "available" else None

    waiter.until("the replica in B's vault", replica)
    return vault, server


def _finished_sync(client: RecordingCbrClient, waiter: Waiter, log_id: str) -> Any:
    def done() -> Any:
        log = client.show_op_log(cbr.ShowOpLogRequest(operation_log_id=log_id)).operation_log
        return log if log.status == "success" else None

    log = waiter.until(f"sync task {log_id}", done)
    assert log.operation_type == "sync"
    return log


def _import(client: RecordingCbrClient, *items: dict[str, Any]) -> Any:
    return client.import_backup(
        cbr.ImportBackupRequest(body=cbr.BackupSyncReq(sync=[cbr.BackupSync(**item) for item in items]))
    )


def _copy_of(resource_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "backup_id": str(uuid.uuid4()),
        "backup_name": unique("imported"),
        "bucket_name": "1555230361623e4ce4700dab84b7d8169a5eaec05227d",
        "image_path": f"{uuid.uuid4()}/{resource_id}",
        "resource_id": resource_id,
        "resource_name": "ecs-imported",
        "resource_type": SERVER,
        "created_at": TAKEN,
        **extra,
    }


def test_import_checkpoint_synchronises_a_replication_vault(
    cbr_b: RecordingCbrClient, replicated: tuple[Any, Any], waiter: Waiter
) -> None:
    vault, _ = replicated
    answer = cbr_b.import_checkpoint(
        cbr.ImportCheckpointRequest(
            body=cbr.SyncReq(sync=cbr.SyncParam(vault_id=vault.id, auto_trigger=False))
        )
    ).sync
    assert answer.vault_id == vault.id
    log = _finished_sync(cbr_b, waiter, answer.operation_log_id)
    assert log.vault_id == vault.id
    held = cbr_b.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, status="available")).count
    assert log.extra_info.sync.sync_backup_num == held >= 1
    assert (log.extra_info.sync.delete_backup_num, log.extra_info.sync.err_sync_backup_num) == (0, 0)
    listed = cbr_b.list_op_logs(cbr.ListOpLogsRequest(operation_type="sync", vault_id=vault.id))
    assert answer.operation_log_id in {entry.id for entry in listed.operation_logs}


def test_import_backup_catalogues_a_copy_in_the_vault_holding_its_resource(
    cbr_b: RecordingCbrClient, replicated: tuple[Any, Any], waiter: Waiter
) -> None:
    vault, server = replicated
    item = _copy_of(server.id)
    (answer,) = _import(cbr_b, item).sync
    assert answer.backup_id == item["backup_id"]
    log = _finished_sync(cbr_b, waiter, answer.operation_log_id)
    assert log.extra_info.sync.sync_backup_num == 1
    assert log.extra_info.resource.id == server.id

    shown = cbr_b.show_backup(cbr.ShowBackupRequest(backup_id=item["backup_id"]))
    backup = shown.backup
    assert (backup.vault_id, backup.name, backup.status) == (vault.id, item["backup_name"], "available")
    assert (backup.resource_id, backup.resource_type, backup.image_type) == (server.id, SERVER, "replication")
    assert parse_timestamp(raw_json(shown)["backup"]["created_at"]) == datetime.fromtimestamp(TAKEN, UTC)
    listed = cbr_b.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, resource_id=server.id)).backups
    assert item["backup_id"] in {b.id for b in listed}

    expect_error(lambda: _import(cbr_b, item), 400, "BackupService.9900")


def test_sync_errors(
    cbr_b: RecordingCbrClient, new_vault: Callable[..., Any], replicated: tuple[Any, Any]
) -> None:
    def sync_vault(vault_id: str) -> Any:
        body = cbr.SyncReq(sync=cbr.SyncParam(vault_id=vault_id, auto_trigger=True))
        return cbr_b.import_checkpoint(cbr.ImportCheckpointRequest(body=body))

    backup_vault = new_vault(cbr_b, [])
    expect_error(lambda: sync_vault(backup_vault.id), 400, "BackupService.7300")
    expect_error(lambda: sync_vault(UNKNOWN_ID), 404, "BackupService.6105")
    expect_error(lambda: _import(cbr_b, _copy_of(UNKNOWN_ID)), 400, "BackupService.7300")
    _, server = replicated
    expect_error(lambda: _import(cbr_b, _copy_of(server.id, created_at=-1)), 400, "BackupService.9900")
    expect_error(lambda: _import(cbr_b, _copy_of(server.id, backup_name="a b")), 400, "BackupService.9900")
    expect_error(
        lambda: cbr_b.import_backup(cbr.ImportBackupRequest(body=cbr.BackupSyncReq(sync=[]))),
        400,
        "BackupService.9900",
    )
