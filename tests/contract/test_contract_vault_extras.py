"""The vault calls beyond the basics, through the official SDK: batch settings, suspending resources,
moving resources between vaults, new expiry dates, and the vaults of the account in another region."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    REGION_1,
    REGION_2,
    OperationRecorder,
    Pool,
    RecordingCbrClient,
    expect_error,
    parse_timestamp,
    raw_json,
    unique,
    vault_body,
)
from own_domain import TENANT_D2, TENANT_E, OwnDomain, own_domain


@pytest.fixture(scope="module")
def world(recorder: OperationRecorder) -> Iterator[OwnDomain]:
    with own_domain(recorder) as domain:
        yield domain


@pytest.fixture(scope="module")
def pool(world: OwnDomain) -> Pool:
    servers = world.d1.list_protectable(cbr.ListProtectableRequest(protectable_type="server", limit=50))
    disks = world.d1.list_protectable(cbr.ListProtectableRequest(protectable_type="disk", limit=50))
    attached = {c["id"] for s in servers.instances for c in (s.children or []) if isinstance(c, dict)}
    return Pool(servers=list(servers.instances), disks=[d for d in disks.instances if d.id not in attached])


def new_vault(client: RecordingCbrClient, resources: list[Any], **kwargs: Any) -> Any:
    body = vault_body(unique("extras-vault"), resources, **kwargs)
    return client.create_vault(cbr.CreateVaultRequest(body=body)).vault


def back_up(client: RecordingCbrClient, vault_id: str) -> list[Any]:
    """One backup of every resource of the vault; progression is instant, so it is done at the next look."""
    client.create_checkpoint(
        cbr.CreateCheckpointRequest(
            body=cbr.VaultBackupReq(
                checkpoint=cbr.VaultBackup(vault_id=vault_id, parameters=cbr.CheckpointParam())
            )
        )
    )
    backups = client.list_backups(cbr.ListBackupsRequest(vault_id=vault_id)).backups
    assert backups
    assert {b.status for b in backups} == {"available"}
    return list(backups)


def resources_of(client: RecordingCbrClient, vault_id: str) -> dict[str, Any]:
    vault = client.show_vault(cbr.ShowVaultRequest(vault_id=vault_id)).vault
    return {r.id: r for r in vault.resources}


# --- batch_update_vault ----------------------------------------------------------------------------


def test_batch_update_sets_every_vault_of_the_project(world: OwnDomain, pool: Pool) -> None:
    other_region = new_vault(world.d2, [])
    first, second = new_vault(world.d1, [pool.disk()], object_type="disk"), new_vault(world.d1, [])
    change = cbr.BatchUpdateVaultRequestBody(vault=cbr.VaultBatchUpdate(smn_notify=False, threshold=60))
    updated = world.d1.batch_update_vault(cbr.BatchUpdateVaultRequest(body=change)).updated_vaults_id
    assert {first.id, second.id} <= set(updated)
    assert other_region.id not in updated
    for vault_id in (first.id, second.id):
        vault = world.d1.show_vault(cbr.ShowVaultRequest(vault_id=vault_id)).vault
        assert (vault.smn_notify, vault.threshold) == (False, 60)
    untouched = world.d2.show_vault(cbr.ShowVaultRequest(vault_id=other_region.id)).vault
    assert (untouched.smn_notify, untouched.threshold) == (True, 80)


@pytest.mark.parametrize("change", [cbr.VaultBatchUpdate(threshold=0), cbr.VaultBatchUpdate()])
def test_batch_update_is_validated(world: OwnDomain, change: cbr.VaultBatchUpdate) -> None:
    request = cbr.BatchUpdateVaultRequest(body=cbr.BatchUpdateVaultRequestBody(vault=change))
    expect_error(lambda: world.d1.batch_update_vault(request), 400, "BackupService.9900")


# --- set_vault_resource ----------------------------------------------------------------------------


def test_resources_are_suspended_and_resumed(world: OwnDomain, pool: Pool) -> None:
    kept, paused = pool.server(), pool.server()
    vault = new_vault(world.d1, [kept, paused])

    def act(action: str) -> list[str]:
        body = cbr.VaultSetResourceReq(resource_ids=[paused.id], action=action)
        return world.d1.set_vault_resource(
            cbr.SetVaultResourceRequest(vault_id=vault.id, body=body)
        ).set_resource_ids

    assert act("suspend") == [paused.id]
    bound = resources_of(world.d1, vault.id)
    assert (bound[kept.id].auto_protect, bound[paused.id].auto_protect) == (True, False)
    assert act("unsuspend") == [paused.id]
    assert resources_of(world.d1, vault.id)[paused.id].auto_protect is True


def test_suspending_is_refused_for_foreign_resources_and_unknown_actions(
    world: OwnDomain, pool: Pool
) -> None:
    vault = new_vault(world.d1, [pool.server()])
    stranger = cbr.VaultSetResourceReq(resource_ids=[pool.server().id], action="suspend")
    expect_error(
        lambda: world.d1.set_vault_resource(cbr.SetVaultResourceRequest(vault_id=vault.id, body=stranger)),
        400,
        "BackupService.6135",
    )
    expect_error(
        lambda: world.d1.set_vault_resource(
            cbr.SetVaultResourceRequest(vault_id="no-such-vault", body=stranger)
        ),
        404,
        "BackupService.6105",
    )
    wrong = cbr.VaultSetResourceReq(resource_ids=list(resources_of(world.d1, vault.id)), action="pause")
    expect_error(
        lambda: world.d1.set_vault_resource(cbr.SetVaultResourceRequest(vault_id=vault.id, body=wrong)),
        400,
        "BackupService.9900",
    )


# --- migrate_vault_resource ------------------------------------------------------------------------


def test_a_resource_moves_to_another_vault_with_its_backups(world: OwnDomain, pool: Pool) -> None:
    moving, staying = pool.server(), pool.server()
    source = new_vault(world.d1, [moving, staying])
    destination = new_vault(world.d1, [])
    backups = {b.resource_id: b for b in back_up(world.d1, source.id)}
    body = cbr.VaultMigrateResourceReq(destination_vault_id=destination.id, resource_ids=[moving.id])
    answer = world.d1.migrate_vault_resource(cbr.MigrateVaultResourceRequest(vault_id=source.id, body=body))
    assert answer.migrated_resources == [moving.id]
    assert set(resources_of(world.d1, source.id)) == {staying.id}
    assert set(resources_of(world.d1, destination.id)) == {moving.id}
    moved = world.d1.list_backups(cbr.ListBackupsRequest(vault_id=destination.id)).backups
    assert [b.id for b in moved] == [backups[moving.id].id]
    left = world.d1.list_backups(cbr.ListBackupsRequest(vault_id=source.id)).backups
    assert [b.id for b in left] == [backups[staying.id].id]


def test_a_move_is_refused_to_a_missing_or_unfit_vault_and_for_foreign_resources(
    world: OwnDomain, pool: Pool
) -> None:
    server = pool.server()
    source = new_vault(world.d1, [server])
    disk_vault = new_vault(world.d1, [], object_type="disk")

    def move(destination_id: str, resource_id: str) -> Any:
        body = cbr.VaultMigrateResourceReq(destination_vault_id=destination_id, resource_ids=[resource_id])
        return world.d1.migrate_vault_resource(cbr.MigrateVaultResourceRequest(vault_id=source.id, body=body))

    expect_error(lambda: move("no-such-vault", server.id), 400, "BackupService.6120")
    expect_error(lambda: move(disk_vault.id, server.id), 400, "BackupService.6102")
    expect_error(lambda: move(disk_vault.id, pool.server().id), 400, "BackupService.6135")
    expect_error(lambda: move(source.id, server.id), 400, "BackupService.9900")
    assert set(resources_of(world.d1, source.id)) == {server.id}


# --- update_expiration_time ------------------------------------------------------------------------


def test_every_backup_of_the_vault_gets_the_new_expiry_date(world: OwnDomain, pool: Pool) -> None:
    vault = new_vault(world.d1, [pool.server(), pool.server()])
    backups = back_up(world.d1, vault.id)
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date().isoformat()
    body = cbr.UpdateExpirationTimeReq(expect_expiration_date=day, time_zone="UTC+08:00")
    answer = world.d1.update_expiration_time(cbr.UpdateExpirationTimeRequest(vault_id=vault.id, body=body))
    assert (answer.affected_backups_count, answer.new_expiration_day) == (len(backups), day)
    expected = dt.datetime.fromisoformat(f"{day}T00:00:00+08:00").astimezone(dt.UTC)
    for backup in backups:
        shown = raw_json(world.d1.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)))["backup"]
        assert parse_timestamp(shown["expired_at"]) == expected
    log = world.d1.show_op_log(cbr.ShowOpLogRequest(operation_log_id=answer.operation_log_id)).operation_log
    assert (log.operation_type, log.status, log.vault_id) == ("update_expiration_time", "success", vault.id)
    assert log.extra_info.update_expiration_time.affected_backups_count == len(backups)
    assert log.extra_info.update_expiration_time.expiration_day == day


@pytest.mark.parametrize(
    ("day", "zone"),
    [
        ("2020-01-01", "UTC+08:00"),
        ("2999-02-30", "UTC+08:00"),
        ("2999-01-01", "UTC+99:99"),
        ("31.12.2999", "UTC"),
    ],
    ids=["past", "no-such-day", "zone-out-of-range", "malformed"],
)
def test_expiry_dates_are_validated(world: OwnDomain, pool: Pool, day: str, zone: str) -> None:
    vault = new_vault(world.d1, [])
    body = cbr.UpdateExpirationTimeReq(expect_expiration_date=day, time_zone=zone)
    expect_error(
        lambda: world.d1.update_expiration_time(
            cbr.UpdateExpirationTimeRequest(vault_id=vault.id, body=body)
        ),
        400,
        "BackupService.9900",
    )


def test_expiry_of_an_unknown_vault_is_404(world: OwnDomain) -> None:
    body = cbr.UpdateExpirationTimeReq(expect_expiration_date="2999-01-01", time_zone="UTC+08:00")
    expect_error(
        lambda: world.d1.update_expiration_time(
            cbr.UpdateExpirationTimeRequest(vault_id="no-such-vault", body=body)
        ),
        404,
        "BackupService.6105",
    )


# --- list_external_vault ---------------------------------------------------------------------------


def test_the_vaults_of_the_accounts_project_in_another_region_are_listed(world: OwnDomain) -> None:
    backup_vault = new_vault(world.d2, [])
    replica_vault = new_vault(world.d2, [], protect_type="replication")

    def external(**filters: Any) -> Any:
        request = cbr.ListExternalVaultRequest(
            external_project_id=TENANT_D2.project_id, region_id=REGION_2, **filters
        )
        return world.d1.list_external_vault(request)

    everything = external()
    assert {backup_vault.id, replica_vault.id} <= {v.id for v in everything.vaults}
    assert everything.count == len(everything.vaults)
    assert {v.project_id for v in everything.vaults} == {TENANT_D2.project_id}
    replicas = external(protect_type="replication")
    assert replica_vault.id in {v.id for v in replicas.vaults}
    assert backup_vault.id not in {v.id for v in replicas.vaults}
    assert [v.id for v in external(vault_id=backup_vault.id).vaults] == [backup_vault.id]
    assert len(external(limit=1).vaults) == 1


@pytest.mark.parametrize(
    ("project_id", "region"),
    [(TENANT_D2.project_id, REGION_1), (TENANT_E.project_id, REGION_1), ("f" * 32, REGION_2)],
    ids=["wrong-region", "another-account", "unknown-project"],
)
def test_external_vaults_of_a_project_that_is_not_the_accounts_are_refused(
    world: OwnDomain, project_id: str, region: str
) -> None:
    request = cbr.ListExternalVaultRequest(external_project_id=project_id, region_id=region)
    expect_error(lambda: world.d1.list_external_vault(request), 400, "BackupService.9900")


def test_external_vaults_need_the_project_and_the_region(world: OwnDomain) -> None:
    request = cbr.ListExternalVaultRequest(external_project_id=TENANT_D2.project_id)
    expect_error(lambda: world.d1.list_external_vault(request), 400, "BackupService.9900")
