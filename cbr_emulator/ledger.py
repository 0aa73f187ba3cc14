"""The ledger: every side effect a project holds, listed one by one for an audit.

Counters say how many requests arrived; the ledger says what they left behind — each checkpoint (with
its description, where a caller's marker lives), each whole-resource backup (with the moment its task
ended), each restore task, each replication record — so that
an audit can count effects per command, whatever the requests, retries and lost answers were.
Read-only; served as ``GET /_emulator/ledger``.
"""

from __future__ import annotations

from typing import Any

from cbr_emulator.clock import stamp
from cbr_emulator.state import BACKUP_BUSY, Backup, Checkpoint, OperationLog, ProjectState, ReplicationRecord


def project_ledger(state: ProjectState) -> dict[str, Any]:
    records = [r for b in state.backups.values() if b.parent_id is None for r in b.replication_records]
    restores = state.log_index.get(("operation_type", "restore"), {}).values()
    return {
        "region": state.region,
        "project_id": state.project_id,
        "checkpoints": [_checkpoint(c) for c in state.checkpoints.values()],
        "backups": [_backup(b) for b in state.backups.values() if b.parent_id is None],
        "restores": [_restore(log) for log in restores],
        "replications": [_replication(r) for r in records],
    }


def _checkpoint(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "id": checkpoint.id,
        "vault_id": checkpoint.vault_id,
        "name": checkpoint.name,
        "description": checkpoint.description,
        "auto_trigger": checkpoint.auto_trigger,
        "status": checkpoint.status,
        "created_at": stamp(checkpoint.created_at),
        "resource_ids": [r.id for r in checkpoint.resources],
        "skipped_ids": [s.id for s in checkpoint.skipped],
    }


def _backup(backup: Backup) -> dict[str, Any]:
    ended = None if backup.status in BACKUP_BUSY else backup.protected_at or backup.updated_at
    return {
        "id": backup.id,
        "resource_id": backup.resource_id,
        "checkpoint_id": backup.checkpoint_id,
        "vault_id": backup.vault_id,
        "status": backup.status,
        "created_at": stamp(backup.created_at),
        "ended_at": None if ended is None else stamp(ended),
    }


def _restore(log: OperationLog) -> dict[str, Any]:
    block = log.details.get("restore", {})
    return {
        "id": log.id,
        "backup_id": block.get("backup_id"),
        "target_resource_id": block.get("target_resource_id"),
        "status": log.status,
        "created_at": stamp(log.created_at),
        "ended_at": None if log.ended_at is None else stamp(log.ended_at),
    }


def _replication(record: ReplicationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "source_backup_id": record.source_backup_id,
        "destination_region": record.destination_region,
        "destination_project_id": record.destination_project_id,
        "destination_vault_id": record.destination_vault_id,
        "status": record.status,
        "created_at": stamp(record.created_at),
    }
