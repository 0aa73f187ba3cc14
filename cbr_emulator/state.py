"""What the emulator remembers, per (region, project): vaults, checkpoints, backups, logs, policies.

Plain dataclasses; the modules named after each noun change them and render them as CBR answers.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cbr_emulator.inventory import SERVER_TYPE, VOLUME_TYPE, ProjectInventory

TURBO_TYPE = "OS::Sfs::Turbo"
BMS_TYPE = "OS::Ironic::BareMetalServer"
NATIVE_TYPE = "OS::Native::Server"
DESKTOP_TYPE = "OS::Workspace::DesktopV2"
RESOURCE_TYPES = (SERVER_TYPE, VOLUME_TYPE, BMS_TYPE, NATIVE_TYPE, TURBO_TYPE, DESKTOP_TYPE)

PROVIDER_SERVER = "0daac4c5-6707-4851-97ba-169e36266b66"
PROVIDER_DISK = "d1603440-187d-4516-af25-121250c7cc97"
PROVIDER_TURBO = "3f3c3220-245c-4805-b811-758870015881"
PROVIDER_VMWARE = "a13639de-00be-4e94-af30-26912d75e4a2"
PROVIDER_WORKSPACE = "86a80900-71bf-4961-956a-d52df944f84a"
PROVIDER_BY_TYPE = {
    SERVER_TYPE: PROVIDER_SERVER,
    BMS_TYPE: PROVIDER_SERVER,
    VOLUME_TYPE: PROVIDER_DISK,
    TURBO_TYPE: PROVIDER_TURBO,
    NATIVE_TYPE: PROVIDER_VMWARE,
    DESKTOP_TYPE: PROVIDER_WORKSPACE,
}
RESOURCE_TYPES_BY_OBJECT_TYPE: dict[str, tuple[str, ...]] = {
    "server": (SERVER_TYPE, BMS_TYPE),
    "disk": (VOLUME_TYPE,),
    "turbo": (TURBO_TYPE,),
    "workspace": (DESKTOP_TYPE,),
    "vmware": (NATIVE_TYPE,),
    "rds": (),
    "file": (),
}
PROVIDER_BY_OBJECT_TYPE = {
    "server": PROVIDER_SERVER,
    "disk": PROVIDER_DISK,
    "turbo": PROVIDER_TURBO,
    "workspace": PROVIDER_WORKSPACE,
    "vmware": PROVIDER_VMWARE,
}

BACKUP_BUSY = ("waiting_protect", "protecting")
BACKUP_RESTORING = ("waiting_restore", "restoring")
BACKUP_GOING = ("waiting_delete", "deleting")
MAX_VAULT_RESOURCES = 256
LOG_INDEXED = ("operation_type", "status", "vault_id")  # operation log fields lists filter on often
# fields of ProjectState computed from the others: not saved in a state file, rebuilt when it is loaded
DERIVED_FIELDS = ("by_vault", "by_checkpoint", "log_index")
RandomState = tuple[int, tuple[int, ...], float | None]  # random.Random.getstate()


class IdSource:
    """uuid4-shaped ids from a seeded generator, so a run is reproducible."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"ids:{seed}")

    def new(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def request_id(self) -> str:
        return f"req-{self.new()}"

    def state(self) -> RandomState:
        """Where the generator is, so that a restarted emulator goes on without reusing an id."""
        return self._rng.getstate()

    def restore(self, state: RandomState) -> None:
        self._rng.setstate(state)


@dataclass
class VaultResource:
    id: str
    type: str
    name: str
    size_gb: int
    extra_info: dict[str, Any] | None = None
    auto_protect: bool = True  # False: suspended, left out of the vault's scheduled backups


@dataclass
class Vault:
    id: str
    name: str
    project_id: str
    region: str
    object_type: str
    protect_type: str
    consistent_level: str
    size_gb: int
    created_at: datetime
    user_id: str
    cloud_type: str = "public"
    charging_mode: str = "post_paid"
    is_multi_az: bool = False
    description: str | None = None
    enterprise_project_id: str = "0"
    auto_bind: bool = False
    bind_rules: list[dict[str, str]] = field(default_factory=list)
    auto_expand: bool = False
    smn_notify: bool = True
    threshold: int = 80
    backup_name_prefix: str | None = None
    locked: bool = False
    availability_zone: str | None = None
    status: str = "available"
    resources: dict[str, VaultResource] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    backup_policy_id: str | None = None
    replication_policy_id: str | None = None
    replication_destination_vault_id: str | None = None
    order_id: str | None = None  # the last order of a pre-paid vault
    product_id: str | None = None

    @property
    def provider_id(self) -> str:
        return PROVIDER_BY_OBJECT_TYPE.get(self.object_type, PROVIDER_SERVER)

    @property
    def spec_code(self) -> str:
        if self.protect_type == "replication":
            return "vault.replication.server.normal"
        if self.cloud_type == "hybrid":
            return "vault.hybrid.server.normal"
        return {
            "disk": "vault.backup.volume.normal",
            "turbo": "vault.backup.turbo.normal",
            "rds": "vault.backup.database.normal",
        }.get(self.object_type, "vault.backup.server.normal")


@dataclass
class ReplicationRecord:
    id: str
    created_at: datetime
    source_region: str
    source_project_id: str
    source_backup_id: str
    source_checkpoint_id: str
    destination_region: str
    destination_project_id: str
    destination_vault_id: str
    vault_id: str
    auto_trigger: bool
    status: str = "waiting_replicate"
    progress: int = 0
    fail_code: str | None = None
    fail_reason: str | None = None
    destination_backup_id: str | None = None
    destination_checkpoint_id: str | None = None


@dataclass
class Member:
    id: str
    backup_id: str
    dest_project_id: str
    created_at: datetime
    status: str = "pending"
    updated_at: datetime | None = None
    vault_id: str | None = None
    image_id: str | None = None


@dataclass
class AgentPath:
    id: str
    dir_path: str
    exclude_paths: list[str] = field(default_factory=list)


@dataclass
class Agent:
    """A file-backup client registered by a host."""

    id: str
    host_name: str
    host_ip: str
    host_os: str
    created_at: datetime
    updated_at: datetime
    host_nickname: str = ""
    agent_version: str | None = None
    agent_type: str = "native"
    status: str = "normal"
    last_active_at: datetime | None = None
    paths: dict[str, AgentPath] = field(default_factory=dict)  # by dir_path


@dataclass
class Order:
    """A billing order: the emulator pays it at once."""

    id: str
    kind: str  # create_vault, change_charge_mode, change, update
    vault_ids: list[str]
    created_at: datetime
    product_id: str | None = None
    resource_size: int | None = None
    spec_code: str | None = None


@dataclass
class Backup:
    id: str
    name: str
    checkpoint_id: str
    vault_id: str
    project_id: str
    region: str
    resource_id: str
    resource_name: str
    resource_type: str
    resource_size: int
    resource_az: str
    created_at: datetime
    status: str = "waiting_protect"
    description: str | None = None
    image_type: str = "backup"
    enterprise_project_id: str = "0"
    updated_at: datetime | None = None
    protected_at: datetime | None = None
    expired_at: datetime | None = None
    parent_id: str | None = None
    children: list[Backup] = field(default_factory=list)
    auto_trigger: bool = False
    incremental: bool = False
    policy_id: str | None = None
    contain_system_disk: bool = False
    system_disk: bool = False
    bootable: bool = False
    size_mb: int = 0
    replication_records: list[ReplicationRecord] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)

    @property
    def provider_id(self) -> str:
        return PROVIDER_BY_TYPE.get(self.resource_type, PROVIDER_SERVER)

    def set_status(self, status: str, at: datetime) -> None:
        """Change this backup's status and its disk-level children's."""
        for backup in (self, *self.children):
            backup.status = status
            backup.updated_at = at


@dataclass(frozen=True)
class CheckpointResource:
    id: str
    name: str
    type: str
    size_gb: int
    extra_info: dict[str, Any] | None


@dataclass(frozen=True)
class SkippedResource:
    id: str
    type: str
    name: str
    code: str
    reason: str


@dataclass
class Checkpoint:
    id: str
    project_id: str
    vault_id: str
    vault_name: str
    created_at: datetime
    status: str = "protecting"
    name: str | None = None
    description: str | None = None
    retention_duration: int = -1
    auto_trigger: bool = False
    policy_id: str | None = None
    resources: list[CheckpointResource] = field(default_factory=list)
    skipped: list[SkippedResource] = field(default_factory=list)
    backup_ids: list[str] = field(default_factory=list)
    unfinished: int = 0  # backups of this run still waiting or running


@dataclass
class OperationLog:
    id: str
    project_id: str
    operation_type: str
    created_at: datetime
    request_id: str
    resource: dict[str, Any]
    status: str = "waiting"
    started_at: datetime | None = None
    updated_at: datetime | None = None
    ended_at: datetime | None = None
    progress: int = 0
    error_code: str = ""
    error_message: str = ""
    checkpoint_id: str | None = None
    policy_id: str | None = None
    provider_id: str | None = None
    vault_id: str | None = None
    vault_name: str | None = None
    enterprise_project_id: str = "0"
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    sequence: int = 0  # position in the project's creation order (ties of created_at keep it)


@dataclass
class Policy:
    id: str
    name: str
    operation_type: str
    enabled: bool
    operation_definition: dict[str, Any]
    pattern: list[str]
    created_at: datetime
    trigger_id: str
    start_window_minutes: int | None = None
    policy_type: str = "custom_policy"
    generation: int = 0  # bumped whenever the schedule changes, so stale timers are ignored

    @property
    def retention_days(self) -> int:
        value = self.operation_definition.get("retention_duration_days")
        return value if isinstance(value, int) else -1

    @property
    def max_backups(self) -> int:
        value = self.operation_definition.get("max_backups")
        return value if isinstance(value, int) else -1


@dataclass
class ProjectState:
    region: str
    project_id: str
    inventory: ProjectInventory
    vaults: dict[str, Vault] = field(default_factory=dict)
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    backups: dict[str, Backup] = field(default_factory=dict)  # whole-resource and disk-level backups
    op_logs: dict[str, OperationLog] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    # whole-resource backups by vault and by checkpoint; operation logs by (field, value) of LOG_INDEXED
    by_vault: dict[str, dict[str, Backup]] = field(default_factory=lambda: defaultdict(dict))
    by_checkpoint: dict[str, dict[str, Backup]] = field(default_factory=lambda: defaultdict(dict))
    log_index: dict[tuple[str, str | None], dict[str, OperationLog]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    activity: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    failed_last: set[tuple[str, str]] = field(default_factory=set)  # (vault_id, resource_id)

    def add_backup(self, backup: Backup) -> None:
        self.backups[backup.id] = backup
        for child in backup.children:
            self.backups[child.id] = child
        self.by_vault[backup.vault_id][backup.id] = backup
        self.by_checkpoint[backup.checkpoint_id][backup.id] = backup

    def drop_backup(self, backup: Backup) -> None:
        for child in backup.children:
            self.backups.pop(child.id, None)
        self.backups.pop(backup.id, None)
        self.by_vault.get(backup.vault_id, {}).pop(backup.id, None)
        self.by_checkpoint.get(backup.checkpoint_id, {}).pop(backup.id, None)

    def rebuild_indexes(self) -> None:
        """Recompute :data:`DERIVED_FIELDS` (and the defaults of the counting dicts) from the objects, and
        make each server backup's ``children`` the very disk backups of ``backups``, as when they were
        made."""
        backups, logs = dict(self.backups), sorted(self.op_logs.values(), key=lambda log: log.sequence)
        self.backups, self.op_logs = {}, {}
        self.by_vault, self.by_checkpoint = defaultdict(dict), defaultdict(dict)
        self.log_index = defaultdict(dict)
        for backup in backups.values():
            backup.children = [backups.get(child.id, child) for child in backup.children]
        for backup in backups.values():
            if backup.parent_id is None:
                self.add_backup(backup)
            else:
                self.backups[backup.id] = backup
        for log in logs:
            self.add_log(log)
        activity = self.activity
        self.activity = defaultdict(lambda: defaultdict(int))
        for resource_id, counts in activity.items():
            self.activity[resource_id].update(counts)

    def add_log(self, log: OperationLog) -> None:
        log.sequence = len(self.op_logs)
        self.op_logs[log.id] = log
        for name in LOG_INDEXED:
            self.log_index[(name, getattr(log, name))][log.id] = log

    def set_log_status(self, log: OperationLog, status: str) -> None:
        """The one way to change a log's status, so that the status index follows."""
        self.log_index[("status", log.status)].pop(log.id, None)
        log.status = status
        self.log_index[("status", status)][log.id] = log

    def logs_matching(self, wanted: dict[str, str | None]) -> Iterable[OperationLog]:
        """A superset of the logs whose indexed fields have the values ``wanted`` (None: any).

        The smallest index among the fields given, or every log when none of them is given.
        """
        chosen = [self.log_index.get((n, wanted[n]), {}) for n in LOG_INDEXED if wanted.get(n) is not None]
        return min(chosen, key=len).values() if chosen else self.op_logs.values()

    def vault_backups(self, vault_id: str) -> list[Backup]:
        return list(self.by_vault.get(vault_id, {}).values())

    def busy(self, resource_id: str, kind: str) -> bool:
        return self.activity.get(resource_id, {}).get(kind, 0) > 0

    def mark(self, resource_id: str, kind: str, delta: int) -> None:
        counts = self.activity[resource_id]
        counts[kind] = max(0, counts[kind] + delta)

    def vault_used_mb(self, vault_id: str) -> int:
        return sum(b.size_mb for b in self.vault_backups(vault_id) if b.status == "available")

    def resource_stats(self, vault_id: str) -> dict[str, tuple[int, int]]:
        """(count, stored MB) of the available backups of each resource in a vault, in one pass."""
        stats: dict[str, tuple[int, int]] = {}
        for backup in self.vault_backups(vault_id):
            if backup.status == "available":
                count, size = stats.get(backup.resource_id, (0, 0))
                stats[backup.resource_id] = (count + 1, size + backup.size_mb)
        return stats

    def protect_status(self, vault_id: str, resource_id: str) -> str:
        """``protect_status`` of a resource bound to a vault, mirroring what is happening to it."""
        if self.busy(resource_id, "restore"):
            return "restoring"
        if self.busy(resource_id, "backup"):
            return "protecting"
        return "error" if (vault_id, resource_id) in self.failed_last else "available"

    def vault_of_resource(self, resource_id: str) -> Vault | None:
        return next((v for v in self.vaults.values() if resource_id in v.resources), None)
