"""Typed views of CBR's answers, tolerant of what the real cloud sends.

Field names are the JSON names of the SDK's models (see ``models.json``). Unknown fields are kept
(``extra="allow"``), so a newer cloud never breaks parsing; almost every field is optional because
the cloud sends ``null`` for fields its documentation calls required. ``null`` lists become ``[]``.
Sizes the cloud sends as strings in some places (``"40"`` in a checkpoint's resources) are numbers
here. Timestamps stay the strings the cloud sent (several shapes exist); :func:`parse_timestamp`
turns any of them into an aware UTC datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")


def _list_or_empty(value: object) -> object:
    return [] if value is None else value


def _list_of_strings(value: object) -> object:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


def _number(value: object) -> object:
    """``"40"`` → 40, ``"1.5"`` → 1.5, ``""`` → None; numbers pass through."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            return float(text)
    return value


def _text(value: object) -> object:
    """Numbers where the SDK says ``str`` become their text (``1`` → ``"1"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


NullableList = Annotated[list[T], BeforeValidator(_list_or_empty), Field(default_factory=list)]
"""A list the cloud may send as ``null`` or leave out."""

StringList = Annotated[list[str], BeforeValidator(_list_of_strings), Field(default_factory=list)]
"""A list of strings the cloud may send as one bare string, ``null`` or not at all."""

Number = Annotated[int | float | None, BeforeValidator(_number)]
"""A size or count sent as a number or as its text."""

Text = Annotated[str | None, BeforeValidator(_text)]
"""A string field the cloud sometimes fills with a number."""


def parse_timestamp(value: str) -> datetime:
    """Any CBR time (``2020-02-05T10:38:34.209782``, ``...Z``, ``2020-01-08 09:59:49``) in UTC."""
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class CbrModel(BaseModel):
    """Base of every answer model: keeps unknown fields, accepts field names and aliases."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class PagedAnswer(CbrModel):
    """Base of a paged list answer: the list itself is the subclass's own field."""

    count: int | None = None  # all matches, not the page size
    limit: int | None = None
    offset: int | None = None


# --- tags -------------------------------------------------------------------------------------


class Tag(CbrModel):
    key: str
    value: Text = None


class ProjectTag(CbrModel):
    """A tag key used in the project, with every value it has (``show_vault_project_tag``)."""

    key: str
    values: StringList


class VaultTags(CbrModel):
    tags: NullableList[Tag]
    sys_tags: NullableList[Tag]


# --- vaults -----------------------------------------------------------------------------------


class Billing(CbrModel):
    allocated: Number = None  # GB
    used: Number = None  # MB
    size: Number = None  # GB
    status: str | None = None
    spec_code: str | None = None
    charging_mode: str | None = None
    protect_type: str | None = None
    consistent_level: str | None = None
    object_type: str | None = None
    cloud_type: str | None = None
    order_id: str | None = None
    product_id: str | None = None
    storage_unit: str | None = None
    frozen_scene: str | None = None
    is_multi_az: bool | None = None


class IncludedVolume(CbrModel):
    id: str
    os_version: str | None = None


class ResourceExtraInfo(CbrModel):
    exclude_volumes: StringList
    include_volumes: NullableList[IncludedVolume]


class VaultResource(CbrModel):
    """A resource bound to a vault."""

    id: str
    name: str | None = None
    type: str | None = None
    protect_status: str | None = None
    size: Number = None  # GB
    backup_size: Number = None
    backup_count: Number = None
    auto_protect: bool | None = None
    extra_info: ResourceExtraInfo | None = None


class BindRules(CbrModel):
    tags: NullableList[Tag]


class Vault(CbrModel):
    """A vault as ``create_vault``, ``show_vault``, ``update_vault`` and ``list_vault`` answer it."""

    id: str
    name: str | None = None
    project_id: str | None = None
    provider_id: str | None = None
    billing: Billing | None = None
    resources: NullableList[VaultResource]
    description: str | None = None
    tags: NullableList[Tag]
    enterprise_project_id: str | None = None
    auto_bind: bool | None = None
    bind_rules: BindRules | None = None
    user_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    auto_expand: bool | None = None
    smn_notify: bool | None = None
    threshold: int | None = None
    backup_name_prefix: str | None = None
    demand_billing: bool | None = None
    cbc_delete_count: int | None = None
    frozen: bool | None = None
    locked: bool | None = None
    sys_lock_source_service: str | None = None
    availability_zone: str | None = None
    version: Text = None

    def resource_ids(self) -> list[str]:
        return [resource.id for resource in self.resources]


class VaultPage(PagedAnswer):
    vaults: NullableList[Vault]


class VaultPolicyBinding(CbrModel):
    """Answer of ``associate_vault_policy`` and ``disassociate_vault_policy``."""

    vault_id: str
    policy_id: str
    destination_vault_id: str | None = None


# --- checkpoints ------------------------------------------------------------------------------


class CheckpointResource(CbrModel):
    """A resource covered by a checkpoint; the cloud sends its sizes as strings."""

    id: str
    name: str | None = None
    type: str | None = None
    protect_status: str | None = None
    resource_size: Number = None  # GB
    backup_size: Number = None
    backup_count: Number = None
    extra_info: str | dict[str, Any] | None = None


class SkippedResource(CbrModel):
    """A resource ``create_checkpoint`` did not back up, with CBR's reason (e.g. already running)."""

    id: str | None = None
    type: str | None = None
    name: str | None = None
    code: str | None = None
    reason: str | None = None


class CheckpointVault(CbrModel):
    id: str
    name: str | None = None
    resources: NullableList[CheckpointResource]
    skipped_resources: NullableList[SkippedResource]


class CheckpointExtraInfo(CbrModel):
    name: str | None = None
    description: str | None = None
    retention_duration: int | None = None  # days, -1 = forever


class Checkpoint(CbrModel):
    """A restore point (one backup run over a vault): ``create_checkpoint``, ``show_checkpoint``."""

    id: str
    status: str
    project_id: str | None = None
    created_at: str | None = None
    vault: CheckpointVault | None = None
    extra_info: CheckpointExtraInfo | None = None

    @property
    def skipped_resources(self) -> list[SkippedResource]:
        return self.vault.skipped_resources if self.vault else []


class ReplicatedBackup(CbrModel):
    backup_id: str
    replication_record_id: str | None = None


class CheckpointReplication(CbrModel):
    """Answer of ``copy_checkpoint``: every backup of the vault queued for replication."""

    backups: NullableList[ReplicatedBackup]
    vault_id: str | None = None
    destination_project_id: str | None = None
    destination_region: str | None = None
    destination_vault_id: str | None = None
    project_id: str | None = None
    provider_id: str | None = None
    source_region: str | None = None


# --- backups ----------------------------------------------------------------------------------


class ImageData(CbrModel):
    image_id: str | None = None


class BackupExtendInfo(CbrModel):
    auto_trigger: bool | None = None
    bootable: bool | None = None
    snapshot_id: str | None = None
    support_lld: bool | None = None
    supported_restore_mode: str | None = None
    os_images_data: NullableList[ImageData]
    contain_system_disk: bool | None = None
    encrypted: bool | None = None
    system_disk: bool | None = None
    is_multi_az: bool | None = None
    progress: int | None = None
    architecture: str | None = None


class ReplicationRecordExtraInfo(CbrModel):
    progress: int | None = None
    fail_code: str | None = None
    fail_reason: str | None = None
    auto_trigger: bool | None = None
    destination_vault_id: str | None = None


class ReplicationRecord(CbrModel):
    id: str
    status: str | None = None
    created_at: str | None = None
    source_backup_id: str | None = None
    source_checkpoint_id: str | None = None
    source_project_id: str | None = None
    source_region: str | None = None
    destination_backup_id: str | None = None
    destination_checkpoint_id: str | None = None
    destination_project_id: str | None = None
    destination_region: str | None = None
    destination_vault_id: str | None = None
    vault_id: str | None = None
    extra_info: ReplicationRecordExtraInfo | None = None


class Backup(CbrModel):
    """One backup (``BackupResp``); a server backup carries its disk backups in ``children``."""

    id: str
    status: str
    name: str | None = None
    checkpoint_id: str | None = None
    vault_id: str | None = None
    project_id: str | None = None
    provider_id: str | None = None
    image_type: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    resource_az: str | None = None
    resource_size: Number = None  # GB
    created_at: str | None = None
    updated_at: str | None = None
    expired_at: str | None = None
    protected_at: str | None = None
    description: str | None = None
    parent_id: str | None = None
    extend_info: BackupExtendInfo | None = None
    children: NullableList[Backup]
    replication_records: NullableList[ReplicationRecord]
    enterprise_project_id: str | None = None
    incremental: bool | None = None
    version: int | None = None
    scheduled_operation_id: str | None = None


class BackupPage(PagedAnswer):
    backups: NullableList[Backup]


class BackupReplication(CbrModel):
    """Answer of ``copy_backup``."""

    backup_id: str | None = None
    replication_record_id: str | None = None
    destination_project_id: str | None = None
    destination_region: str | None = None
    destination_vault_id: str | None = None
    project_id: str | None = None
    provider_id: str | None = None
    source_region: str | None = None


class BackupMetadata(CbrModel):
    """Answer of ``show_metadata``: the values are JSON documents encoded as strings."""

    backup_id: str | None = None
    backups: str | None = None
    flavor: str | None = None
    interface: str | None = None
    server: str | None = None
    workspace: str | None = None
    floatingips: StringList
    ports: StringList
    volumes: StringList


# --- operation logs ---------------------------------------------------------------------------


class OpErrorInfo(CbrModel):
    code: str | None = None
    message: str | None = None


class OpCommon(CbrModel):
    progress: int | None = None  # 0-100
    request_id: str | None = None
    task_id: str | None = None


class OpResource(CbrModel):
    id: str | None = None
    type: str | None = None
    name: str | None = None
    extra_info: ResourceExtraInfo | dict[str, Any] | str | None = None


class OpBackupInfo(CbrModel):
    backup_id: str | None = None
    backup_name: str | None = None
    incremental: Text = None  # "true" / "false", a string on the wire
    app_consistency_status: Text = None
    app_consistency_error_code: Text = None
    app_consistency_error_message: str | None = None


class OpRestoreInfo(CbrModel):
    backup_id: str | None = None
    backup_name: str | None = None
    target_resource_id: str | None = None
    target_resource_name: str | None = None


class OpReplicationInfo(CbrModel):
    source_region: str | None = None
    source_project_id: str | None = None
    source_backup_id: str | None = None
    source_checkpoint_id: str | None = None
    source_backup_name: str | None = None
    destination_region: str | None = None
    destination_project_id: str | None = None
    destination_backup_id: str | None = None
    destination_checkpoint_id: str | None = None
    destination_backup_name: str | None = None


class OpDeleteInfo(CbrModel):
    backup_id: str | None = None
    backup_name: str | None = None


class OpSyncInfo(CbrModel):
    sync_backup_num: int | None = None
    delete_backup_num: int | None = None
    err_sync_backup_num: int | None = None


class OpRemoveResourcesInfo(CbrModel):
    fail_count: int | None = None
    total_count: int | None = None
    resources: NullableList[OpResource]


class OpVaultDeleteInfo(CbrModel):
    fail_count: int | None = None
    total_count: int | None = None


class OpUpdateExpirationInfo(CbrModel):
    affected_backups_count: int | None = None
    expiration_day: Text = None


class OpExtraInfo(CbrModel):
    common: OpCommon | None = None
    resource: OpResource | None = None
    backup: OpBackupInfo | None = None
    restore: OpRestoreInfo | None = None
    replication: OpReplicationInfo | None = None
    delete: OpDeleteInfo | None = None
    sync: OpSyncInfo | None = None
    remove_resources: OpRemoveResourcesInfo | None = None
    vault_delete: OpVaultDeleteInfo | None = None
    update_expiration_time: OpUpdateExpirationInfo | None = None


class OperationLog(CbrModel):
    """A task: the only completion signal CBR gives (``status`` ends in success/failed/timeout/skipped)."""

    id: str
    status: str
    operation_type: str | None = None
    project_id: str | None = None
    checkpoint_id: str | None = None
    policy_id: str | None = None
    provider_id: str | None = None
    vault_id: str | None = None
    vault_name: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    ended_at: str | None = None
    error_info: OpErrorInfo | None = None
    extra_info: OpExtraInfo | None = None

    @property
    def progress(self) -> int | None:
        common = self.extra_info.common if self.extra_info else None
        return common.progress if common else None


class OperationLogPage(PagedAnswer):
    operation_logs: NullableList[OperationLog]


# --- policies ---------------------------------------------------------------------------------


class WeeklyRetentionRules(CbrModel):
    days_of_week: StringList
    retention_duration_periods: int | None = None


class MonthlyRetentionRules(CbrModel):
    retention_type: str | None = None
    retention_weeks: StringList
    days_of_week: StringList
    days_of_month: NullableList[int]
    retention_duration_periods: int | None = None


class YearlyRetentionRules(CbrModel):
    retention_type: str | None = None
    retention_months: StringList
    retention_weeks: StringList
    days_of_month: NullableList[int]
    days_of_week: StringList
    retention_duration_periods: int | None = None


class AdvancedRetentionRules(CbrModel):
    weekly_retention_rules: WeeklyRetentionRules | None = None
    monthly_retention_rules: MonthlyRetentionRules | None = None
    yearly_retention_rules: YearlyRetentionRules | None = None


class OperationDefinition(CbrModel):
    """Retention (and for replication policies, destination) settings of a policy."""

    retention_duration_days: int | None = None
    max_backups: int | None = None
    day_backups: int | None = None
    week_backups: int | None = None
    month_backups: int | None = None
    year_backups: int | None = None
    timezone: str | None = None
    full_backup_interval: int | None = None
    destination_region: str | None = None
    destination_project_id: str | None = None
    enable_acceleration: bool | None = None
    cross_account_urn: str | None = None
    advanced_retention_rules: AdvancedRetentionRules | None = None


class TriggerProperties(CbrModel):
    pattern: StringList  # RFC 5545 RRULEs, UTC
    start_time: str | None = None  # "2020-01-08 09:59:49"
    start_window_minutes: int | None = None


class PolicyTrigger(CbrModel):
    id: str | None = None
    name: str | None = None
    type: str | None = None
    properties: TriggerProperties | None = None


class PolicyVault(CbrModel):
    vault_id: str
    destination_vault_id: str | None = None


class Policy(CbrModel):
    id: str
    name: str | None = None
    enabled: bool | None = None
    operation_type: str | None = None
    operation_definition: OperationDefinition | None = None
    trigger: PolicyTrigger | None = None
    associated_vaults: NullableList[PolicyVault]
    policy_type: str | None = None


class PolicyList(CbrModel):
    policies: NullableList[Policy]
    count: int | None = None


# --- backup sharing ---------------------------------------------------------------------------


class Member(CbrModel):
    """A project a backup is shared with; ``dest_project_id`` is also the member id in paths."""

    status: str
    id: str | None = None
    backup_id: str | None = None
    dest_project_id: str | None = None
    vault_id: str | None = None
    image_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class MemberPage(CbrModel):
    members: NullableList[Member]
    count: int | None = None


# --- protectables, capabilities, usage --------------------------------------------------------


class ProtectableResult(CbrModel):
    result: bool | None = None
    code: str | None = None
    reason: str | None = None
    message: str | None = None
    vault: Vault | None = None  # the vault the resource is already bound to


class Protectable(CbrModel):
    """A server, disk or file system that can be bound to a vault."""

    id: str
    name: str | None = None
    type: str | None = None
    status: str | None = None
    size: Number = None  # GB
    children: NullableList[dict[str, Any]]
    protectable: ProtectableResult | None = None
    detail: dict[str, Any] | None = None


class ProtectableList(CbrModel):
    instances: NullableList[Protectable]


class ReplicationRegion(CbrModel):
    name: str
    replication_destinations: StringList


class ReplicationCapabilities(CbrModel):
    regions: NullableList[ReplicationRegion]


class StorageUsage(CbrModel):
    resource_id: str
    resource_name: str | None = None
    resource_type: str | None = None
    backup_count: Number = None
    backup_size: Number = None
    backup_size_multiaz: Number = None


class StorageUsagePage(CbrModel):
    resource_count: int | None = None
    storage_usage: NullableList[StorageUsage]


# --- small envelopes --------------------------------------------------------------------------


class AddedResources(CbrModel):
    add_resource_ids: StringList


class RemovedResources(CbrModel):
    remove_resource_ids: StringList


class ProjectTagList(CbrModel):
    tags: NullableList[ProjectTag]
