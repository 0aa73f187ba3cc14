"""Asynchronous work seen mid-flight: an emulator with a manual clock and tasks that take minutes.

What an orchestrator polls for — checkpoint, backup and operation-log states — must move through the
documented values and finish once the clock has moved far enough (and not before).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    TENANT_A,
    OperationRecorder,
    RecordingCbrClient,
    Waiter,
    describe_error,
    expect_error,
    unique,
    vault_body,
)
from huaweicloudsdkcore.exceptions import exceptions

from cbr_emulator.config import EmulatorConfig, Inventory, Progression

BACKUP_STATES = {"waiting_protect", "protecting", "available", "error"}
TASK_STATES = {"waiting", "running", "success", "failed", "timeout", "skipped"}


def _advance(base_url: str, seconds: float) -> None:
    request = urllib.request.Request(
        f"{base_url}/_emulator/clock/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.loads(answer.read())["manual"] is True


@pytest.fixture(scope="module")
def slow(recorder: OperationRecorder) -> Iterator[tuple[RecordingCbrClient, Any]]:
    from cbr_emulator.server import EmulatorInThread

    config = EmulatorConfig(
        tenants=[TENANT_A],
        inventory=Inventory(servers=4, disks=2, data_disks_per_server=1),
        progression=Progression(waiting_seconds=20, base_seconds=60, gb_per_second=10),
        manual_clock=True,
    )
    with EmulatorInThread(config) as running:
        client = RecordingCbrClient(
            running.base_url,
            TENANT_A.access_key,
            TENANT_A.secret_key,
            TENANT_A.project_id,
            recorder,
            "A(slow)",
        )
        yield client, running
        client.close()


def test_backup_run_progresses_with_the_clock(slow: tuple[RecordingCbrClient, Any]) -> None:
    client, running = slow
    server = client.list_protectable(
        cbr.ListProtectableRequest(protectable_type="server", limit=1)
    ).instances[0]
    vault = client.create_vault(cbr.CreateVaultRequest(body=vault_body(unique("slow-vault"), [server]))).vault
    checkpoint = client.create_checkpoint(
        cbr.CreateCheckpointRequest(
            body=cbr.VaultBackupReq(
                checkpoint=cbr.VaultBackup(vault_id=vault.id, parameters=cbr.CheckpointParam(name="slow"))
            )
        )
    ).checkpoint
    assert checkpoint.status == "protecting"

    def look() -> tuple[Any, list[Any], list[Any]]:
        shown = client.show_checkpoint(cbr.ShowCheckpointRequest(checkpoint_id=checkpoint.id)).checkpoint
        backups = client.list_backups(cbr.ListBackupsRequest(checkpoint_id=checkpoint.id)).backups
        logs = client.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id)).operation_logs
        assert shown.status in {"protecting", "available", "error"}, shown.status
        assert {b.status for b in backups} <= BACKUP_STATES, [b.status for b in backups]
        assert {log.status for log in logs} <= TASK_STATES, [log.status for log in logs]
        return shown, backups, logs

    # a second run while the first is still busy: refused, or the resource is skipped. The documented
    # refusals are 400 BackupService.6125 (a backup task is running) and 500 BackupService.0002
    # (resources are being backed up).
    busy_request = cbr.CreateCheckpointRequest(
        body=cbr.VaultBackupReq(
            checkpoint=cbr.VaultBackup(vault_id=vault.id, parameters=cbr.CheckpointParam())
        )
    )
    second: Any = None
    refused: exceptions.ServiceResponseException | None = None
    try:
        second = client.create_checkpoint(busy_request).checkpoint
    except exceptions.ServiceResponseException as error:
        refused = error
    if refused is not None:
        answer = (refused.status_code, refused.error_code)
        assert answer in {(400, "BackupService.6125"), (500, "BackupService.0002")}, describe_error(refused)
    if second is not None:
        skipped = second.vault.skipped_resources or []
        assert [r.id for r in skipped] == [server.id], "the busy resource is skipped"
        assert skipped[0].code
        assert skipped[0].reason
        assert server.id not in {r.id for r in second.vault.resources or []}

    # the clock has not moved: nothing can be finished
    shown, backups, logs = look()
    assert shown.status == "protecting"
    assert all(b.status in {"waiting_protect", "protecting"} for b in backups)
    assert len(logs) == 1
    assert logs[0].status in {"waiting", "running"}
    assert logs[0].extra_info.common.progress < 100
    assert logs[0].operation_type == "backup"

    # half-way through the work: still not finished
    _advance(running.base_url, 40)
    shown, backups, logs = look()
    assert shown.status == "protecting"
    assert logs[0].status == "running"
    assert 0 <= logs[0].extra_info.common.progress < 100

    def finished() -> Any:
        shown, backups, logs = look()
        done = shown.status == "available" and logs[0].status == "success"
        return (shown, backups, logs) if done else None

    waiter = Waiter(lambda seconds: _advance(running.base_url, seconds), attempts=40, step_seconds=30)
    shown, backups, logs = waiter.until("the slow backup run to finish", finished)
    (backup,) = backups
    assert backup.status == "available"
    assert backup.resource_id == server.id
    assert logs[0].extra_info.common.progress == 100
    assert logs[0].ended_at


def test_restore_and_delete_progress_with_the_clock(slow: tuple[RecordingCbrClient, Any]) -> None:
    client, running = slow
    waiter = Waiter(lambda seconds: _advance(running.base_url, seconds), attempts=40, step_seconds=30)
    server = client.list_protectable(
        cbr.ListProtectableRequest(protectable_type="server", limit=2)
    ).instances[1]
    vault = client.create_vault(cbr.CreateVaultRequest(body=vault_body(unique("slow-vault"), [server]))).vault
    client.create_checkpoint(
        cbr.CreateCheckpointRequest(
            body=cbr.VaultBackupReq(
                checkpoint=cbr.VaultBackup(vault_id=vault.id, parameters=cbr.CheckpointParam())
            )
        )
    )

    def available_backup() -> Any:
        backups = client.list_backups(cbr.ListBackupsRequest(vault_id=vault.id)).backups
        return backups[0] if backups and backups[0].status == "available" else None

    busy = client.list_backups(cbr.ListBackupsRequest(vault_id=vault.id)).backups[0]
    assert busy.status in {"waiting_protect", "protecting"}
    expect_error(
        lambda: client.restore_backup(
            cbr.RestoreBackupRequest(
                backup_id=busy.id, body=cbr.BackupRestoreReq(restore=cbr.BackupRestore(server_id=server.id))
            )
        ),
        400,
        "BackupService.2002",
        "BackupService.2005",
    )

    backup = waiter.until("the backup", available_backup)
    mappings = [
        cbr.BackupRestoreServerMapping(backup_id=c.id, volume_id=c.resource_id) for c in backup.children
    ]
    client.restore_backup(
        cbr.RestoreBackupRequest(
            backup_id=backup.id,
            body=cbr.BackupRestoreReq(restore=cbr.BackupRestore(server_id=server.id, mappings=mappings)),
        )
    )
    during = client.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)).backup
    assert during.status in {"waiting_restore", "restoring"}, during.status
    (log,) = client.list_op_logs(
        cbr.ListOpLogsRequest(operation_type="restore", vault_id=vault.id)
    ).operation_logs
    assert log.status in {"waiting", "running"}

    waiter.until(
        "the restore to finish",
        lambda: client.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)).backup.status == "available",
    )
    (log,) = client.list_op_logs(
        cbr.ListOpLogsRequest(operation_type="restore", vault_id=vault.id)
    ).operation_logs
    assert log.status == "success"

    client.delete_backup(cbr.DeleteBackupRequest(backup_id=backup.id))
    waiter.until_gone(
        "the deleted backup to disappear",
        lambda: client.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)),
        404,
        "BackupService.6200",
    )
