"""What status polling reads from CBR list pages, and nothing else: slim answer models.

Polling reads task and backup listings of up to 1,000 items several times a second; validating every
field of :class:`~orchestrator.cbr.models.OperationLog` and :class:`~orchestrator.cbr.models.Backup`
(and keeping the unknown ones) was most of its cost. These models name only the fields the poller uses,
validated with the same shapes as the full models (a wrong shape is still an ``invalid_response``);
every other field is dropped unread.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from orchestrator.cbr.models import NullableList, Number


class Polled(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TaskError(Polled):
    code: str | None = None
    message: str | None = None


class TaskProgress(Polled):
    progress: int | None = None  # 0-100


class TaskResource(Polled):
    id: str | None = None


class TaskBackup(Polled):
    backup_id: str | None = None


class TaskRestore(Polled):
    backup_id: str | None = None
    target_resource_id: str | None = None


class TaskReplication(Polled):
    source_backup_id: str | None = None
    destination_region: str | None = None
    destination_backup_id: str | None = None


class TaskInfo(Polled):
    common: TaskProgress | None = None
    resource: TaskResource | None = None
    backup: TaskBackup | None = None
    restore: TaskRestore | None = None
    replication: TaskReplication | None = None


class PolledTask(Polled):
    """A task (operation log) as polling sees it."""

    id: str
    status: str
    checkpoint_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    ended_at: str | None = None
    error_info: TaskError | None = None
    extra_info: TaskInfo | None = None

    @property
    def progress(self) -> int | None:
        common = self.extra_info.common if self.extra_info else None
        return common.progress if common else None


class PolledTaskPage(Polled):
    operation_logs: NullableList[PolledTask]
    count: int | None = None


class PolledBackup(Polled):
    """A backup as checkpoint polling sees it."""

    id: str
    status: str
    checkpoint_id: str | None = None
    parent_id: str | None = None
    resource_id: str | None = None
    resource_size: Number = None  # GB
    created_at: str | None = None  # newest first in a listing; stops a vault's listing early


class PolledBackupPage(Polled):
    backups: NullableList[PolledBackup]
    count: int | None = None
