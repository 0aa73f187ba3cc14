"""Backup sharing: tenant A shares a server backup with tenant C (same region), C accepts, A revokes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    TENANT_B,
    TENANT_C,
    Pool,
    RecordingCbrClient,
    expect_error,
    parse_timestamp,
)


@pytest.fixture(scope="module")
def shared_backup(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any], back_up: Callable[..., Any]
) -> Any:
    server = pool_a.server()
    vault = new_vault(cbr_a, [server])
    _, (backup,) = back_up(cbr_a, vault.id, [server.id])
    return backup


@pytest.fixture(scope="module")
def vault_c(cbr_c: RecordingCbrClient, new_vault: Callable[..., Any]) -> Any:
    return new_vault(cbr_c, [])


def _add(client: RecordingCbrClient, backup_id: str, *projects: str) -> Any:
    return client.add_member(
        cbr.AddMemberRequest(backup_id=backup_id, body=cbr.AddMembersReq(members=list(projects)))
    )


def test_sharing_lifecycle(
    cbr_a: RecordingCbrClient, cbr_c: RecordingCbrClient, shared_backup: Any, vault_c: Any
) -> None:
    backup = shared_backup
    added = _add(cbr_a, backup.id, TENANT_C.project_id).members
    assert len(added) == 1
    member = added[0]
    assert isinstance(member, cbr.Member)
    assert member.status == "pending"
    assert member.backup_id == backup.id
    assert member.dest_project_id == TENANT_C.project_id
    assert member.id
    assert not member.vault_id
    parse_timestamp(member.created_at)

    listed = cbr_a.show_members_detail(cbr.ShowMembersDetailRequest(backup_id=backup.id))
    assert listed.count == 1
    assert [(m.dest_project_id, m.status) for m in listed.members] == [(TENANT_C.project_id, "pending")]
    assert (
        cbr_a.show_members_detail(
            cbr.ShowMembersDetailRequest(backup_id=backup.id, status="accepted")
        ).members
        == []
    )

    shown = cbr_a.show_member_detail(
        cbr.ShowMemberDetailRequest(backup_id=backup.id, member_id=TENANT_C.project_id)
    ).member
    assert (shown.id, shown.status, shown.dest_project_id) == (member.id, "pending", TENANT_C.project_id)

    # the receiving project accepts into one of its vaults
    accepted = cbr_c.update_member_status(
        cbr.UpdateMemberStatusRequest(
            backup_id=backup.id,
            member_id=TENANT_C.project_id,
            body=cbr.UpdateMember(status="accepted", vault_id=vault_c.id),
        )
    ).member
    assert (accepted.id, accepted.status, accepted.vault_id) == (member.id, "accepted", vault_c.id)
    assert accepted.dest_project_id == TENANT_C.project_id

    by_status = cbr_a.show_members_detail(
        cbr.ShowMembersDetailRequest(backup_id=backup.id, status="accepted")
    )
    assert [m.id for m in by_status.members] == [member.id]
    by_project = cbr_a.show_members_detail(
        cbr.ShowMembersDetailRequest(backup_id=backup.id, dest_project_id=TENANT_C.project_id)
    )
    assert [m.vault_id for m in by_project.members] == [vault_c.id]

    # the owner revokes the share
    answer = cbr_a.delete_member(cbr.DeleteMemberRequest(backup_id=backup.id, member_id=TENANT_C.project_id))
    assert isinstance(answer, cbr.DeleteMemberResponse)
    assert cbr_a.show_members_detail(cbr.ShowMembersDetailRequest(backup_id=backup.id)).count == 0
    expect_error(
        lambda: cbr_a.show_member_detail(
            cbr.ShowMemberDetailRequest(backup_id=backup.id, member_id=TENANT_C.project_id)
        ),
        404,
        "BackupService.6705",
    )


def test_receiver_sees_an_accepted_share(
    cbr_a: RecordingCbrClient,
    cbr_c: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    vault_c: Any,
) -> None:
    server = pool_a.server()
    vault = new_vault(cbr_a, [server])
    _, (backup,) = back_up(cbr_a, vault.id, [server.id])
    _add(cbr_a, backup.id, TENANT_C.project_id)
    cbr_c.update_member_status(
        cbr.UpdateMemberStatusRequest(
            backup_id=backup.id,
            member_id=TENANT_C.project_id,
            body=cbr.UpdateMember(status="accepted", vault_id=vault_c.id),
        )
    )
    shared = cbr_c.list_backups(cbr.ListBackupsRequest(own_type="shared", limit=1000)).backups
    assert backup.id in {b.id for b in shared}
    own = cbr_c.list_backups(cbr.ListBackupsRequest(limit=1000)).backups
    assert backup.id not in {b.id for b in own}, "own_type defaults to private"


def test_sharing_errors(
    cbr_a: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    shared_backup: Any,
) -> None:
    disk = pool_a.disk()
    disk_vault = new_vault(cbr_a, [disk], object_type="disk")
    _, (disk_backup,) = back_up(cbr_a, disk_vault.id, [disk.id])
    expect_error(lambda: _add(cbr_a, disk_backup.id, TENANT_C.project_id), 400, "BackupService.6700")

    _add(cbr_a, shared_backup.id, TENANT_C.project_id)
    expect_error(lambda: _add(cbr_a, shared_backup.id, TENANT_C.project_id), 400, "BackupService.6714")
    expect_error(
        lambda: cbr_a.show_member_detail(
            cbr.ShowMemberDetailRequest(backup_id=shared_backup.id, member_id=TENANT_B.project_id)
        ),
        404,
        "BackupService.6705",
    )
    expect_error(
        lambda: _add(cbr_a, "00000000-0000-4000-8000-000000000000", TENANT_C.project_id),
        404,
        "BackupService.6200",
    )


def test_sharing_is_limited_to_the_region(
    cbr_a: RecordingCbrClient, cbr_b: RecordingCbrClient, shared_backup: Any
) -> None:
    """Backups are shared only with projects of the same region (REFERENCE §4.7, codes 6700–6708).

    Tenant B's project lives in region 2: a share to it could never be accepted (B cannot even see
    the backup), so the service refuses it as an invalid project for sharing.
    """
    expect_error(lambda: _add(cbr_a, shared_backup.id, TENANT_B.project_id), 400, "BackupService.6704")
    members = cbr_a.show_members_detail(
        cbr.ShowMembersDetailRequest(backup_id=shared_backup.id, dest_project_id=TENANT_B.project_id)
    )
    assert members.members == []


def test_receiver_can_reject(
    cbr_a: RecordingCbrClient,
    cbr_c: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
) -> None:
    server = pool_a.server()
    vault = new_vault(cbr_a, [server])
    _, (backup,) = back_up(cbr_a, vault.id, [server.id])
    _add(cbr_a, backup.id, TENANT_C.project_id)
    rejected = cbr_c.update_member_status(
        cbr.UpdateMemberStatusRequest(
            backup_id=backup.id, member_id=TENANT_C.project_id, body=cbr.UpdateMember(status="rejected")
        )
    ).member
    assert (rejected.status, rejected.dest_project_id) == ("rejected", TENANT_C.project_id)
    assert not rejected.vault_id
    seen_by_owner = cbr_a.show_member_detail(
        cbr.ShowMemberDetailRequest(backup_id=backup.id, member_id=TENANT_C.project_id)
    ).member
    assert seen_by_owner.status == "rejected"
    shared = cbr_c.list_backups(cbr.ListBackupsRequest(own_type="shared", member_status="accepted")).backups
    assert backup.id not in {b.id for b in shared}
