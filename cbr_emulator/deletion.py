"""Deleting backups: ``waiting_delete`` → ``deleting`` → gone, tracked by one operation log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cbr_emulator import operation_logs
from cbr_emulator.context import World
from cbr_emulator.state import Backup, OperationLog, ProjectState


@dataclass
class DeleteJob:
    project: ProjectState
    backups: list[Backup]
    log: OperationLog
    size_gb: float = 0.0
    may_fail: bool = False

    def begin(self, at: datetime) -> None:
        operation_logs.begin(self.project, self.log, at)
        for backup in self.backups:
            backup.set_status("deleting", at)

    def report(self, progress: int, at: datetime) -> None:
        operation_logs.advance(self.log, progress, at)

    def finish(self, at: datetime, failed: bool) -> None:
        for backup in self.backups:
            self.project.drop_backup(backup)
        operation_logs.succeed(self.project, self.log, at)


def delete_backups(
    world: World, project: ProjectState, backups: list[Backup], log: OperationLog, at: datetime
) -> None:
    """Start deleting ``backups`` under ``log``; they linger in ``waiting_delete``/``deleting``."""
    for backup in backups:
        backup.set_status("waiting_delete", at)
    world.runner.submit(DeleteJob(project, backups, log), at)


def delete_backup(
    world: World, project: ProjectState, backup: Backup, at: datetime, policy_id: str | None = None
) -> OperationLog:
    """Delete one backup (by request or by a retention rule) with an operation log of type ``delete``."""
    log = operation_logs.open_log(
        world,
        project,
        "delete",
        at,
        resource=resource_block(backup),
        vault=project.vaults.get(backup.vault_id),
        provider_id=backup.provider_id,
        details={"delete": {"backup_id": backup.id, "backup_name": backup.name}},
        checkpoint_id=backup.checkpoint_id,
        policy_id=policy_id,
    )
    delete_backups(world, project, [backup], log, at)
    return log


def resource_block(backup: Backup) -> dict[str, str]:
    return {"id": backup.resource_id, "type": backup.resource_type, "name": backup.resource_name}
