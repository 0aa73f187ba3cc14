"""Vaults: create, show, list, update, delete, resources and policy binding, as the SDK sees them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import (
    DISK_PROVIDER,
    SERVER,
    SERVER_PROVIDER,
    TENANT_A,
    UUID,
    VOLUME,
    Pool,
    RecordingCbrClient,
    Waiter,
    expect_error,
    parse_timestamp,
    raw_json,
    unique,
    vault_body,
)

UNKNOWN_ID = "6f0b4a52-5e8e-4a43-9c1e-1b0e0b0e0b0e"


def _policy(client: RecordingCbrClient) -> Any:
    body = cbr.PolicyCreateReq(
        policy=cbr.PolicyCreate(
            name=unique("contract-policy"),
            operation_type="backup",
            enabled=True,
            trigger=cbr.PolicyTriggerReq(
                properties=cbr.PolicyTriggerPropertiesReq(
                    pattern=["FREQ=DAILY;INTERVAL=1;BYHOUR=3;BYMINUTE=00"]
                )
            ),
            operation_definition=cbr.PolicyoODCreate(retention_duration_days=7, timezone="UTC+08:00"),
        )
    )
    return client.create_policy(cbr.CreatePolicyRequest(body=body)).policy


def test_create_vault_answers_with_what_was_sent(cbr_a: RecordingCbrClient, pool_a: Pool) -> None:
    server = pool_a.server()
    name = unique("contract-create")
    body = vault_body(
        name,
        [server],
        size=120,
        description="made by the contract suite",
        tags=[cbr.Tag(key="team", value="contract")],
        threshold=70,
        smn_notify=False,
        enterprise_project_id="0",
    )
    answer = cbr_a.create_vault(cbr.CreateVaultRequest(body=body))
    vault = answer.vault

    assert isinstance(vault, cbr.VaultCreateResource)
    assert UUID.match(vault.id), vault.id
    assert vault.name == name
    assert vault.description == "made by the contract suite"
    assert vault.project_id == TENANT_A.project_id
    assert vault.provider_id == SERVER_PROVIDER
    assert vault.enterprise_project_id == "0"
    assert vault.threshold == 70
    assert vault.smn_notify is False
    parse_timestamp(vault.created_at)
    billing = vault.billing
    assert (billing.object_type, billing.protect_type, billing.consistent_level) == (
        "server",
        "backup",
        "crash_consistent",
    )
    assert billing.size == 120
    assert billing.charging_mode == "post_paid"
    assert billing.cloud_type == "public"
    assert billing.spec_code == "vault.backup.server.normal"
    assert billing.status == "available"
    assert billing.used == 0
    assert [(r.id, r.type, r.name) for r in vault.resources] == [(server.id, SERVER, server.name)]
    assert [(t.key, t.value) for t in vault.tags] == [("team", "contract")]

    shown = cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=vault.id)).vault
    assert isinstance(shown, cbr.Vault)
    assert (shown.id, shown.name, shown.description) == (vault.id, name, "made by the contract suite")
    assert shown.billing.size == 120
    assert shown.billing.spec_code == "vault.backup.server.normal"
    assert [r.id for r in shown.resources] == [server.id]
    assert [(t.key, t.value) for t in shown.tags] == [("team", "contract")]


def test_create_disk_vault_derives_provider_and_spec(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any]
) -> None:
    disk = pool_a.disk()
    vault = new_vault(cbr_a, [disk], object_type="disk")
    assert vault.provider_id == DISK_PROVIDER
    assert vault.billing.object_type == "disk"
    assert vault.billing.spec_code == "vault.backup.volume.normal"
    assert [(r.id, r.type) for r in vault.resources] == [(disk.id, VOLUME)]


def test_list_vault_filters_and_pages(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any]
) -> None:
    server_vaults = [new_vault(cbr_a, [pool_a.server()]) for _ in range(3)]
    disk_vault = new_vault(cbr_a, [pool_a.disk()], object_type="disk")
    ids = [v.id for v in [*server_vaults, disk_vault]]

    everything = cbr_a.list_vault(cbr.ListVaultRequest(id=ids, limit=100))
    assert sorted(v.id for v in everything.vaults) == sorted(ids)
    assert everything.count == 4

    first = cbr_a.list_vault(cbr.ListVaultRequest(id=ids, limit=3, offset=0))
    rest = cbr_a.list_vault(cbr.ListVaultRequest(id=ids, limit=3, offset=3))
    assert len(first.vaults) == 3
    assert len(rest.vaults) == 1
    assert first.count == 4, "count is the number of matches, not the page size"
    assert rest.count == 4
    assert {v.id for v in first.vaults} | {v.id for v in rest.vaults} == set(ids)
    assert raw_json(first).get("limit", 3) == 3
    assert raw_json(rest).get("offset", 3) == 3

    disks = cbr_a.list_vault(cbr.ListVaultRequest(id=ids, object_type="disk"))
    assert [v.id for v in disks.vaults] == [disk_vault.id]

    by_name = cbr_a.list_vault(cbr.ListVaultRequest(name=server_vaults[1].name))
    assert server_vaults[1].id in {v.id for v in by_name.vaults}
    assert disk_vault.id not in {v.id for v in by_name.vaults}

    resource_id = server_vaults[2].resources[0].id
    by_resource = cbr_a.list_vault(cbr.ListVaultRequest(resource_ids=resource_id))
    assert [v.id for v in by_resource.vaults] == [server_vaults[2].id]

    replication = cbr_a.list_vault(cbr.ListVaultRequest(id=ids, protect_type="replication"))
    assert replication.vaults == []
    assert replication.count == 0


def test_update_vault_changes_what_was_asked(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any]
) -> None:
    vault = new_vault(cbr_a, [pool_a.server()], size=100)
    new_name = unique("contract-renamed")
    body = cbr.VaultUpdateReq(
        vault=cbr.VaultUpdate(
            name=new_name,
            billing=cbr.BillingUpdate(size=200),
            threshold=90,
            smn_notify=False,
            auto_bind=True,
            bind_rules=cbr.VaultBindRules(tags=[cbr.BindRulesTags(key="env", value="prod")]),
        )
    )
    updated = cbr_a.update_vault(cbr.UpdateVaultRequest(vault_id=vault.id, body=body)).vault
    assert isinstance(updated, cbr.Vault)
    assert updated.id == vault.id
    assert updated.name == new_name
    assert updated.billing.size == 200
    assert updated.threshold == 90
    assert updated.smn_notify is False
    assert updated.auto_bind is True
    assert [(t.key, t.value) for t in updated.bind_rules.tags] == [("env", "prod")]
    assert [r.id for r in updated.resources] == [r.id for r in vault.resources], "resources untouched"

    shown = cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=vault.id)).vault
    assert (shown.name, shown.billing.size, shown.threshold) == (new_name, 200, 90)


def test_add_and_remove_vault_resources(
    cbr_a: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    waiter: Waiter,
) -> None:
    vault = new_vault(cbr_a, [])
    assert vault.resources == []
    first, second = pool_a.server(), pool_a.server()

    added = cbr_a.add_vault_resource(
        cbr.AddVaultResourceRequest(
            vault_id=vault.id,
            body=cbr.VaultAddResourceReq(
                resources=[
                    cbr.ResourceCreate(id=first.id, type=SERVER),
                    cbr.ResourceCreate(id=second.id, type=SERVER, name=second.name),
                ]
            ),
        )
    )
    assert sorted(added.add_resource_ids) == sorted([first.id, second.id])
    shown = cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=vault.id)).vault
    assert {(r.id, r.type, r.name) for r in shown.resources} == {
        (first.id, SERVER, first.name),
        (second.id, SERVER, second.name),
    }

    _, backups = back_up(cbr_a, vault.id, [first.id, second.id])
    removed = cbr_a.remove_vault_resource(
        cbr.RemoveVaultResourceRequest(
            vault_id=vault.id, body=cbr.VaultRemoveResourceReq(resource_ids=[first.id])
        )
    )
    assert removed.remove_resource_ids == [first.id]
    shown = cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=vault.id)).vault
    assert [r.id for r in shown.resources] == [second.id]

    # removing a resource deletes its backups in that vault, as a remove_resource task
    waiter.until_gone(
        "the removed resource's backup to disappear",
        lambda: cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=backups[0].id)),
        404,
        "BackupService.6200",
    )
    left = cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id)).backups
    assert [b.id for b in left] == [backups[1].id]
    logs = cbr_a.list_op_logs(cbr.ListOpLogsRequest(operation_type="remove_resource", vault_id=vault.id))
    (log,) = logs.operation_logs
    assert log.status == "success"
    assert [r.id for r in log.extra_info.remove_resources.resources] == [first.id]

    expect_error(
        lambda: cbr_a.remove_vault_resource(
            cbr.RemoveVaultResourceRequest(
                vault_id=vault.id, body=cbr.VaultRemoveResourceReq(resource_ids=[first.id])
            )
        ),
        400,
        "BackupService.6135",
    )


def test_resource_already_in_a_vault_is_refused(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any]
) -> None:
    server = pool_a.server()
    new_vault(cbr_a, [server])
    other = new_vault(cbr_a, [])
    expect_error(
        lambda: cbr_a.add_vault_resource(
            cbr.AddVaultResourceRequest(
                vault_id=other.id,
                body=cbr.VaultAddResourceReq(resources=[cbr.ResourceCreate(id=server.id, type=SERVER)]),
            )
        ),
        400,
        "BackupService.6103",
    )
    expect_error(
        lambda: cbr_a.create_vault(cbr.CreateVaultRequest(body=vault_body(unique("contract-dup"), [server]))),
        400,
        "BackupService.6103",
    )
    fresh = pool_a.server()
    expect_error(
        lambda: cbr_a.add_vault_resource(
            cbr.AddVaultResourceRequest(
                vault_id=other.id,
                body=cbr.VaultAddResourceReq(resources=[cbr.ResourceCreate(id=fresh.id, type=SERVER)] * 2),
            )
        ),
        400,
        "BackupService.6104",
    )


def test_associate_and_disassociate_policy(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any]
) -> None:
    vault = new_vault(cbr_a, [pool_a.server()])
    policy = _policy(cbr_a)

    associated = cbr_a.associate_vault_policy(
        cbr.AssociateVaultPolicyRequest(vault_id=vault.id, body=cbr.VaultAssociate(policy_id=policy.id))
    ).associate_policy
    assert isinstance(associated, cbr.VaultPolicyResp)
    assert (associated.vault_id, associated.policy_id) == (vault.id, policy.id)

    shown = cbr_a.show_policy(cbr.ShowPolicyRequest(policy_id=policy.id)).policy
    assert [a.vault_id for a in shown.associated_vaults or []] == [vault.id]
    by_policy = cbr_a.list_vault(cbr.ListVaultRequest(policy_id=policy.id))
    assert [v.id for v in by_policy.vaults] == [vault.id]
    for_vault = cbr_a.list_policies(cbr.ListPoliciesRequest(vault_id=vault.id))
    assert [p.id for p in for_vault.policies] == [policy.id]

    dissociated = cbr_a.disassociate_vault_policy(
        cbr.DisassociateVaultPolicyRequest(vault_id=vault.id, body=cbr.VaultDissociate(policy_id=policy.id))
    ).dissociate_policy
    assert (dissociated.vault_id, dissociated.policy_id) == (vault.id, policy.id)
    shown = cbr_a.show_policy(cbr.ShowPolicyRequest(policy_id=policy.id)).policy
    assert not shown.associated_vaults
    assert cbr_a.list_vault(cbr.ListVaultRequest(policy_id=policy.id)).vaults == []

    expect_error(
        lambda: cbr_a.disassociate_vault_policy(
            cbr.DisassociateVaultPolicyRequest(
                vault_id=vault.id, body=cbr.VaultDissociate(policy_id=policy.id)
            )
        ),
        404,
        "BackupService.6002",
    )
    expect_error(
        lambda: cbr_a.associate_vault_policy(
            cbr.AssociateVaultPolicyRequest(vault_id=vault.id, body=cbr.VaultAssociate(policy_id=UNKNOWN_ID))
        ),
        404,
        "BackupService.6000",
    )


def test_delete_vault_removes_it_and_its_backups(
    cbr_a: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    waiter: Waiter,
) -> None:
    server = pool_a.server()
    vault = new_vault(cbr_a, [server])
    _, (backup,) = back_up(cbr_a, vault.id, [server.id])

    answer = cbr_a.delete_vault(cbr.DeleteVaultRequest(vault_id=vault.id))
    assert isinstance(answer, cbr.DeleteVaultResponse)

    waiter.until_gone(
        "the deleted vault to disappear",
        lambda: cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=vault.id)),
        404,
        "BackupService.6105",
    )
    waiter.until_gone(
        "the deleted vault's backup to disappear",
        lambda: cbr_a.show_backup(cbr.ShowBackupRequest(backup_id=backup.id)),
        404,
        "BackupService.6200",
    )
    assert cbr_a.list_backups(cbr.ListBackupsRequest(vault_id=vault.id)).backups == []

    def cleanup_log() -> Any:
        logs = cbr_a.list_op_logs(cbr.ListOpLogsRequest(operation_type="vault_delete", vault_id=vault.id))
        done = [log for log in logs.operation_logs if log.status == "success"]
        return done[0] if done else None

    log = waiter.until("the vault_delete operation log", cleanup_log)
    assert log.extra_info.vault_delete.total_count == 1
    assert log.extra_info.vault_delete.fail_count == 0
    # the server is free again
    again = cbr_a.create_vault(cbr.CreateVaultRequest(body=vault_body(unique("contract-reuse"), [server])))
    assert [r.id for r in again.vault.resources] == [server.id]


def test_unknown_vault_is_404_6105(cbr_a: RecordingCbrClient) -> None:
    error = expect_error(
        lambda: cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=UNKNOWN_ID)), 404, "BackupService.6105"
    )
    assert error.request_id
    expect_error(
        lambda: cbr_a.update_vault(
            cbr.UpdateVaultRequest(
                vault_id=UNKNOWN_ID, body=cbr.VaultUpdateReq(vault=cbr.VaultUpdate(name="x"))
            )
        ),
        404,
        "BackupService.6105",
    )
    expect_error(
        lambda: cbr_a.delete_vault(cbr.DeleteVaultRequest(vault_id=UNKNOWN_ID)), 404, "BackupService.6105"
    )


def test_another_tenants_vault_is_invisible(
    cbr_a: RecordingCbrClient, cbr_c: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any]
) -> None:
    vault = new_vault(cbr_a, [pool_a.server()])
    expect_error(lambda: cbr_c.show_vault(cbr.ShowVaultRequest(vault_id=vault.id)), 404, "BackupService.6105")
    assert vault.id not in {v.id for v in cbr_c.list_vault(cbr.ListVaultRequest(limit=1000)).vaults}


def test_bad_vault_bodies_are_400_9900(cbr_a: RecordingCbrClient, pool_a: Pool) -> None:
    server = pool_a.server()
    missing_billing = cbr.VaultCreateReq(
        vault=cbr.VaultCreate(name=unique("contract-bad"), billing=None, resources=[])
    )
    expect_error(
        lambda: cbr_a.create_vault(cbr.CreateVaultRequest(body=missing_billing)), 400, "BackupService.9900"
    )
    bad_object_type = vault_body(unique("contract-bad"), [server], object_type="floppy")
    expect_error(
        lambda: cbr_a.create_vault(cbr.CreateVaultRequest(body=bad_object_type)), 400, "BackupService.9900"
    )
    too_small = vault_body(unique("contract-bad"), [server], size=0)
    expect_error(
        lambda: cbr_a.create_vault(cbr.CreateVaultRequest(body=too_small)), 400, "BackupService.9900"
    )
    not_an_object = {"vault": "not an object"}
    expect_error(
        lambda: cbr_a.create_vault(cbr.CreateVaultRequest(body=not_an_object)), 400, "BackupService.9900"
    )
