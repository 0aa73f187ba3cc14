"""Which backups a restore drill takes, and how a server backup's disks map onto a scratch server's."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.workflows.base import BackupListed, ServerDisk

SampleStatus = Literal["queued", "running", "succeeded", "failed", "skipped"]


class Sample(BaseModel):
    """One backup to restore, and where its drill stands with it."""

    model_config = ConfigDict(extra="forbid")

    backup_id: str
    resource_id: str
    vault_id: str
    disks: list[tuple[str, float, bool]]  # (disk backup id, size in GB, system disk)
    status: SampleStatus = "queued"
    scratch_server_id: str | None = None
    mappings: list[tuple[str, str]] = Field(default_factory=list)  # (disk backup id, scratch volume id)
    started_at: str | None = None  # ISO times (CBR's task times when it told them)
    ended_at: str | None = None
    rto_seconds: float | None = None
    error_code: str | None = None
    error_message: str | None = None


def sample_of(
    vault_id: str,
    listed: tuple[BackupListed, ...],
    per_vault: int,
    servers: set[str] | None,
    scratch: set[str],
) -> list[Sample]:
    """The vault's newest backups, one per server, ``per_vault`` of them: of ``servers`` only when given,
    never of a scratch server (restoring it onto another scratch server would prove nothing)."""
    chosen: dict[str, BackupListed] = {}
    for backup in sorted(listed, key=lambda b: b.created_at, reverse=True):
        rid = backup.resource_id
        if rid in chosen or rid in scratch or (servers is not None and rid not in servers):
            continue
        chosen[rid] = backup
        if len(chosen) == per_vault:
            break
    return [
        Sample(
            backup_id=b.backup_id,
            resource_id=b.resource_id,
            vault_id=vault_id,
            disks=[(d.backup_id, d.size_gb, d.system_disk) for d in b.disks],
        )
        for b in chosen.values()
    ]


def mappings_onto(sample: Sample, disks: list[ServerDisk]) -> list[tuple[str, str]] | None:
    """Each disk backup onto a disk of the scratch server: the system disk's onto its boot disk, data disks'
    onto its other disks in order, each at least as large; None when the server cannot take the backup."""
    boot = [d for d in disks if d.bootable]
    data = [d for d in disks if not d.bootable]
    pairs: list[tuple[str, str]] = []
    for backup_id, size_gb, system_disk in sorted(sample.disks, key=lambda d: not d[2]):
        pool = boot if system_disk else data
        if not pool or pool[0].size_gb < size_gb:
            return None
        pairs.append((backup_id, pool.pop(0).volume_id))
    return pairs or None
