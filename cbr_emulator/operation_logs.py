"""Operation logs (CBR's "tasks"): one per backup, restore, replication or deletion, and their queries."""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Any

from cbr_emulator.clock import stamp, stamp_optional
from cbr_emulator.context import Call, World
from cbr_emulator.errors import CbrError
from cbr_emulator.state import OperationLog, ProjectState, Vault

OPERATION_TYPES = (
    "backup",
    "copy",
    "replication",
    "restore",
    "delete",
    "sync",
    "vault_delete",
    "remove_resource",
    "update_expiration_time",  # newer than the SDK's enum, which already has its extra_info block
)
STATUSES = ("success", "skipped", "failed", "running", "timeout", "waiting")
FINISHED = ("success", "skipped", "failed", "timeout")


def open_log(
    world: World,
    project: ProjectState,
    operation_type: str,
    at: datetime,
    *,
    resource: dict[str, Any],
    vault: Vault | None,
    provider_id: str | None,
    details: dict[str, dict[str, Any]],
    checkpoint_id: str | None = None,
    policy_id: str | None = None,
) -> OperationLog:
    """Record a new task in ``waiting`` with progress 0."""
    log = OperationLog(
        id=world.ids.new(),
        project_id=project.project_id,
        operation_type=operation_type,
        created_at=at,
        started_at=at,
        updated_at=at,
        request_id=world.ids.request_id(),
        resource=resource,
        checkpoint_id=checkpoint_id,
        policy_id=policy_id,
        provider_id=provider_id,
        vault_id=vault.id if vault else None,
        vault_name=vault.name if vault else None,
        enterprise_project_id=vault.enterprise_project_id if vault else "0",
        details=details,
    )
    project.add_log(log)
    return log


def begin(project: ProjectState, log: OperationLog, at: datetime) -> None:
    project.set_log_status(log, "running")
    log.started_at = at
    log.updated_at = at


def advance(log: OperationLog, progress: int, at: datetime) -> None:
    if log.status == "running" and progress != log.progress:
        log.progress = progress
        log.updated_at = at


def succeed(project: ProjectState, log: OperationLog, at: datetime) -> None:
    project.set_log_status(log, "success")
    log.progress = 100
    log.updated_at = log.ended_at = at


def skip(project: ProjectState, log: OperationLog, at: datetime, code: str, message: str) -> None:
    project.set_log_status(log, "skipped")
    log.error_code, log.error_message, log.ended_at = code, message, at


def fail(project: ProjectState, log: OperationLog, at: datetime, code: str, message: str) -> None:
    project.set_log_status(log, "failed")
    log.error_code = code
    log.error_message = message
    log.updated_at = log.ended_at = at


def render(log: OperationLog) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "common": {"progress": log.progress, "request_id": log.request_id, "task_id": log.id},
        "resource": log.resource,
    }
    extra.update(log.details)
    return {
        "checkpoint_id": log.checkpoint_id,
        "created_at": stamp(log.created_at),
        "ended_at": stamp_optional(log.ended_at),
        "error_info": {"code": log.error_code, "message": log.error_message},
        "extra_info": extra,
        "id": log.id,
        "operation_type": log.operation_type,
        "policy_id": log.policy_id,
        "project_id": log.project_id,
        "provider_id": log.provider_id,
        "started_at": stamp(log.started_at or log.created_at),
        "status": log.status,
        "updated_at": stamp(log.updated_at or log.created_at),
        "vault_id": log.vault_id,
        "vault_name": log.vault_name,
    }


def show_op_log(call: Call) -> dict[str, Any]:
    log = call.project.op_logs.get(call.path("operation_log_id"))
    if log is None:
        raise CbrError.of("6500")
    return {"operation_log": render(log)}


def list_op_logs(call: Call) -> dict[str, Any]:
    query = call.query
    limit = query.number("limit", 1000, 1, 1000)
    offset = query.number("offset", 0, 0)
    wanted = {
        "operation_type": query.choice("operation_type", OPERATION_TYPES),
        "status": query.choice("status", STATUSES),
        "vault_id": query.text("vault_id"),
        "vault_name": query.text("vault_name"),
        "provider_id": query.text("provider_id"),
        "enterprise_project_id": _eps(query.text("enterprise_project_id")),
    }
    resource_id, resource_name = query.text("resource_id"), query.text("resource_name")
    start, end = query.time("start_time"), query.time("end_time")
    given = [(key, value) for key, value in wanted.items() if value is not None]
    found = [
        log
        for log in call.project.logs_matching(wanted)
        if all(getattr(log, key) == value for key, value in given)
        and (resource_id is None or log.resource.get("id") == resource_id)
        and (resource_name is None or log.resource.get("name") == resource_name)
        and (start is None or log.created_at >= start)
        and (end is None or log.created_at <= end)
    ]
    found.sort(key=attrgetter("sequence"))  # newest first; equal times in creation order
    found.sort(key=attrgetter("created_at"), reverse=True)
    page = found[offset : offset + limit]
    return {
        "operation_logs": [render(log) for log in page],
        "count": len(found),
        "limit": limit,
        "offset": offset,
    }


def _eps(value: str | None) -> str | None:
    return None if value in (None, "", "all_granted_eps") else value
