"""Request bodies of the CBR calls, as typed models that serialise like the SDK does.

Each model is the *inside* of the body (the client wraps it in ``{"vault": ...}``, ``{"checkpoint":
...}`` and so on). ``None`` fields are left out of the JSON, field order is the declared order, and
unknown fields are refused so that a typo fails here rather than at the cloud.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.cbr.limits import CREATE_VAULT_MAX_RESOURCES, NAME_MAX_LENGTH
from orchestrator.cbr.models import OperationDefinition


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict, ``None`` fields dropped (as the SDK does)."""
        return self.model_dump(mode="json", exclude_none=True)


def drop_none(document: dict[str, Any]) -> dict[str, Any]:
    """A small dict body built by hand, ``None`` values dropped like the SDK drops them."""
    return {key: value for key, value in document.items() if value is not None}


# --- vaults -----------------------------------------------------------------------------------


class BillingCreate(RequestBody):
    object_type: str  # server, disk, turbo, workspace, vmware, rds, file
    protect_type: str = "backup"  # backup or replication
    consistent_level: str = "crash_consistent"
    size: int = Field(ge=1)  # GB
    cloud_type: str | None = None
    charging_mode: str | None = None
    period_type: str | None = None
    period_num: int | None = None
    is_auto_renew: bool | None = None
    is_auto_pay: bool | None = None
    console_url: str | None = None
    is_multi_az: bool | None = None


class IncludeVolume(RequestBody):
    id: str
    os_version: str | None = None


class ResourceExtraInfoInput(RequestBody):
    exclude_volumes: list[str] | None = None
    include_volumes: list[IncludeVolume] | None = None


class ResourceRef(RequestBody):
    """A resource to bind to a vault or to back up (``ResourceCreate`` / ``Resource``)."""

    id: str
    type: str  # OS::Nova::Server, OS::Cinder::Volume, ...
    name: str | None = None
    extra_info: ResourceExtraInfoInput | None = None


class TagInput(RequestBody):
    key: str
    value: str


class BindRulesInput(RequestBody):
    tags: list[TagInput]


class VaultCreate(RequestBody):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    billing: BillingCreate
    resources: list[ResourceRef] = Field(default_factory=list, max_length=CREATE_VAULT_MAX_RESOURCES)
    description: str | None = None
    backup_policy_id: str | None = None
    tags: list[TagInput] | None = None
    enterprise_project_id: str | None = None
    auto_bind: bool | None = None
    bind_rules: BindRulesInput | None = None
    auto_expand: bool | None = None
    threshold: int | None = None
    smn_notify: bool | None = None
    backup_name_prefix: str | None = None
    demand_billing: bool | None = None
    sys_lock_source_service: str | None = None
    locked: bool | None = None
    availability_zone: str | None = None


class BillingUpdate(RequestBody):
    size: int | None = None
    consistent_level: str | None = None


class VaultUpdate(RequestBody):
    name: str | None = None
    billing: BillingUpdate | None = None
    auto_bind: bool | None = None
    bind_rules: BindRulesInput | None = None
    auto_expand: bool | None = None
    smn_notify: bool | None = None
    threshold: int | None = None
    locked: bool | None = None


# --- checkpoints and backups ------------------------------------------------------------------


class CheckpointParameters(RequestBody):
    """What to back up: ``resources`` must already be bound to the vault; all fields optional."""

    resources: list[str] | None = None
    resource_details: list[ResourceRef] | None = None
    name: str | None = None
    description: str | None = None
    incremental: bool | None = None
    auto_trigger: bool | None = None
    policy_id: str | None = None
    retention_duration_days: int | None = None


class CheckpointReplicate(RequestBody):
    """Replicate every backup held in ``vault_id`` to a vault in another region."""

    vault_id: str
    destination_project_id: str
    destination_region: str
    destination_vault_id: str
    auto_trigger: bool | None = None
    enable_acceleration: bool | None = None
    cross_account_urn: str | None = None


class BackupReplicate(RequestBody):
    destination_project_id: str
    destination_region: str
    destination_vault_id: str
    name: str | None = None
    description: str | None = None
    enable_acceleration: bool | None = None
    cross_account_urn: str | None = None


class RestoreMapping(RequestBody):
    backup_id: str  # disk-level backup (from the server backup's children)
    volume_id: str  # target disk


class RestoreDetails(RequestBody):
    destination_path: str


class BackupRestore(RequestBody):
    """Whole server: ``server_id`` + ``mappings``; one disk: ``volume_id``; others: ``resource_id``."""

    server_id: str | None = None
    mappings: list[RestoreMapping] | None = None
    volume_id: str | None = None
    power_on: bool | None = None
    resource_id: str | None = None
    details: RestoreDetails | None = None


# --- policies ---------------------------------------------------------------------------------


class TriggerPropertiesInput(RequestBody):
    pattern: list[str] = Field(min_length=1, max_length=24)
    start_window_minutes: int | None = None


class TriggerInput(RequestBody):
    properties: TriggerPropertiesInput


class PolicyCreate(RequestBody):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    operation_type: Literal["backup", "replication"] = "backup"
    trigger: TriggerInput
    operation_definition: OperationDefinition
    enabled: bool | None = None


class PolicyUpdate(RequestBody):
    name: str | None = None
    enabled: bool | None = None
    operation_definition: OperationDefinition | None = None
    trigger: TriggerInput | None = None


# --- tags and members -------------------------------------------------------------------------


class TagChange(RequestBody):
    """An entry of a batch tag request: ``value`` is needed to create, optional to delete."""

    key: str
    value: str | None = None


MemberStatus = Literal["accepted", "rejected", "pending"]
TagAction = Literal["create", "delete"]
