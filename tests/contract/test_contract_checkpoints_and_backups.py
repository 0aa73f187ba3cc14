"""Restore points (checkpoints) and backups: creation, listing, filters, paging, update, restore, delete."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    SERVER,
    SERVER_PROVIDER,
    TENANT_A,
    UUID,
    VOLUME,
    Pool,
    RecordingCbrClient,
    Waiter,
    as_query_time,
    expect_error,
    parse_timestamp,
    raw_json,
    unique,
)

UNKNOWN_ID = "0e4b7c1d-2f3a-4b5c-8d9e-0f1a2b3c4d5e"


def _checkpoint_request(vault_id: str, resource_ids: list[str], **parameters: Any) -> Any:
    return cbr.CreateCheckpointRequest(
        body=cbr.VaultBackupReq(
            checkpoint=cbr.VaultBackup(
                vault_id=vault_id, parameters=cbr.CheckpointParam(resources=resource_ids, **parameters)
            )
        )
    )


@pytest.fixture(scope="module")
def three_runs(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any], back_up: Callable[..., Any]
) -> tuple[Any, Any, list[Any]]:
    """A vault with one server backed up three times: (vault, server, backups oldest first)."""
    server = pool_a.server()
    vault = new_vault(cbr_a, [server])
    backups = [back_up(cbr_a, vault.id, [server.id], name=f"paging-{n}")[1][0] for n in range(3)]
    return vault, server, backups


def test_create_checkpoint_answers_protecting_with_the_vault_and_parameters(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any], waiter: Waiter
) -> None:
    servers = [pool_a.server(), pool_a.server()]
    vault = new_vault(cbr_a, servers)
    name = unique("contract-checkpoint")
    answer = cbr_a.create_checkpoint(
        _checkpoint_request(
            vault.id,
            [s.id for s in servers],
            name=name,
            description="checkpoint of the contract suite",
            incremental=False,
            retention_duration_days=30,
        )
    )
    checkpoint = answer.checkpoint
    assert isinstance(checkpoint, cbr.CheckpointCreate)
    assert UUID.match(checkpoint.id), checkpoint.id
    assert checkpoint.project_id == TENANT_A.project_id
    assert checkpoint.status == "protecting"
    parse_timestamp(checkpoint.created_at)
    assert (checkpoint.vault.id, checkpoint.vault.name) == (vault.id, vault.name)
    resources = {r.id: r for r in checkpoint.vault.resources}
    assert set(resources) == {s.id for s in servers}
    for server in servers:
        entry = resources[server.id]
        assert (entry.name, entry.type) == (server.name, SERVER)
        assert entry.resource_size == str(server.size), "sizes are strings in the checkpoint answer"
    assert checkpoint.vault.skipped_resources == []
    assert checkpoint.extra_info.name == name
    assert checkpoint.extra_info.description == "checkpoint of the contract suite"
    assert checkpoint.extra_info.retention_duration == 30

    def available() -> Any:
        shown = cbr_a.show_checkpoint(cbr.ShowCheckpointRequest(checkpoint_id=checkpoint.id)).checkpoint
        assert shown.id == checkpoint.id
        assert shown.project_id == TENANT_A.project_id
        assert shown.created_at == checkpoint.created_at
        assert shown.status in {"protecting", "available"}, shown.status
        return shown if shown.status == "available" else None

    waiter.until("the checkpoint to become available", available)

    backups = cbr_a.list_backups(cbr.ListBackupsRequest(checkpoint_id=checkpoint.id)).backups
    assert {b.resource_id for b in backups} == {s.id for s in servers}, "one backup per resource"
    for backup in backups:
        assert backup.checkpoint_id == checkpoint.id
        assert backup.vault_id == vault.id
        assert backup.name == name
        assert backup.description == "checkpoint of the contract suite"
        raw = raw_json(cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)))["backup"]
        assert raw["expired_at"], "a backup made with retention_duration_days expires"
        kept = parse_timestamp(raw["expired_at"]) - parse_timestamp(raw["created_at"])
        assert abs(kept - dt.timedelta(days=30)) < dt.timedelta(minutes=5), kept


def test_backup_fields(cbr_a: RecordingCbrClient, server_vault_a: Any) -> None:
    backup = server_vault_a.backups[0]
    server_id = server_vault_a.vault.resources[0].id
    assert isinstance(backup, cbr.BackupResp)
    assert UUID.match(backup.id), backup.id
    assert backup.checkpoint_id == server_vault_a.checkpoint
    assert backup.vault_id == server_vault_a.vault.id
    assert backup.project_id == TENANT_A.project_id
    assert backup.provider_id == SERVER_PROVIDER
    assert backup.status == "available"
    assert backup.image_type == "backup"
    assert (backup.resource_id, backup.resource_type) == (server_id, SERVER)
    assert backup.resource_name == server_vault_a.vault.resources[0].name
    assert backup.resource_az.startswith(TENANT_A.region), backup.resource_az
    assert backup.resource_size > 0
    assert backup.children, "a server backup carries its disk-level backups"
    for child in backup.children:
        assert child.resource_type == VOLUME
        assert child.checkpoint_id == backup.checkpoint_id
        assert child.id != backup.id
    assert isinstance(backup.created_at, dt.datetime), "the SDK parses created_at into a datetime"
    assert isinstance(backup.updated_at, dt.datetime)
    assert backup.extend_info is not None
    assert backup.extend_info.auto_trigger is False

    vault = cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=server_vault_a.vault.id)).vault
    assert vault.billing.used > 0, "backups take up space in the vault (MB)"
    assert all(r.backup_count >= 1 for r in vault.resources), [
        (r.id, r.backup_count) for r in vault.resources
    ]

    shown = cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)).backup
    listed = raw_json(cbr_a.list_backups(cbr.ListBackupsRequest(checkpoint_id=backup.checkpoint_id)))
    assert shown.id == backup.id
    assert (shown.name, shown.status, shown.resource_id, shown.vault_id) == (
        backup.name,
        backup.status,
        backup.resource_id,
        backup.vault_id,
    )
    same = next(b for b in listed["backups"] if b["id"] == backup.id)
    raw_shown = raw_json(cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)))["backup"]
    same.pop("replication_records", None)  # only with show_replication=true
    raw_shown.pop("replication_records", None)
    assert same == raw_shown, "list_backups and show_backup describe a backup the same way"


def test_list_backups_filters(cbr_a: RecordingCbrClient, server_vault_a: Any, three_runs: Any) -> None:
    vault, server, backups = three_runs
    ids = {b.id for b in backups}

    def listed(**filters: Any) -> set[str]:
        return {b.id for b in cbr_a.list_backups(cbr.ListBackupsRequest(limit=1000, **filters)).backups}

    assert listed(vault_id=vault.id) == ids
    assert listed(resource_id=server.id) == ids
    assert listed(checkpoint_id=backups[1].checkpoint_id) == {backups[1].id}
    assert listed(vault_id=vault.id, resource_type=SERVER) == ids
    assert listed(vault_id=vault.id, resource_type=VOLUME) == set()
    assert listed(vault_id=vault.id, status="available") == ids
    assert listed(vault_id=vault.id, status="error") == set()
    assert listed(vault_id=vault.id, image_type="backup") == ids
    assert listed(vault_id=vault.id, image_type="replication") == set()
    assert listed(vault_id=vault.id, name="paging-1") == {backups[1].id}
    assert listed(vault_id=vault.id, resource_name=server.name) == ids
    other_vault_backups = {b.id for b in server_vault_a.backups}
    assert not listed(vault_id=vault.id) & other_vault_backups

    created = [
        parse_timestamp(
            raw_json(cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=b.id)))["backup"]["created_at"]
        )
        for b in backups
    ]
    first, last = min(created), max(created)
    minute = dt.timedelta(minutes=1)
    assert (
        listed(
            vault_id=vault.id, start_time=as_query_time(first - minute), end_time=as_query_time(last + minute)
        )
        == ids
    )
    assert listed(vault_id=vault.id, end_time=as_query_time(first - minute)) == set()
    assert listed(vault_id=vault.id, start_time=as_query_time(last + minute)) == set()


def test_list_backups_sorts(cbr_a: RecordingCbrClient, three_runs: Any) -> None:
    vault, _, _ = three_runs

    def order(sort: str) -> list[Any]:
        return cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, sort=sort)).backups

    by_name_asc = [b.name for b in order("name:asc")]
    assert by_name_asc == ["paging-0", "paging-1", "paging-2"]
    assert [b.name for b in order("name:desc")] == ["paging-2", "paging-1", "paging-0"]
    created = [b.created_at for b in order("created_at:asc")]
    assert created == sorted(created)
    created = [b.created_at for b in order("created_at")]  # no direction: descending
    assert created == sorted(created, reverse=True)


def test_list_backups_offset_paging(cbr_a: RecordingCbrClient, three_runs: Any) -> None:
    vault, _, backups = three_runs
    whole = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id))
    reference = [b.id for b in whole.backups]
    assert sorted(reference) == sorted(b.id for b in backups)
    assert whole.count == 3

    first = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, limit=2, offset=0))
    second = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, limit=2, offset=2))
    beyond = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, limit=2, offset=3))
    assert [b.id for b in first.backups] == reference[:2]
    assert [b.id for b in second.backups] == reference[2:]
    assert beyond.backups == []
    assert (first.count, second.count, beyond.count) == (3, 3, 3), "count is the total, not the page size"
    assert raw_json(first).get("limit", 2) == 2
    assert raw_json(second).get("offset", 2) == 2


def test_list_backups_marker_paging(cbr_a: RecordingCbrClient, three_runs: Any) -> None:
    vault, _, _ = three_runs
    reference = [b.id for b in cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id)).backups]

    first = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, limit=1))
    assert [b.id for b in first.backups] == reference[:1]
    after_first = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, limit=1, marker=reference[0]))
    assert [b.id for b in after_first.backups] == reference[1:2]
    after_second = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, limit=5, marker=reference[1]))
    assert [b.id for b in after_second.backups] == reference[2:]
    after_last = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id, limit=5, marker=reference[2]))
    assert after_last.backups == []


def test_update_backup_renames_it(cbr_a: RecordingCbrClient, three_runs: Any) -> None:
    _, _, backups = three_runs
    target = backups[2]
    new_name = unique("contract-renamed-backup")
    updated = cbr_a.update_backup(
        cbr.UpdateBackupRequest(
            backup_id=target.id, body=cbr.BackupUpdateReq(backup=cbr.BackupUpdate(name=new_name))
        )
    ).backup
    assert isinstance(updated, cbr.BackupResp)
    assert (updated.id, updated.name, updated.status) == (target.id, new_name, "available")
    assert updated.resource_id == target.resource_id
    assert cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=target.id)).backup.name == new_name
    # keep the name the sort test expects
    cbr_a.update_backup(
        cbr.UpdateBackupRequest(
            backup_id=target.id, body=cbr.BackupUpdateReq(backup=cbr.BackupUpdate(name=target.name))
        )
    )


def test_show_metadata_describes_the_server(cbr_a: RecordingCbrClient, server_vault_a: Any) -> None:
    backup = server_vault_a.backups[0]
    metadata = cbr_a.show_metadata(cbr.ShowMetadataRequest(backup_id=backup.id))
    assert metadata.backup_id == backup.id
    assert metadata.server, "a server backup's metadata describes the server"
    for field in ("backups", "flavor", "interface", "server"):
        value = getattr(metadata, field)
        if value is not None:
            json.loads(value)  # each is a JSON document carried as a string
    server = json.loads(metadata.server)
    assert backup.resource_id in json.dumps(server)
    for field in ("floatingips", "ports", "volumes"):
        assert all(isinstance(item, str) for item in getattr(metadata, field) or [])


def test_restore_server_backup(cbr_a: RecordingCbrClient, server_vault_a: Any, waiter: Waiter) -> None:
    backup = server_vault_a.backups[1]
    mappings = [
        cbr.BackupRestoreServerMapping(backup_id=c.id, volume_id=c.resource_id) for c in backup.children
    ]
    answer = cbr_a.restore_backup(
        cbr.RestoreBackupRequest(
            backup_id=backup.id,
            body=cbr.BackupRestoreReq(
                restore=cbr.BackupRestore(server_id=backup.resource_id, mappings=mappings, power_on=True)
            ),
        )
    )
    assert isinstance(answer, cbr.RestoreBackupResponse)
    assert answer.status_code == 202

    def finished() -> Any:
        logs = cbr_a.list_op_logs(
            cbr.ListOpLogsRequest(operation_type="restore", resource_id=backup.resource_id)
        ).operation_logs
        mine = [
            log for log in logs if log.extra_info.restore and log.extra_info.restore.backup_id == backup.id
        ]
        return mine[0] if mine and mine[0].status == "success" else None

    log = waiter.until("the restore to finish", finished)
    assert log.operation_type == "restore"
    assert log.extra_info.restore.target_resource_id == backup.resource_id
    assert log.extra_info.common.progress == 100
    waiter.until(
        "the backup to be available again",
        lambda: cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)).backup.status == "available",
    )


def test_restore_disk_backup(
    cbr_a: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    waiter: Waiter,
) -> None:
    disk = pool_a.disk()
    vault = new_vault(cbr_a, [disk], object_type="disk")
    _, (backup,) = back_up(cbr_a, vault.id, [disk.id])
    assert backup.resource_type == VOLUME
    cbr_a.restore_backup(
        cbr.RestoreBackupRequest(
            backup_id=backup.id, body=cbr.BackupRestoreReq(restore=cbr.BackupRestore(volume_id=disk.id))
        )
    )

    def finished() -> Any:
        logs = cbr_a.list_op_logs(cbr.ListOpLogsRequest(operation_type="restore", resource_id=disk.id))
        done = [log for log in logs.operation_logs if log.status == "success"]
        return done[0] if done else None

    log = waiter.until("the disk restore to finish", finished)
    assert log.extra_info.restore.backup_id == backup.id
    assert log.extra_info.restore.target_resource_id == disk.id


def test_delete_backup(
    cbr_a: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    waiter: Waiter,
) -> None:
    server = pool_a.server()
    vault = new_vault(cbr_a, [server])
    _, (doomed,) = back_up(cbr_a, vault.id, [server.id])
    _, (kept,) = back_up(cbr_a, vault.id, [server.id])

    answer = cbr_a.delete_backup(cbr.DeleteBackupRequest(backup_id=doomed.id))
    assert isinstance(answer, cbr.DeleteBackupResponse)
    waiter.until_gone(
        "the backup to disappear",
        lambda: cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=doomed.id)),
        404,
        "BackupService.6200",
    )
    assert [b.id for b in cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id)).backups] == [kept.id]

    def delete_log() -> Any:
        logs = cbr_a.list_op_logs(cbr.ListOpLogsRequest(operation_type="delete", vault_id=vault.id))
        found = [log for log in logs.operation_logs if log.extra_info.delete.backup_id == doomed.id]
        return found[0] if found and found[0].status == "success" else None

    log = waiter.until("the delete operation log", delete_log)
    assert log.extra_info.delete.backup_name == doomed.name

    expect_error(
        lambda: cbr_a.delete_backup(cbr.DeleteBackupRequest(backup_id=doomed.id)), 404, "BackupService.6200"
    )


def test_unknown_ids(cbr_a: RecordingCbrClient, cbr_c: RecordingCbrClient, server_vault_a: Any) -> None:
    expect_error(
        lambda: cbr_a.show_checkpoint(cbr.ShowCheckpointRequest(checkpoint_id=UNKNOWN_ID)),
        404,
        "BackupService.6217",
    )
    expect_error(
        lambda: cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=UNKNOWN_ID)), 404, "BackupService.6200"
    )
    expect_error(
        lambda: cbr_a.show_metadata(cbr.ShowMetadataRequest(backup_id=UNKNOWN_ID)), 404, "BackupService.6200"
    )
    expect_error(
        lambda: cbr_a.create_checkpoint(_checkpoint_request(UNKNOWN_ID, [])), 404, "BackupService.6105"
    )
    # another tenant's backups and checkpoints do not exist for tenant C
    backup = server_vault_a.backups[0]
    expect_error(
        lambda: cbr_c.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)), 404, "BackupService.6200"
    )
    expect_error(
        lambda: cbr_c.show_checkpoint(cbr.ShowCheckpointRequest(checkpoint_id=backup.checkpoint_id)),
        404,
        "BackupService.6217",
    )
    assert cbr_c.list_backups(cbr.ListBackupsRequest(checkpoint_id=backup.checkpoint_id)).backups == []


def test_bad_checkpoint_body_is_400_9900(cbr_a: RecordingCbrClient, server_vault_a: Any) -> None:
    body = {"checkpoint": {"parameters": {"name": "no vault id"}}}
    expect_error(
        lambda: cbr_a.create_checkpoint(cbr.CreateCheckpointRequest(body=body)), 400, "BackupService.9900"
    )
    body = {"checkpoint": {"vault_id": server_vault_a.vault.id, "parameters": {"incremental": "yes"}}}
    expect_error(
        lambda: cbr_a.create_checkpoint(cbr.CreateCheckpointRequest(body=body)), 400, "BackupService.9900"
    )


def test_non_ascii_names_round_trip_through_query_filters(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any], back_up: Callable[..., Any]
) -> None:
    """CJK names are legal; the SDK percent-encodes them in the query (and signs the encoded form)."""
    server = pool_a.server()
    vault_name = unique("日次-保管库")
    vault = new_vault(cbr_a, [server], name=vault_name)
    assert vault.name == vault_name
    backup_name = unique("备份_日次")
    _, (backup,) = back_up(cbr_a, vault.id, [server.id], name=backup_name)
    assert backup.name == backup_name

    assert [b.id for b in cbr_a.list_backups(cbr.ListBackupsRequest(name=backup_name)).backups] == [backup.id]
    assert [v.id for v in cbr_a.list_vault(cbr.ListVaultRequest(name=vault_name)).vaults] == [vault.id]
    logs = cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_name=vault_name)).operation_logs
    assert [log.extra_info.backup.backup_id for log in logs] == [backup.id]
