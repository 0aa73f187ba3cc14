"""The client against the local emulator: a full tour, both auth modes, and the error mapping."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from cbr_emulator.config import DEFAULT_TENANT, Tenant
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.bodies import (
    BackupReplicate,
    BackupRestore,
    BillingCreate,
    CheckpointParameters,
    CheckpointReplicate,
    PolicyCreate,
    PolicyUpdate,
    ResourceRef,
    RestoreMapping,
    TagChange,
    TriggerInput,
    TriggerPropertiesInput,
    VaultCreate,
    VaultUpdate,
)
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.errors import CbrApiError, ErrorKind
from orchestrator.cbr.models import (
    Backup,
    Checkpoint,
    OperationDefinition,
    Protectable,
    Vault,
    parse_timestamp,
)
from orchestrator.cbr.query import BackupFilter, OperationLogFilter, ProtectableFilter, VaultFilter
from orchestrator.cbr.transport import CallCounter

SERVER = "OS::Nova::Server"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
T = TypeVar("T")
ClientFactory = Callable[..., CbrClient]  # the make_client fixture


async def settle(
    emulator: RunningEmulator, look: Callable[[], Awaitable[T]], done: Callable[[T], bool], attempts: int = 30
) -> T:
    """Look, moving the emulator's clock on between looks, until ``done``; fail after ``attempts``."""
    for _ in range(attempts):
        seen = await look()
        if done(seen):
            return seen
        emulator.clock.advance(30)
    raise AssertionError(f"still not done after {attempts} looks: {seen!r}")


async def free_servers(client: CbrClient, count: int) -> list[Protectable]:
    servers = [server async for server in client.iter_protectables("server")]
    free = [
        server for server in servers if server.protectable is None or server.protectable.result is not False
    ]
    assert len(free) >= count, f"the emulator offers {len(free)} free servers, need {count}"
    return free[:count]


async def backup_vault(
    client: CbrClient, name: str, servers: list[Protectable], size: int = 100_000
) -> Vault:
    resources = [ResourceRef(id=server.id, type=SERVER) for server in servers]
    billing = BillingCreate(object_type="server", protect_type="backup", size=size)
    return await client.create_vault(VaultCreate(name=name, billing=billing, resources=resources))


async def replication_vault(client: CbrClient, name: str) -> Vault:
    billing = BillingCreate(object_type="server", protect_type="replication", size=500)
    return await client.create_vault(VaultCreate(name=name, billing=billing))


async def backed_up(emulator: RunningEmulator, client: CbrClient, vault: Vault, name: str) -> list[Backup]:
    """Run a checkpoint over the vault and wait for its backups to be available."""
    checkpoint = await client.create_checkpoint(vault.id, CheckpointParameters(name=name, description=name))
    finished = await settle(
        emulator, lambda: client.show_checkpoint(checkpoint.id), lambda seen: seen.status != "protecting"
    )
    assert finished.status == "available"
    page = await client.list_backups(BackupFilter(checkpoint_id=checkpoint.id))
    assert page.backups
    assert all(backup.status == "available" for backup in page.backups)
    return page.backups


# --- the tour -----------------------------------------------------------------------------------


async def test_vault_checkpoint_backup_restore(emulator: RunningEmulator, client: CbrClient) -> None:
    [server] = await free_servers(client, 1)
    assert server.type == SERVER
    assert (await client.show_protectable("server", server.id)).id == server.id

    vault = await backup_vault(client, "tour-vault", [server])
    assert vault.resource_ids() == [server.id]
    assert vault.billing is not None
    assert vault.billing.spec_code == "vault.backup.server.normal"
    assert (await client.show_vault(vault.id)).name == "tour-vault"
    listed = await client.list_vaults(VaultFilter(name="tour-vault"))
    assert [found.id for found in listed.vaults] == [vault.id]
    updated = await client.update_vault(vault.id, VaultUpdate(name="tour-vault-2", threshold=70))
    assert (updated.name, updated.threshold) == ("tour-vault-2", 70)

    checkpoint = await client.create_checkpoint(
        vault.id, CheckpointParameters(name="tour-001", incremental=False)
    )
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.status == "protecting"
    assert checkpoint.vault is not None
    assert [resource.id for resource in checkpoint.vault.resources] == [server.id]
    assert checkpoint.skipped_resources == []

    finished = await settle(
        emulator, lambda: client.show_checkpoint(checkpoint.id), lambda seen: seen.status == "available"
    )
    assert finished.id == checkpoint.id

    [backup] = (await client.list_backups(BackupFilter(checkpoint_id=checkpoint.id))).backups
    assert (backup.status, backup.resource_id, backup.vault_id) == ("available", server.id, vault.id)
    assert backup.children, "a server backup carries its disk backups"
    assert (await client.show_backup(backup.id)).checkpoint_id == checkpoint.id
    renamed = await client.update_backup(backup.id, "tour-backup")
    assert renamed.name == "tour-backup"

    logs = await client.list_operation_logs(OperationLogFilter(operation_type="backup", vault_id=vault.id))
    assert [log.status for log in logs.operation_logs] == ["success"]
    log = await client.show_operation_log(logs.operation_logs[0].id)
    assert log.extra_info is not None
    assert log.extra_info.backup is not None
    assert log.extra_info.backup.backup_id == backup.id

    mappings = [
        RestoreMapping(backup_id=child.id, volume_id=child.resource_id or "") for child in backup.children
    ]
    await client.restore_backup(
        backup.id, BackupRestore(server_id=server.id, mappings=mappings, power_on=True)
    )
    restore_filter = OperationLogFilter(operation_type="restore", resource_id=server.id)
    restored = await settle(
        emulator,
        lambda: client.list_operation_logs(restore_filter),
        lambda page: bool(page.operation_logs) and page.operation_logs[0].status == "success",
    )
    assert restored.operation_logs[0].extra_info is not None
    assert (await client.show_backup(backup.id)).status == "available"

    usage = await client.show_storage_usage(resource_id=server.id)
    assert [item.resource_id for item in usage.storage_usage] == [server.id]
    assert usage.storage_usage[0].backup_count == 1


async def test_lists_filter_and_page_both_ways(emulator: RunningEmulator, client: CbrClient) -> None:
    servers = await free_servers(client, 5)
    vault = await backup_vault(client, "paging-vault", servers)
    backups = await backed_up(emulator, client, vault, "paging-001")
    expected = sorted(backup.id for backup in backups)
    assert len(expected) == 5

    in_vault = BackupFilter(vault_id=vault.id, status="available", resource_type=SERVER)
    by_marker = [backup.id async for backup in client.iter_backups(in_vault, page_size=2)]
    by_offset = [
        backup.id async for backup in client.iter_backups(in_vault, page_size=2, by_marker_paging=False)
    ]
    assert sorted(by_marker) == sorted(by_offset) == expected
    assert len(set(by_marker)) == len(by_marker)

    second = await client.list_backups(in_vault, limit=2, offset=2)
    assert (second.count, len(second.backups)) == (5, 2)
    after = await client.list_backups(in_vault, limit=2, marker=by_marker[1])
    assert [backup.id for backup in after.backups] == by_marker[2:4]

    oldest_first = await client.list_backups(BackupFilter(vault_id=vault.id, sort="created_at:asc"))
    assert len(oldest_first.backups) == 5
    created = parse_timestamp(backups[0].created_at or "")
    window = BackupFilter(
        vault_id=vault.id, start_time=created - timedelta(hours=1), end_time=created + timedelta(hours=1)
    )
    assert (await client.list_backups(window)).count == 5
    empty = BackupFilter(vault_id=vault.id, start_time=created + timedelta(days=1))
    assert (await client.list_backups(empty)).backups == []
    assert (await client.list_backups(BackupFilter(vault_id=vault.id, status="error"))).backups == []
    named = await client.list_backups(BackupFilter(resource_id=servers[0].id, show_replication=True))
    assert [backup.resource_id for backup in named.backups] == [servers[0].id]

    logs = [
        log async for log in client.iter_operation_logs(OperationLogFilter(vault_id=vault.id), page_size=2)
    ]
    assert len(logs) == 5
    assert {log.status for log in logs} == {"success"}

    first_two = await client.list_protectables("server", limit=2)
    next_two = await client.list_protectables("server", limit=2, marker=first_two[-1].id)
    assert len(first_two) == len(next_two) == 2
    assert not {item.id for item in first_two} & {item.id for item in next_two}
    disks = await client.list_protectables("disk", ProtectableFilter(server_id=servers[0].id))
    assert disks
    assert all(disk.type == "OS::Cinder::Volume" for disk in disks)


async def test_replicate_to_another_region(
    emulator: RunningEmulator, make_client: ClientFactory, remote_tenant: Tenant
) -> None:
    source, remote = make_client(), make_client(remote_tenant)
    capabilities = await source.show_replication_capabilities()
    destinations = {region.name: region.replication_destinations for region in capabilities.regions}
    assert remote_tenant.region in destinations.get(DEFAULT_TENANT.region, [])

    servers = await free_servers(source, 2)
    vault = await backup_vault(source, "replicated-vault", servers)
    backup, other = await backed_up(emulator, source, vault, "replicate-001")
    target = await replication_vault(remote, "replica-vault")

    request = BackupReplicate(
        destination_project_id=remote_tenant.project_id,
        destination_region=remote_tenant.region,
        destination_vault_id=target.id,
        name="replica-001",
    )
    replication = await source.replicate_backup(backup.id, request)
    assert (replication.backup_id, replication.destination_vault_id) == (backup.id, target.id)
    replicas = await settle(
        emulator,
        lambda: remote.list_backups(BackupFilter(vault_id=target.id, image_type="replication")),
        lambda page: bool(page.backups) and page.backups[0].status == "available",
    )
    assert len(replicas.backups) == 1
    shown = await source.list_backups(BackupFilter(resource_id=backup.resource_id, show_replication=True))
    assert [record.status for record in shown.backups[0].replication_records] == ["success"]

    with pytest.raises(CbrApiError) as again:
        await source.replicate_backup(backup.id, request)
    assert (again.value.code, again.value.kind) == ("BackupService.1009", ErrorKind.ALREADY_DONE)

    whole_vault = CheckpointReplicate(
        vault_id=vault.id,
        destination_project_id=remote_tenant.project_id,
        destination_region=remote_tenant.region,
        destination_vault_id=target.id,
    )
    queued = await source.replicate_checkpoint(whole_vault)
    assert queued.vault_id == vault.id
    assert [item.backup_id for item in queued.backups] == [other.id]  # the replicated one is left out
    await settle(
        emulator,
        lambda: remote.list_backups(BackupFilter(vault_id=target.id, status="available")),
        lambda page: len(page.backups) == 2,
    )


async def test_policies(client: CbrClient) -> None:
    [server] = await free_servers(client, 1)
    vault = await backup_vault(client, "policy-vault", [server])
    created = await client.create_policy(
        PolicyCreate(
            name="nightly",
            trigger=TriggerInput(
                properties=TriggerPropertiesInput(pattern=["FREQ=DAILY;INTERVAL=1;BYHOUR=2;BYMINUTE=00"])
            ),
            operation_definition=OperationDefinition(retention_duration_days=7, timezone="UTC+00:00"),
        )
    )
    assert (created.name, created.enabled, created.operation_type) == ("nightly", True, "backup")
    assert created.trigger is not None
    assert created.trigger.properties is not None
    assert created.trigger.properties.pattern == ["FREQ=DAILY;INTERVAL=1;BYHOUR=2;BYMINUTE=00"]

    binding = await client.associate_vault_policy(vault.id, created.id)
    assert (binding.vault_id, binding.policy_id) == (vault.id, created.id)
    bound = await client.list_policies(vault_id=vault.id)
    assert [policy.id for policy in bound.policies] == [created.id]
    assert [item.vault_id for item in (await client.show_policy(created.id)).associated_vaults] == [vault.id]

    updated = await client.update_policy(created.id, PolicyUpdate(name="nightly-2", enabled=False))
    assert (updated.name, updated.enabled) == ("nightly-2", False)
    await client.dissociate_vault_policy(vault.id, created.id)
    with pytest.raises(CbrApiError) as again:
        await client.dissociate_vault_policy(vault.id, created.id)
    assert again.value.kind is ErrorKind.ALREADY_DONE

    await client.delete_policy(created.id)
    with pytest.raises(CbrApiError) as shown:
        await client.show_policy(created.id)
    assert (shown.value.status, shown.value.code, shown.value.kind) == (
        404,
        "BackupService.6000",
        ErrorKind.TERMINAL,
    )
    with pytest.raises(CbrApiError) as deleted_again:
        await client.delete_policy(created.id)
    assert deleted_again.value.kind is ErrorKind.ALREADY_DONE


async def test_vault_tags(client: CbrClient) -> None:
    [server] = await free_servers(client, 1)
    vault = await backup_vault(client, "tag-vault", [server])
    await client.create_vault_tag(vault.id, "owner", "team-a")
    await client.create_vault_tag(vault.id, "owner", "team-b")  # overwrites
    await client.batch_update_vault_tags(
        vault.id, "create", [TagChange(key="env", value="prod"), TagChange(key="cost-center", value="42")]
    )
    tags = await client.show_vault_tags(vault.id)
    assert {tag.key: tag.value for tag in tags.tags} == {
        "owner": "team-b",
        "env": "prod",
        "cost-center": "42",
    }
    project_tags = {tag.key: tag.values for tag in await client.show_project_tags()}
    assert project_tags["owner"] == ["team-b"]

    await client.delete_vault_tag(vault.id, "cost-center")
    await client.batch_update_vault_tags(vault.id, "delete", [TagChange(key="env"), TagChange(key="absent")])
    assert [tag.key for tag in (await client.show_vault_tags(vault.id)).tags] == ["owner"]
    with pytest.raises(CbrApiError) as gone:
        await client.delete_vault_tag(vault.id, "env")
    assert gone.value.kind is ErrorKind.ALREADY_DONE


async def test_share_a_backup_with_another_project(
    emulator: RunningEmulator, make_client: ClientFactory, peer_tenant: Tenant
) -> None:
    owner, peer = make_client(), make_client(peer_tenant)
    [server] = await free_servers(owner, 1)
    vault = await backup_vault(owner, "shared-vault", [server])
    [backup] = await backed_up(emulator, owner, vault, "share-001")

    [member] = await owner.add_members(backup.id, [peer_tenant.project_id])
    assert (member.status, member.dest_project_id) == ("pending", peer_tenant.project_id)
    listed = await owner.list_members(backup.id)
    assert [item.dest_project_id for item in listed.members] == [peer_tenant.project_id]

    [peer_server] = await free_servers(peer, 1)
    receiving = await backup_vault(peer, "receiving-vault", [peer_server])
    accepted = await peer.update_member_status(
        backup.id, peer_tenant.project_id, "accepted", vault_id=receiving.id
    )
    assert (accepted.status, accepted.vault_id) == ("accepted", receiving.id)
    assert (await owner.show_member(backup.id, peer_tenant.project_id)).status == "accepted"
    shared = await peer.list_backups(BackupFilter(own_type="shared"))
    assert backup.id in [item.id for item in shared.backups]

    await owner.delete_member(backup.id, peer_tenant.project_id)
    with pytest.raises(CbrApiError) as gone:
        await owner.show_member(backup.id, peer_tenant.project_id)
    assert (gone.value.status, gone.value.code) == (404, "BackupService.6705")


async def test_resources_and_deletion(emulator: RunningEmulator, client: CbrClient) -> None:
    first, second = await free_servers(client, 2)
    vault = await backup_vault(client, "delete-vault", [first])
    assert await client.add_vault_resources(vault.id, [ResourceRef(id=second.id, type=SERVER)]) == [second.id]
    with pytest.raises(CbrApiError) as bound:
        await client.add_vault_resources(vault.id, [ResourceRef(id=second.id, type=SERVER)])
    assert (bound.value.code, bound.value.kind) == ("BackupService.6103", ErrorKind.ALREADY_DONE)
    assert await client.remove_vault_resources(vault.id, [second.id]) == [second.id]

    [backup] = await backed_up(emulator, client, vault, "delete-001")
    await client.delete_backup(backup.id)
    await settle(
        emulator,
        lambda: client.list_backups(BackupFilter(vault_id=vault.id)),
        lambda page: not page.backups,
    )
    with pytest.raises(CbrApiError) as missing:
        await client.delete_backup(backup.id)
    assert missing.value.kind is ErrorKind.ALREADY_DONE

    await client.delete_vault(vault.id)
    await settle(
        emulator, lambda: client.list_vaults(VaultFilter(name="delete-vault")), lambda page: not page.vaults
    )
    with pytest.raises(CbrApiError) as shown:
        await client.show_vault(vault.id)
    assert (shown.value.status, shown.value.code, shown.value.kind) == (
        404,
        "BackupService.6105",
        ErrorKind.TERMINAL,
    )
    assert shown.value.request_id


async def test_observer_counts_match_the_emulator(
    emulator: RunningEmulator, client: CbrClient, counter: CallCounter
) -> None:
    await client.list_vaults()
    await client.list_vaults(limit=1)
    with pytest.raises(CbrApiError):
        await client.show_vault(UNKNOWN_ID)
    assert counter.calls == {"list_vault": 2, "show_vault": 1}
    assert counter.errors == {"show_vault": 1}
    assert emulator.counters.requests_of("list_vault") == 2
    assert emulator.counters.requests_of("show_vault") == 1


# --- authentication -----------------------------------------------------------------------------


async def test_token_auth_and_refresh_after_401(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    counter = CallCounter()
    client = make_client(auth="token", observer=counter)
    assert (await client.list_vaults()).vaults == []
    emulator.clock.advance(25 * 3600)  # the emulator's IAM now sees the token as expired
    assert (await client.list_vaults()).vaults == []
    assert counter.calls["list_vault"] == 3
    assert counter.errors["list_vault"] == 1


async def test_token_auth_for_another_region(make_client: ClientFactory, remote_tenant: Tenant) -> None:
    remote = make_client(remote_tenant, auth="token")
    vault = await replication_vault(remote, "token-vault")
    assert (await remote.show_vault(vault.id)).project_id == remote_tenant.project_id


async def test_wrong_secret_key_is_terminal_401(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    wrong = DEFAULT_TENANT.model_copy(update={"secret_key": "not-the-secret"})
    with pytest.raises(CbrApiError) as caught:
        await make_client(wrong).list_vaults()
    assert (caught.value.status, caught.value.kind) == (401, ErrorKind.TERMINAL)
    assert "not-the-secret" not in str(caught.value)


async def test_wrong_password_is_terminal(make_client: ClientFactory) -> None:
    wrong = DEFAULT_TENANT.model_copy(update={"password": "not-the-password"})
    with pytest.raises(CbrApiError) as caught:
        await make_client(wrong, auth="token").list_vaults()
    assert (caught.value.operation, caught.value.status, caught.value.kind) == (
        "iam_create_token",
        401,
        ErrorKind.TERMINAL,
    )
    assert "not-the-password" not in str(caught.value)


# --- error mapping ------------------------------------------------------------------------------


async def test_unknown_ids_are_terminal_not_found(client: CbrClient) -> None:
    cases: list[tuple[Callable[[], Awaitable[object]], str]] = [
        (lambda: client.show_vault(UNKNOWN_ID), "BackupService.6105"),
        (lambda: client.show_backup(UNKNOWN_ID), "BackupService.6200"),
        (lambda: client.show_checkpoint(UNKNOWN_ID), "BackupService.6217"),
        (lambda: client.show_operation_log(UNKNOWN_ID), "BackupService.6500"),
    ]
    for call, code in cases:
        with pytest.raises(CbrApiError) as caught:
            await call()
        assert (caught.value.status, caught.value.code, caught.value.kind) == (404, code, ErrorKind.TERMINAL)


async def test_injected_throttling_is_retry_later_with_retry_after(
    emulator: RunningEmulator, client: CbrClient
) -> None:
    rule = FaultRule(operation="list_backups", throttle_probability=1.0, retry_after_seconds=7, max_faults=1)
    emulator.faults.replace(FaultPlan(rules=[rule]))
    with pytest.raises(CbrApiError) as caught:
        await client.list_backups()
    error = caught.value
    assert (error.status, error.kind, error.retry_after, error.throttled) == (
        429,
        ErrorKind.RETRY_LATER,
        7.0,
        True,
    )
    assert (await client.list_backups()).backups == []  # the rule has fired its one time


async def test_injected_busy_error_is_retry_later(emulator: RunningEmulator, client: CbrClient) -> None:
    rule = FaultRule(
        operation="create_checkpoint",
        error_probability=1.0,
        error_status=400,
        error_code="BackupService.6125",
        max_faults=1,
    )
    emulator.faults.replace(FaultPlan(rules=[rule]))
    [server] = await free_servers(client, 1)
    vault = await backup_vault(client, "busy-vault", [server])
    with pytest.raises(CbrApiError) as caught:
        await client.create_checkpoint(vault.id)
    assert (caught.value.code, caught.value.kind) == ("BackupService.6125", ErrorKind.RETRY_LATER)


async def test_timeout_after_execution_leaves_the_outcome_unknown(
    emulator: RunningEmulator, client: CbrClient
) -> None:
    [server] = await free_servers(client, 1)
    vault = await backup_vault(client, "timeout-vault", [server])
    rule = FaultRule(operation="create_checkpoint", timeout_probability=1.0, hang_seconds=2, max_faults=1)
    emulator.faults.replace(FaultPlan(rules=[rule]))
    marker = CheckpointParameters(name="unknown-outcome-001")
    with pytest.raises(CbrApiError) as caught:
        await client.create_checkpoint(vault.id, marker, request_timeout=0.5)
    error = caught.value
    assert (error.status, error.code, error.kind, error.outcome_unknown) == (
        0,
        "timeout",
        ErrorKind.RETRY_LATER,
        True,
    )
    # the call did take effect: reconciling finds the backup it started
    found = await settle(
        emulator,
        lambda: client.list_backups(BackupFilter(vault_id=vault.id)),
        lambda page: bool(page.backups),
    )
    assert found.backups[0].resource_id == server.id
    emulator.faults.replace(FaultPlan(rules=[rule.model_copy(update={"operation": "show_vault"})]))
    with pytest.raises(CbrApiError) as read:
        await client.show_vault(vault.id, request_timeout=0.5)
    assert (read.value.code, read.value.outcome_unknown) == ("timeout", False)
