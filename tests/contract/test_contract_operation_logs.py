"""Operation logs (tasks): what a backup run leaves behind, filters, paging and the single view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    SERVER,
    SERVER_PROVIDER,
    TENANT_A,
    Pool,
    RecordingCbrClient,
    Waiter,
    as_query_time,
    expect_error,
    parse_timestamp,
    raw_json,
)

UNKNOWN_ID = "7d7d7d7d-1111-4222-8333-944444444444"


@pytest.fixture(scope="module")
def run(
    cbr_a: RecordingCbrClient,
    pool_a: Pool,
    new_vault: Callable[..., Any],
    back_up: Callable[..., Any],
    waiter: Waiter,
) -> tuple[Any, list[Any], str, list[Any]]:
    """(vault, servers, checkpoint id, backups) of one finished backup run over two servers."""
    servers = [pool_a.server(), pool_a.server()]
    vault = new_vault(cbr_a, servers)
    checkpoint_id, backups = back_up(cbr_a, vault.id, [s.id for s in servers])

    def all_done() -> bool:
        logs = cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id)).operation_logs
        return len(logs) == 2 and all(log.status == "success" for log in logs)

    waiter.until("both backup operation logs to succeed", all_done)
    return vault, servers, checkpoint_id, backups


def test_backup_run_leaves_one_log_per_resource(cbr_a: RecordingCbrClient, run: Any) -> None:
    vault, servers, checkpoint_id, backups = run
    answer = cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id))
    logs = answer.operation_logs
    assert answer.count == 2
    assert {log.extra_info.resource.id for log in logs} == {s.id for s in servers}
    backup_by_resource = {b.resource_id: b for b in backups}
    for log in logs:
        assert isinstance(log, cbr.OperationLog)
        assert log.operation_type == "backup"
        assert log.status == "success"
        assert log.project_id == TENANT_A.project_id
        assert log.provider_id == SERVER_PROVIDER
        assert log.checkpoint_id == checkpoint_id
        assert log.extra_info.resource.type == SERVER
        backup = backup_by_resource[log.extra_info.resource.id]
        assert log.extra_info.resource.name == backup.resource_name
        assert log.extra_info.backup.backup_id == backup.id
        assert log.extra_info.backup.backup_name == backup.name
        assert log.extra_info.common.progress == 100
        assert log.extra_info.common.request_id
        assert log.error_info is not None
        assert not log.error_info.code
        started, ended = parse_timestamp(log.started_at), parse_timestamp(log.ended_at)
        assert parse_timestamp(log.created_at) <= started <= ended
        parse_timestamp(log.updated_at)


def test_list_op_logs_filters(cbr_a: RecordingCbrClient, run: Any) -> None:
    vault, servers, _, _ = run

    def listed(**filters: Any) -> set[str]:
        answer = cbr_a.list_op_logs(cbr.ListOpLogsRequest(limit=1000, **filters))
        return {log.id for log in answer.operation_logs}

    both = listed(vault_id=vault.id)
    assert len(both) == 2
    assert listed(vault_id=vault.id, operation_type="backup") == both
    assert listed(vault_id=vault.id, operation_type="restore") == set()
    assert listed(vault_id=vault.id, status="success") == both
    assert listed(vault_id=vault.id, status="failed") == set()
    assert listed(vault_id=vault.id, provider_id=SERVER_PROVIDER) == both
    assert listed(vault_name=vault.name) == both
    only_first = listed(resource_id=servers[0].id)
    assert len(only_first) == 1
    assert only_first < both
    assert listed(vault_id=vault.id, resource_name=servers[1].name) == both - only_first

    logs = cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id)).operation_logs
    created = [parse_timestamp(log.created_at) for log in logs]
    minute = dt.timedelta(minutes=1)
    window = {
        "start_time": as_query_time(min(created) - minute),
        "end_time": as_query_time(max(created) + minute),
    }
    assert listed(vault_id=vault.id, **window) == both
    assert listed(vault_id=vault.id, end_time=as_query_time(min(created) - minute)) == set()
    assert listed(vault_id=vault.id, start_time=as_query_time(max(created) + minute)) == set()


def test_list_op_logs_pages(cbr_a: RecordingCbrClient, run: Any) -> None:
    vault, _, _, _ = run
    reference = [
        log.id for log in cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id)).operation_logs
    ]
    first = cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id, limit=1, offset=0))
    second = cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id, limit=1, offset=1))
    beyond = cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id, limit=1, offset=2))
    assert [log.id for log in first.operation_logs] == reference[:1]
    assert [log.id for log in second.operation_logs] == reference[1:2]
    assert beyond.operation_logs == []
    assert (first.count, second.count, beyond.count) == (2, 2, 2), "count is the total, not the page size"
    assert raw_json(first).get("limit", 1) == 1
    assert raw_json(second).get("offset", 1) == 1


def test_show_op_log_matches_the_list(cbr_a: RecordingCbrClient, run: Any) -> None:
    vault, _, _, _ = run
    listed = raw_json(cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id)))["operation_logs"]
    for entry in listed:
        shown = cbr_a.show_op_log(cbr.ShowOpLogRequest(operation_log_id=entry["id"]))
        assert isinstance(shown.operation_log, cbr.OperationLog)
        assert shown.operation_log.id == entry["id"]
        assert raw_json(shown)["operation_log"] == entry


def test_unknown_op_log_is_404_6500(cbr_a: RecordingCbrClient, cbr_c: RecordingCbrClient, run: Any) -> None:
    expect_error(
        lambda: cbr_a.show_op_log(cbr.ShowOpLogRequest(operation_log_id=UNKNOWN_ID)),
        404,
        "BackupService.6500",
    )
    vault, _, _, _ = run
    some_log = cbr_a.list_op_logs(cbr.ListOpLogsRequest(vault_id=vault.id)).operation_logs[0]
    expect_error(
        lambda: cbr_c.show_op_log(cbr.ShowOpLogRequest(operation_log_id=some_log.id)),
        404,
        "BackupService.6500",
    )
