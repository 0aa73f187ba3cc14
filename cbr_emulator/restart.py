"""What a world loaded from a state file needs before it serves: its timers again, and an end for the tasks
that were under way when the file was written.

A state file holds objects, not the tasks moving them (those are callbacks on the emulator's clock), so a
task waiting or running at the save ends at load as after a failure of the service: its operation log
``failed`` with :data:`INTERRUPTED`, a backup being made ``error``, a backup being restored or deleted
``available`` again, a replication ``fail``. Policy schedules start again from the load (runs missed while
the emulator was stopped are not made up), the backups with an expiry date are watched again, and an
organisation policy still syncing deploys one task duration after the load.
"""

from __future__ import annotations

from datetime import datetime

from cbr_emulator import operation_logs, organization_policies, policies, retention
from cbr_emulator.context import World
from cbr_emulator.state import BACKUP_BUSY, BACKUP_GOING, BACKUP_RESTORING, ProjectState

INTERRUPTED = (
    "BackupService.9910",
    "Unknown error. (The task was interrupted by a restart of the emulator.)",
)
UNFINISHED_LOGS = ("waiting", "running")
UNFINISHED_REPLICATIONS = ("waiting_replicate", "replicating")


def resume(world: World, now: datetime) -> None:
    for domain in world.domains.values():
        organization_policies.redeploy_syncing(world, domain, now)
    for project in world.projects.values():
        end_interrupted_tasks(project, now)
        for policy in project.policies.values():
            policies.arm(world, project, policy, now)
        for backup in project.backups.values():
            if backup.parent_id is None:
                retention.watch_expiry(world, project, backup)


def end_interrupted_tasks(project: ProjectState, now: datetime) -> None:
    for log in list(project.op_logs.values()):
        if log.status in UNFINISHED_LOGS:
            operation_logs.fail(project, log, now, *INTERRUPTED)
    for backup in project.backups.values():
        if backup.status in BACKUP_BUSY:
            backup.status, backup.updated_at = "error", now
            if backup.parent_id is None:
                project.failed_last.add((backup.vault_id, backup.resource_id))
        elif backup.status in (*BACKUP_RESTORING, *BACKUP_GOING):
            backup.status, backup.updated_at = "available", now
        for record in backup.replication_records:
            if record.status in UNFINISHED_REPLICATIONS:
                record.status, record.fail_code, record.fail_reason = "fail", *INTERRUPTED
    for checkpoint in project.checkpoints.values():
        if checkpoint.unfinished or checkpoint.status == "protecting":
            statuses = [project.backups[i].status for i in checkpoint.backup_ids if i in project.backups]
            checkpoint.unfinished = 0
            checkpoint.status = "error" if statuses and all(s == "error" for s in statuses) else "available"
    project.activity.clear()
