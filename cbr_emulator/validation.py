"""Request bodies and query strings, checked before anything changes.

Bodies are pydantic models in strict mode (a string is not a number, a number is not a boolean) that
refuse unknown fields, as CBR's own schema validation does. Every failure becomes
``BackupService.9900`` with a message naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cbr_emulator.clock import parse_filter_time
from cbr_emulator.errors import CbrError

NAME_PATTERN = r"^[\u4E00-\u9FA5\uf900-\ufa2da-zA-Z0-9_\-]*$"
NO_ANGLES = r"^[^<>]*$"
REGION_PATTERN = r"^[a-zA-Z0-9._\-]*$"
TAG_KEY = re.compile(r"^[\u4E00-\u9FA5a-zA-Z0-9_\-]{1,36}$")
TAG_VALUE = re.compile(r"^[\u4E00-\u9FA5a-zA-Z0-9_.\-]{0,43}$")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

ResourceType = Literal[
    "OS::Nova::Server",
    "OS::Cinder::Volume",
    "OS::Ironic::BareMetalServer",
    "OS::Native::Server",
    "OS::Sfs::Turbo",
    "OS::Workspace::DesktopV2",
]
ObjectType = Literal["server", "disk", "turbo", "workspace", "vmware", "rds", "file"]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Id = Annotated[str, Field(min_length=1, max_length=128)]
Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def check_tag_key(key: str) -> str:
    key = key.strip()
    if not TAG_KEY.fullmatch(key):
        raise ValueError("a tag key has 1-36 characters: letters, digits, CJK, '_' or '-'")
    return key


def check_tag_value(value: str) -> str:
    value = value.strip()
    if not TAG_VALUE.fullmatch(value):
        raise ValueError("a tag value has 0-43 characters: letters, digits, CJK, '_', '.' or '-'")
    return value


# --- shared pieces -------------------------------------------------------------------------------


class IncludeVolume(Body):
    id: Id
    os_version: str | None = None


class ResourceExtraInfo(Body):
    exclude_volumes: list[str] | None = None
    include_volumes: list[IncludeVolume] | None = None


class ResourceIn(Body):
    id: Id
    type: ResourceType
    name: Annotated[str, Field(max_length=255)] | None = None
    extra_info: ResourceExtraInfo | None = None


class TagIn(Body):
    key: str
    value: str

    _key = field_validator("key")(check_tag_key)
    _value = field_validator("value")(check_tag_value)


class BindRules(Body):
    tags: Annotated[list[TagIn], Field(max_length=5)] | None = None


# --- vaults --------------------------------------------------------------------------------------


class BillingCreate(Body):
    object_type: ObjectType
    protect_type: Literal["backup", "replication"]
    consistent_level: Literal["crash_consistent", "app_consistent"]
    size: Annotated[int, Field(ge=10, le=10_485_760)]
    cloud_type: Literal["public", "hybrid"] | None = None
    charging_mode: Literal["post_paid", "pre_paid"] | None = None
    period_type: Literal["year", "month"] | None = None
    period_num: Annotated[int, Field(ge=1, le=9)] | None = None
    is_auto_renew: bool | None = None
    is_auto_pay: bool | None = None
    console_url: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    is_multi_az: bool | None = None

    @model_validator(mode="after")
    def _coherent(self) -> BillingCreate:
        if self.charging_mode == "pre_paid" and (self.period_type is None or self.period_num is None):
            raise ValueError("a pre_paid vault needs period_type and period_num")
        if self.protect_type == "replication" and self.object_type != "server":
            raise ValueError("replication vaults hold cloud server backups only (object_type server)")
        if self.consistent_level == "app_consistent" and self.object_type != "server":
            raise ValueError("app_consistent applies to server vaults only")
        return self


class VaultCreate(Body):
    name: Name
    billing: BillingCreate
    resources: Annotated[list[ResourceIn], Field(max_length=255)]
    description: Annotated[str, Field(max_length=64, pattern=NO_ANGLES)] | None = None
    backup_policy_id: str | None = None
    tags: Annotated[list[TagIn], Field(max_length=10)] | None = None
    enterprise_project_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    auto_bind: bool | None = None
    bind_rules: BindRules | None = None
    auto_expand: bool | None = None
    threshold: Annotated[int, Field(ge=1, le=100)] | None = None
    smn_notify: bool | None = None
    backup_name_prefix: Annotated[str, Field(max_length=32, pattern=NAME_PATTERN)] | None = None
    demand_billing: bool | None = None
    sys_lock_source_service: str | None = None
    locked: bool | None = None
    availability_zone: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class VaultCreateReq(Body):
    vault: VaultCreate


class BillingUpdate(Body):
    consistent_level: Literal["crash_consistent", "app_consistent"] | None = None
    size: Annotated[int, Field(ge=1, le=10_485_760)] | None = None


class VaultUpdate(Body):
    name: Name | None = None
    billing: BillingUpdate | None = None
    auto_bind: bool | None = None
    bind_rules: BindRules | None = None
    auto_expand: bool | None = None
    smn_notify: bool | None = None
    threshold: Annotated[int, Field(ge=1, le=100)] | None = None
    locked: bool | None = None


class VaultUpdateReq(Body):
    vault: VaultUpdate


class VaultAddResourceReq(Body):
    resources: Annotated[list[ResourceIn], Field(min_length=1, max_length=256)]


class VaultRemoveResourceReq(Body):
    resource_ids: Annotated[list[Id], Field(min_length=1, max_length=256)]


class VaultAssociate(Body):
    policy_id: Id | None = None
    add_policy_ids: Annotated[list[Id], Field(min_length=1, max_length=2)] | None = None
    destination_vault_id: Id | None = None

    @model_validator(mode="after")
    def _one_way(self) -> VaultAssociate:
        if (self.policy_id is None) == (self.add_policy_ids is None):
            raise ValueError("give exactly one of policy_id and add_policy_ids")
        return self

    @property
    def policy_ids(self) -> list[str]:
        return [self.policy_id] if self.policy_id else list(self.add_policy_ids or [])


class VaultDissociate(Body):
    policy_id: Id


# --- checkpoints and backups ---------------------------------------------------------------------


class CheckpointParam(Body):
    auto_trigger: bool | None = None
    description: Annotated[str, Field(max_length=255, pattern=NO_ANGLES)] | None = None
    incremental: bool | None = None
    name: Name | None = None
    resources: Annotated[list[Id], Field(max_length=256)] | None = None
    resource_details: Annotated[list[ResourceIn], Field(max_length=256)] | None = None
    policy_id: Id | None = None
    retention_duration_days: int | None = None

    @field_validator("retention_duration_days")
    @classmethod
    def _retention(cls, value: int | None) -> int | None:
        if value is not None and value != -1 and not 1 <= value <= 36500:
            raise ValueError("retention_duration_days is 1-36500, or -1 to keep the backup forever")
        return value


class VaultBackup(Body):
    vault_id: Id
    parameters: CheckpointParam | None = None


class VaultBackupReq(Body):
    checkpoint: VaultBackup


class CheckpointReplicateParam(Body):
    vault_id: Id
    destination_project_id: Id
    destination_region: Annotated[str, Field(min_length=1, max_length=255, pattern=REGION_PATTERN)]
    destination_vault_id: Id
    auto_trigger: bool | None = None
    enable_acceleration: bool | None = None
    cross_account_urn: str | None = None


class CheckpointReplicateReq(Body):
    replicate: CheckpointReplicateParam


class BackupReplicate(Body):
    destination_project_id: Id
    destination_region: Annotated[str, Field(min_length=1, max_length=255, pattern=REGION_PATTERN)]
    destination_vault_id: Id
    name: Name | None = None
    description: Annotated[str, Field(max_length=255, pattern=NO_ANGLES)] | None = None
    enable_acceleration: bool | None = None
    cross_account_urn: str | None = None


class BackupReplicateReq(Body):
    replicate: BackupReplicate


class RestoreMapping(Body):
    backup_id: Id
    volume_id: Id


class RestoreDetails(Body):
    destination_path: Annotated[str, Field(min_length=1, max_length=255)]


class BackupRestore(Body):
    mappings: Annotated[list[RestoreMapping], Field(min_length=1)] | None = None
    power_on: bool | None = None
    server_id: Id | None = None
    volume_id: Id | None = None
    resource_id: Id | None = None
    details: RestoreDetails | None = None


class BackupRestoreReq(Body):
    restore: BackupRestore


class BackupUpdate(Body):
    name: Name | None = None


class BackupUpdateReq(Body):
    backup: BackupUpdate | None = None


# --- policies ------------------------------------------------------------------------------------


def _periods(value: int | None, most: int) -> int | None:
    if value is not None and value != -1 and not 1 <= value <= most:
        raise ValueError(f"retention_duration_periods is 1-{most}, or -1")
    return value


class WeeklyRule(Body):
    days_of_week: list[Weekday] | None = None
    retention_duration_periods: int | None = None

    @field_validator("retention_duration_periods")
    @classmethod
    def _check(cls, value: int | None) -> int | None:
        return _periods(value, 5200)


class MonthlyRule(Body):
    retention_type: Literal["Weekly", "Monthly"] | None = None
    retention_weeks: list[str] | None = None
    days_of_week: list[Weekday] | None = None
    days_of_month: list[int] | None = None
    retention_duration_periods: int | None = None

    @field_validator("retention_duration_periods")
    @classmethod
    def _check(cls, value: int | None) -> int | None:
        return _periods(value, 1200)

    @field_validator("days_of_month")
    @classmethod
    def _days(cls, value: list[int] | None) -> list[int] | None:
        if value and any(day != -1 and not 1 <= day <= 28 for day in value):
            raise ValueError("days_of_month are 1-28, or -1 for the last day")
        return value


class YearlyRule(MonthlyRule):
    retention_months: list[str] | None = None

    @field_validator("retention_duration_periods")
    @classmethod
    def _check(cls, value: int | None) -> int | None:
        return _periods(value, 100)


class AdvancedRetention(Body):
    weekly_retention_rules: WeeklyRule | None = None
    monthly_retention_rules: MonthlyRule | None = None
    yearly_retention_rules: YearlyRule | None = None


Count100 = Annotated[int, Field(ge=0, le=100)]


_UTC_OFFSET = re.compile(r"UTC([+-])(\d{2}):(\d{2})")
_EARLIEST_OFFSET, _LATEST_OFFSET = -12 * 60, 14 * 60  # minutes: the offsets in use on Earth


def utc_offset(text: str) -> str:
    """``UTC+08:00``: a sign, hours and minutes, between UTC-12:00 and UTC+14:00."""
    match = _UTC_OFFSET.fullmatch(text)
    if match is None:
        raise ValueError("must be UTC+HH:MM or UTC-HH:MM, such as UTC+08:00")
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    offset = (1 if sign == "+" else -1) * (hours * 60 + minutes)
    if minutes > 59 or not _EARLIEST_OFFSET <= offset <= _LATEST_OFFSET:
        raise ValueError("must be an offset between UTC-12:00 and UTC+14:00")
    return text


class OperationDefinition(Body):
    retention_duration_days: int | None = None
    max_backups: int | None = None
    day_backups: Count100 | None = None
    week_backups: Count100 | None = None
    month_backups: Count100 | None = None
    year_backups: Count100 | None = None
    timezone: Annotated[str, AfterValidator(utc_offset)] | None = None
    full_backup_interval: Annotated[int, Field(ge=-1, le=100)] | None = None
    destination_region: Annotated[str, Field(min_length=1, max_length=255, pattern=REGION_PATTERN)] | None = (
        None
    )
    destination_project_id: Id | None = None
    enable_acceleration: bool | None = None
    cross_account_urn: str | None = None
    advanced_retention_rules: AdvancedRetention | None = None

    @field_validator("retention_duration_days", "max_backups")
    @classmethod
    def _limit(cls, value: int | None) -> int | None:
        if value is not None and value != -1 and not 1 <= value <= 99999:
            raise ValueError("must be 1-99999, or -1 for no limit")
        return value

    @model_validator(mode="after")
    def _zone(self) -> OperationDefinition:
        long_term = (self.day_backups, self.week_backups, self.month_backups, self.year_backups)
        if any(count for count in long_term) and self.timezone is None:
            raise ValueError("day/week/month/year_backups need a timezone such as UTC+08:00")
        return self


class TriggerProperties(Body):
    pattern: Annotated[list[str], Field(min_length=1, max_length=24)]
    start_window_minutes: Annotated[int, Field(ge=60, le=480)] | None = None


class Trigger(Body):
    properties: TriggerProperties


class PolicyCreate(Body):
    name: Name
    operation_type: Literal["backup", "replication"]
    trigger: Trigger
    operation_definition: OperationDefinition
    enabled: bool | None = None

    @model_validator(mode="after")
    def _destination(self) -> PolicyCreate:
        definition = self.operation_definition
        if self.operation_type == "replication" and not (
            definition.destination_region and definition.destination_project_id
        ):
            raise ValueError("a replication policy needs destination_region and destination_project_id")
        return self


class PolicyCreateReq(Body):
    policy: PolicyCreate


class PolicyUpdate(Body):
    name: Name | None = None
    enabled: bool | None = None
    operation_definition: OperationDefinition | None = None
    trigger: Trigger | None = None


class PolicyUpdateReq(Body):
    policy: PolicyUpdate


# --- tags ----------------------------------------------------------------------------------------


class VaultTagsCreateReq(Body):
    tag: TagIn


class BulkTag(Body):
    key: str
    value: str | None = None

    _key = field_validator("key")(check_tag_key)

    @field_validator("value")
    @classmethod
    def _value(cls, value: str | None) -> str | None:
        return None if value is None else check_tag_value(value)


class SysTag(Body):
    key: str
    value: str


class BulkTagsReq(Body):
    action: Literal["create", "delete"]
    tags: Annotated[list[BulkTag], Field(max_length=10)] | None = None
    sys_tags: list[SysTag] | None = None


class TagFilter(Body):
    key: str
    values: list[str]

    _key = field_validator("key")(check_tag_key)


class SysTagFilter(Body):
    key: str
    values: list[str]


class NameMatch(Body):
    key: Literal["resource_name"]
    value: str


TagFilters = Annotated[list[TagFilter], Field(max_length=10)]


class ResourceInstancesReq(Body):
    action: Literal["filter", "count"]
    without_any_tag: bool | None = None
    tags: TagFilters | None = None
    tags_any: TagFilters | None = None
    not_tags: TagFilters | None = None
    not_tags_any: TagFilters | None = None
    sys_tags: list[SysTagFilter] | None = None
    matches: Annotated[list[NameMatch], Field(max_length=1)] | None = None
    limit: Annotated[str, Field(pattern=r"^\d{1,4}$")] | None = None
    offset: Annotated[str, Field(pattern=r"^\d{1,9}$")] | None = None
    cloud_type: Literal["public", "hybrid"] | None = None
    object_type: ObjectType | None = None

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: str | None) -> str | None:
        if value is not None and not 1 <= int(value) <= 1000:
            raise ValueError("limit is 1-1000")
        return value


# --- members -------------------------------------------------------------------------------------


class AddMembersReq(Body):
    members: Annotated[list[str], Field(min_length=1, max_length=10)]
    domains: list[str] | None = None


class UpdateMember(Body):
    status: Literal["accepted", "pending", "rejected"]
    vault_id: Id | None = None


# --- parsing -------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: Any) -> M:
    """Validate a JSON body against ``model`` or raise ``BackupService.9900``."""
    if not isinstance(body, dict):
        raise CbrError.of("9900", "The request body must be a JSON object.")
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise CbrError.of("9900", describe_errors(error)) from None


def describe_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(step) for step in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


class Query:
    """Typed access to a request's query parameters; a malformed value is ``BackupService.9900``."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def text(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[-1] if values else None

    def texts(self, name: str) -> list[str]:
        """Every value of a repeatable parameter, comma-separated lists split."""
        return [part for value in self._values.get(name, []) for part in value.split(",") if part]

    def integer(
        self, name: str, default: int | None = None, low: int | None = None, high: int | None = None
    ) -> int | None:
        text = self.text(name)
        if text is None or text == "":
            return default
        if not re.fullmatch(r"-?\d{1,12}", text.strip()):
            raise CbrError.of("9900", f"Query parameter {name} must be an integer.")
        value = int(text)
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{low if low is not None else '-inf'}-{high if high is not None else 'inf'}"
            raise CbrError.of("9900", f"Query parameter {name} must be in the range {bounds}.")
        return value

    def number(self, name: str, default: int, low: int | None = None, high: int | None = None) -> int:
        value = self.integer(name, default, low, high)
        return default if value is None else value

    def boolean(self, name: str, default: bool = False) -> bool:
        text = self.text(name)
        if text is None or text == "":
            return default
        if text.lower() not in ("true", "false"):
            raise CbrError.of("9900", f"Query parameter {name} must be true or false.")
        return text.lower() == "true"

    def choice(self, name: str, allowed: Sequence[str]) -> str | None:
        text = self.text(name)
        if text is None or text == "":
            return None
        if text not in allowed:
            raise CbrError.of("9900", f"Query parameter {name} must be one of: {', '.join(allowed)}.")
        return text

    def choices(self, name: str, allowed: Sequence[str]) -> list[str]:
        values = self.texts(name)
        wrong = [value for value in values if value not in allowed]
        if wrong:
            raise CbrError.of("9900", f"Query parameter {name} must be one of: {', '.join(allowed)}.")
        return values

    def time(self, name: str) -> datetime | None:
        text = self.text(name)
        if text is None or text == "":
            return None
        moment = parse_filter_time(text)
        if moment is None:
            raise CbrError.of("9900", f"Query parameter {name} must look like 2018-02-01T12:00:00Z.")
        return moment


def parse_sort(text: str | None, keys: Sequence[str]) -> list[tuple[str, bool]]:
    """``key[:asc|desc],…`` → [(key, descending)]; a key without a direction sorts descending."""
    if not text:
        return []
    if len(text) > 255:
        raise CbrError.of("9900", "Query parameter sort is longer than 255 characters.")
    order: list[tuple[str, bool]] = []
    for item in text.split(","):
        key, _, direction = item.strip().partition(":")
        if key not in keys or direction not in ("", "asc", "desc"):
            raise CbrError.of(
                "9900", f"Invalid sort item {item!r}; keys: {', '.join(keys)}; directions asc, desc."
            )
        order.append((key, direction != "asc"))
    return order
