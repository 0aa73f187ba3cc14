"""Protectable resources, replication capabilities and storage usage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import (
    SERVER,
    TENANT_A,
    TENANT_B,
    VOLUME,
    Pool,
    RecordingCbrClient,
    expect_error,
)

UNKNOWN_ID = "1b1b1b1b-2c2c-4d3d-8e4e-5f5f5f5f5f5f"


def _list(client: RecordingCbrClient, kind: str, **query: Any) -> list[Any]:
    return client.list_protectable(cbr.ListProtectableRequest(protectable_type=kind, **query)).instances


def test_list_protectable_servers(cbr_a: RecordingCbrClient) -> None:
    servers = _list(cbr_a, "server", limit=50)
    assert len(servers) == 40, "the inventory has 40 servers"
    assert len({s.id for s in servers}) == 40
    for server in servers:
        assert isinstance(server, cbr.ProtectablesResp)
        assert server.type == SERVER
        assert server.name
        assert isinstance(server.protectable.result, bool)
        assert server.children, "a server lists its disks"
        assert server.size is None or server.size > 0


def test_list_protectable_disks_of_a_server(cbr_a: RecordingCbrClient) -> None:
    server = _list(cbr_a, "server", limit=1)[0]
    disks = _list(cbr_a, "disk", server_id=server.id)
    assert disks, "every server has a system disk"
    assert all(d.type == VOLUME for d in disks)
    child_ids = {c.get("id") for c in server.children if isinstance(c, dict)}
    assert {d.id for d in disks} <= child_ids, "server_id lists exactly the disks of that server"
    all_disks = _list(cbr_a, "disk", limit=50)
    assert len(all_disks) > len(disks)


def test_list_protectable_pages(cbr_a: RecordingCbrClient) -> None:
    reference = [s.id for s in _list(cbr_a, "server", limit=50)]
    first = [s.id for s in _list(cbr_a, "server", limit=15, offset=0)]
    second = [s.id for s in _list(cbr_a, "server", limit=15, offset=15)]
    assert first == reference[:15]
    assert second == reference[15:30]
    after_marker = [s.id for s in _list(cbr_a, "server", limit=15, marker=first[-1])]
    assert after_marker == second
    assert _list(cbr_a, "server", limit=15, offset=45) == []


def test_list_protectable_filters(cbr_a: RecordingCbrClient) -> None:
    target = _list(cbr_a, "server", limit=50)[7]
    assert [s.id for s in _list(cbr_a, "server", id=target.id)] == [target.id]
    assert target.id in {s.id for s in _list(cbr_a, "server", name=target.name)}


def test_show_protectable(cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any]) -> None:
    server = pool_a.server()
    free = cbr_a.show_protectable(
        cbr.ShowProtectableRequest(protectable_type="server", instance_id=server.id)
    ).instance
    assert isinstance(free, cbr.ProtectablesResp)
    assert (free.id, free.name, free.type) == (server.id, server.name, SERVER)
    assert free.protectable.result is True
    assert free.protectable.vault is None

    vault = new_vault(cbr_a, [server])
    bound = cbr_a.show_protectable(
        cbr.ShowProtectableRequest(protectable_type="server", instance_id=server.id)
    ).instance
    assert bound.protectable.vault is not None
    assert bound.protectable.vault.id == vault.id
    assert bound.protectable.vault.name == vault.name

    disk = pool_a.disk()
    shown_disk = cbr_a.show_protectable(
        cbr.ShowProtectableRequest(protectable_type="disk", instance_id=disk.id)
    ).instance
    assert (shown_disk.id, shown_disk.type) == (disk.id, VOLUME)

    expect_error(
        lambda: cbr_a.show_protectable(
            cbr.ShowProtectableRequest(protectable_type="server", instance_id=UNKNOWN_ID)
        ),
        404,
        "BackupService.6302",
    )


def test_show_replication_capabilities(cbr_a: RecordingCbrClient) -> None:
    answer = cbr_a.show_replication_capabilities(cbr.ShowReplicationCapabilitiesRequest())
    regions = {r.name: r.replication_destinations for r in answer.regions}
    assert TENANT_A.region in regions
    assert TENANT_B.region in regions[TENANT_A.region]
    assert TENANT_A.region not in regions[TENANT_A.region], "no replication into the same region"


def test_show_storage_usage(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any], back_up: Callable[..., Any]
) -> None:
    server = pool_a.server()
    vault = new_vault(cbr_a, [server])
    back_up(cbr_a, vault.id, [server.id])
    back_up(cbr_a, vault.id, [server.id])

    answer = cbr_a.show_storage_usage(cbr.ShowStorageUsageRequest(resource_id=server.id))
    assert answer.resource_count == 1
    (usage,) = answer.storage_usage
    assert isinstance(usage, cbr.StorageUsage)
    assert (usage.resource_id, usage.resource_name, usage.resource_type) == (server.id, server.name, SERVER)
    assert usage.backup_count == 2
    assert usage.backup_size is not None
    assert usage.backup_size >= 0

    everything = cbr_a.show_storage_usage(cbr.ShowStorageUsageRequest(resource_type=SERVER, limit=1000))
    assert server.id in {u.resource_id for u in everything.storage_usage}
    assert everything.resource_count >= 1
    assert all(u.resource_type == SERVER for u in everything.storage_usage)
    first = cbr_a.show_storage_usage(cbr.ShowStorageUsageRequest(resource_type=SERVER, limit=1, offset=0))
    assert len(first.storage_usage) == 1
    assert first.resource_count == everything.resource_count, "resource_count is the total"
