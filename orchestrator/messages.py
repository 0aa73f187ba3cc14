"""Commands the orchestrator accepts and events it emits, as versioned pydantic schemas.

Commands forbid unknown fields and never carry secrets: the credentials of a project come from
configuration. Events follow CloudEvents 1.0 (structured JSON mode).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from orchestrator.cbr.limits import (
    NAME_MAX_LENGTH,
    VAULT_DESCRIPTION_MAX_LENGTH,
    VAULT_MAX_GB,
    VAULT_MAX_RESOURCES,
    VAULT_MIN_GB,
)

COMMAND_VERSION = 1
WORKFLOW_NAMESPACE = uuid.UUID("6f1c0b8e-8f4e-4a57-9a43-2f1d2c6b7c10")
CANCELLED = "orchestrator.cancelled"  # the error code of a workflow that ended cancelled
WINDOW_CLOSED = "orchestrator.window_closed"  # a backup's resource not started before its deadline


def workflow_id_for(command_id: str) -> uuid.UUID:
    """The workflow id of a command: the same command id always names the same workflow."""
    return uuid.uuid5(WORKFLOW_NAMESPACE, command_id)


EVENT_SOURCE = "urn:cbr-orchestrator"
EVENT_TYPE_PREFIX = "io.cbr-orchestrator.workflow"

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
ProjectId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Region = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z0-9-]+$")]
AMQP_SHORT_STRING_BYTES = 255
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def amqp_short_string(value: str) -> str:
    """AMQP carries ``reply_to`` and ``correlation_id`` as short strings: at most 255 bytes."""
    if len(value.encode("utf-8")) > AMQP_SHORT_STRING_BYTES:
        raise ValueError(f"at most {AMQP_SHORT_STRING_BYTES} UTF-8 bytes")
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("no control characters")
    return value


AmqpShortString = Annotated[str, Field(max_length=AMQP_SHORT_STRING_BYTES), AfterValidator(amqp_short_string)]
CALLBACK_URL_MAX_CHARS = 2048


def callback_url(value: str) -> str:
    """An absolute http(s) URL naming a host, without credentials (they would be stored and logged)."""
    if _CONTROL_CHARACTERS.search(value) or " " in value:
        raise ValueError("no spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("an http or https URL naming a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("no user or password in the URL")
    return value


def callback_host(url: str) -> str:
    """The host a valid callback URL names, as the allow-list compares it."""
    return urlsplit(url).hostname or ""


CallbackUrl = Annotated[str, Field(max_length=CALLBACK_URL_MAX_CHARS), AfterValidator(callback_url)]
ResourceType = Literal[
    "OS::Nova::Server",
    "OS::Cinder::Volume",
    "OS::Ironic::BareMetalServer",
    "OS::Sfs::Turbo",
    "OS::Workspace::DesktopV2",
]


class InvalidCommand(Exception):
    """A message that is not a command we accept; ``reason`` is safe to put in a dead-letter header.
    ``command_id``: the message's command id, when it named a well-formed one (a refusal is recorded
    under it). ``fields``: each invalid field's location and message (never its value), when the
    command was JSON of the wrong shape."""

    def __init__(
        self, reason: str, command_id: str | None = None, fields: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.command_id = command_id
        self.fields = list(fields)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CommandBase(_Strict):
    version: Literal[1] = 1
    command_id: Id = Field(description="Idempotency key: a command id yields at most one workflow.")
    project_id: ProjectId
    region: Region
    deadline: AwareDatetime | None = Field(
        default=None, description="When given, an unfinished workflow ends as 'expired' at this time."
    )
    reply_to: AmqpShortString | None = Field(
        default=None, min_length=1, description="A queue for the final event (at most 255 UTF-8 bytes)."
    )
    correlation_id: AmqpShortString | None = None
    callback_url: CallbackUrl | None = Field(
        default=None,
        description="An http(s) URL the final event is POSTed to, signed (Standard Webhooks); its host must "
        "be on the orchestrator's allow-list.",
    )


class VaultSpec(_Strict):
    """How to create the vault when a backup names a vault that does not exist."""

    object_type: Literal["server", "disk", "turbo"] = "server"
    size_gb: int = Field(default=100, ge=VAULT_MIN_GB, le=VAULT_MAX_GB)
    consistent_level: Literal["crash_consistent", "app_consistent"] = "crash_consistent"
    description: str | None = Field(default=None, max_length=VAULT_DESCRIPTION_MAX_LENGTH)
    exclusive: bool = Field(
        default=False,
        description=(
            "No other command creates a vault of this name (a fleet's own vault): it is created without "
            "being looked for first; a create whose outcome is unknown is still looked for."
        ),
    )


class VaultRef(_Strict):
    id: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    create: VaultSpec | None = Field(default=None, description="Create the vault by name when missing.")

    @model_validator(mode="after")
    def _exactly_one(self) -> VaultRef:
        if (self.id is None) == (self.name is None):
            raise ValueError("give exactly one of vault id or vault name")
        if self.create is not None and self.name is None:
            raise ValueError("create needs a vault name")
        return self


class ResourceRef(_Strict):
    id: Id
    type: ResourceType = "OS::Nova::Server"


PROJECT_TASKS = 200  # a fleet's default cap of backup tasks running at once per project
MAX_PROJECT_TASKS = 10_000


class Admission(_Strict):
    """Limits a backup waits for before it starts (a fleet sets them on its children)."""

    project_tasks: int | None = Field(
        default=None,
        ge=1,
        le=MAX_PROJECT_TASKS,
        validation_alias=AliasChoices("project_tasks", "project_concurrency"),
        description="Backup tasks (one per resource) of capped backups running at once in the project, "
        "the unit of CBR's per-project capacity. A backup with more resources than this starts only when "
        "no other holds any (then it runs alone). Old name: project_concurrency.",
    )
    vault_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=VAULT_MAX_RESOURCES,
        description="Backups (checkpoints) of this kind at once in the vault.",
    )
    start_by: AwareDatetime | None = Field(
        default=None, description="Not started by then: the backup ends 'expired', its resources skipped."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_name(cls, data: Any) -> Any:
        return _one_of_names(data, "project_tasks", "project_concurrency")


def _one_of_names(data: Any, name: str, old: str) -> Any:
    """A field renamed: either name is read, both at once is refused (which one would be meant?)."""
    if isinstance(data, dict) and name in data and old in data:
        raise ValueError(f"give {name} (its old name: {old}), not both")
    return data


class BackupCommand(_CommandBase):
    kind: Literal["backup"] = "backup"
    vault: VaultRef
    resources: list[ResourceRef] = Field(min_length=1, max_length=VAULT_MAX_RESOURCES)
    incremental: bool = True
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=128)
    admission: Admission | None = None

    @model_validator(mode="after")
    def _distinct_resources(self) -> BackupCommand:
        ids = [r.id for r in self.resources]
        if len(ids) != len(set(ids)):
            raise ValueError("resources must be distinct")
        return self


class DiskMapping(_Strict):
    backup_id: Id = Field(description="Disk-level backup id (a child of the server backup).")
    volume_id: Id = Field(description="Target disk.")


class RestoreCommand(_CommandBase):
    kind: Literal["restore"] = "restore"
    backup_id: Id
    server_id: Id | None = None
    volume_id: Id | None = None
    mappings: list[DiskMapping] = Field(default_factory=list, max_length=64)
    power_on: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> RestoreCommand:
        if (self.server_id is None) == (self.volume_id is None):
            raise ValueError("give exactly one of server_id or volume_id")
        if self.volume_id is not None and self.mappings:
            raise ValueError("mappings apply to a server restore only")
        return self

    @property
    def target_id(self) -> str:
        return self.server_id or self.volume_id or ""


class ReplicateCommand(_CommandBase):
    kind: Literal["replicate"] = "replicate"
    backup_id: Id
    destination_region: Region
    destination_project_id: ProjectId
    destination_vault_id: Id


MAX_FLEET_RESOURCES = 100_000


class ProjectRegion(_Strict):
    project_id: ProjectId
    region: Region


FLEET_PROJECTS_MAX = 100  # projects a fleet selects by protectables, at most: its report has one line each


class ProtectableSelector(_Strict):
    """Every protectable resource of the given types in the given projects (default: the command's)."""

    types: list[Literal["server", "disk", "turbo"]] = Field(min_length=1, max_length=3)
    projects: list[ProjectRegion] = Field(default_factory=list, max_length=FLEET_PROJECTS_MAX)


class FleetSelector(_Strict):
    """Exactly one of: an explicit list, protectables by type, or all resources of given vaults."""

    resources: list[ResourceRef] | None = Field(default=None, min_length=1, max_length=MAX_FLEET_RESOURCES)
    protectables: ProtectableSelector | None = None
    vaults: list[Id] | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _exactly_one(self) -> FleetSelector:
        given = [x for x in (self.resources, self.protectables, self.vaults) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of resources, protectables or vaults")
        if self.resources is not None and len({r.id for r in self.resources}) != len(self.resources):
            raise ValueError("resources must be distinct")
        return self


class AutoVaults(_Strict):
    """Vaults created as needed (by name): none holds more than 256 resources, nor resources whose sizes
    add up to more than its ``size_gb``."""

    name_prefix: str = Field(default="fleet", min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    size_gb: int = Field(
        default=10_240,
        ge=VAULT_MIN_GB,
        le=VAULT_MAX_GB,
        description="Capacity of each vault created. Resources are packed so that their sizes (as "
        "list_protectable gives them) add up to at most this; one larger than it gets a vault of its own, "
        f"sized to it (at most {VAULT_MAX_GB} GB, CBR's largest; a larger one is skipped).",
    )
    consistent_level: Literal["crash_consistent", "app_consistent"] = "crash_consistent"


class FleetBackupCommand(_CommandBase):
    """Back up a fleet: one parent workflow; child backups (one checkpoint each) of one vault and at most
    256 resources, and at most ``project_tasks``."""

    kind: Literal["fleet_backup"] = "fleet_backup"
    select: FleetSelector
    vaults: list[Id] | None = Field(
        default=None, min_length=1, max_length=1000, description="Target vaults; default: auto-packed."
    )
    auto_vaults: AutoVaults = Field(default_factory=AutoVaults)
    incremental: bool = True
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    project_tasks: int = Field(
        default=PROJECT_TASKS,
        ge=1,
        le=MAX_PROJECT_TASKS,
        validation_alias=AliasChoices("project_tasks", "project_concurrency"),
        description="Backup tasks of this fleet running at once per project: one task per resource, the "
        "unit CBR's per-project capacity counts. Children hold at most this many resources. "
        "project_concurrency, its old name, is read with this meaning.",
    )
    vault_concurrency: int = Field(
        default=1,
        ge=1,
        le=VAULT_MAX_RESOURCES,
        description="Child backups (checkpoints) running at once per vault.",
    )
    window_seconds: int | None = Field(
        default=None, ge=1, le=604_800, description="Work not started this long after it began expires."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_name(cls, data: Any) -> Any:
        return _one_of_names(data, "project_tasks", "project_concurrency")

    @model_validator(mode="after")
    def _consistent(self) -> FleetBackupCommand:
        if self.deadline is not None:
            raise ValueError("a fleet has no deadline; use window_seconds")
        if self.vaults is not None and self.select.vaults is not None:
            raise ValueError("vaults selected by id are their own targets; do not give target vaults")
        wanted = self.select.protectables.projects if self.select.protectables else []
        if self.vaults is not None and any(
            (p.project_id, p.region) != (self.project_id, self.region) for p in wanted
        ):
            raise ValueError("target vaults belong to the command's project; select protectables there only")
        return self


MAX_DRILL_SAMPLES = 100  # backups one drill restores, at most: its report stays one small event
MAX_SCRATCH_SERVERS = 20


class DrillVault(_Strict):
    """A vault to sample, by id or by name."""

    id: Id | None = None
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)

    @model_validator(mode="after")
    def _exactly_one(self) -> DrillVault:
        if (self.id is None) == (self.name is None):
            raise ValueError("give exactly one of vault id or vault name")
        return self


class DrillSample(_Strict):
    """Which backups a drill restores: in each vault, the newest available whole-server backups, one per
    server, ``per_vault`` of them (of the given ``servers`` only, when given)."""

    vaults: list[DrillVault] = Field(min_length=1, max_length=MAX_DRILL_SAMPLES)
    per_vault: int = Field(default=1, ge=1, le=MAX_DRILL_SAMPLES)
    servers: list[Id] | None = Field(
        default=None, min_length=1, max_length=1000, description="Only backups of these servers."
    )


class RestoreDrillCommand(_CommandBase):
    """Restore a sample of recent server backups to scratch servers and report the time each took (the
    RTO observed). Only the scratch servers are ever restored to: their disks are overwritten."""

    kind: Literal["restore_drill"] = "restore_drill"
    sample: DrillSample
    scratch_servers: list[Id] = Field(
        min_length=1,
        max_length=MAX_SCRATCH_SERVERS,
        description="Servers that may be overwritten; each takes one restore at a time.",
    )
    power_on: bool = Field(default=False, description="Start a scratch server after its restore.")

    @model_validator(mode="after")
    def _scratch_only(self) -> RestoreDrillCommand:
        if len(set(self.scratch_servers)) != len(self.scratch_servers):
            raise ValueError("scratch_servers must be distinct")
        sampled = set(self.sample.servers or ())
        if sampled & set(self.scratch_servers):
            raise ValueError("a sampled server cannot be a scratch server (it would be overwritten)")
        if len(self.sample.vaults) * self.sample.per_vault > MAX_DRILL_SAMPLES:
            raise ValueError(f"at most {MAX_DRILL_SAMPLES} backups per drill (vaults × per_vault)")
        return self


CommandUnion = BackupCommand | RestoreCommand | ReplicateCommand | FleetBackupCommand | RestoreDrillCommand
Command = Annotated[CommandUnion, Field(discriminator="kind")]
_COMMAND_ADAPTER: TypeAdapter[CommandUnion] = TypeAdapter(Command)
AnyCommand = CommandUnion


def parse_command(body: bytes) -> AnyCommand:
    """Parse and validate a command; raise :class:`InvalidCommand` with a short, secret-free reason.

    The worker's intake parses through :mod:`orchestrator.broker.guard` instead, which also bounds the
    size, the nesting depth and the numbers of what it parses."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, a number too long for int()
        raise InvalidCommand(f"malformed: not JSON ({type(exc).__name__})") from None
    return command_from_json(raw)


def command_from_json(raw: object) -> AnyCommand:
    """Validate a decoded JSON value as a command (its version first)."""
    if not isinstance(raw, dict):
        raise InvalidCommand("malformed: a command is a JSON object")
    command_id = command_id_in(raw)
    version = raw.get("version", COMMAND_VERSION)
    if version != COMMAND_VERSION:
        raise InvalidCommand(
            f"unsupported version: {_short(version)}, expected {COMMAND_VERSION}", command_id
        )
    try:
        return _COMMAND_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise InvalidCommand("invalid: " + _summarise(exc), command_id, _fields(exc)) from None


_ID_ADAPTER: TypeAdapter[str] = TypeAdapter(Id)


def stored_input(command: AnyCommand) -> dict[str, Any]:
    """A command as its workflow keeps it. Without a callback it is dumped as it was before ``callback_url``
    existed, so that a command sent before an upgrade and again after it is a duplicate, not a conflict."""
    return command.model_dump(mode="json", exclude={"callback_url"} if command.callback_url is None else None)


def command_id_in(raw: dict[str, Any]) -> str | None:
    """The command id a decoded command names, when it is a well-formed one (whatever else is wrong)."""
    value = raw.get("command_id")
    if not isinstance(value, str) or len(value) > 128:
        return None
    try:
        return _ID_ADAPTER.validate_python(value)
    except ValidationError:
        return None


def _short(value: object) -> str:
    """A value named in a reason: a small number as it is, anything else by its type only."""
    if isinstance(value, int | float) and abs(value) < 1e15:
        return repr(value)
    return f"a {type(value).__name__}"


def _fields(exc: ValidationError) -> list[tuple[str, str]]:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return [(".".join(str(p) for p in err["loc"]) or "<root>", err["msg"]) for err in errors[:50]]


def _summarise(exc: ValidationError) -> str:
    """Field locations and messages only; never echo input values (they could hold anything)."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)[:500]


# ---------------------------------------------------------------- events


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    PROGRESS = "progress"


class ResourceResult(_Strict):
    resource_id: str
    resource_type: str | None = None
    status: Literal["succeeded", "failed", "skipped"]
    backup_id: str | None = None
    size_gb: int | None = None
    error_code: str | None = None
    error_message: str | None = None


class Timings(_Strict):
    created_at: datetime
    finished_at: datetime | None = None
    duration_seconds: float | None = None


class FleetCounts(_Strict):
    """Resources of a fleet by state, and its children (one checkpoint each). Counted per resource, as
    children see their backup tasks end: ``final`` (what progress counts) moves resource by resource."""

    total: int = 0
    waiting: int = 0  # in children not admitted yet (caps, locks) or not yet created
    running: int = 0  # in admitted children, backup task not ended
    ended: int = 0  # backup task ended while its checkpoint runs on: succeeded or failed once it ends
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    window_closed: int = 0  # of the skipped: not started before the fleet's window closed
    cancelled: int = 0  # of the failed and skipped: ended by a cancel (see ``cbr-orchestrator cancel``)
    bytes_protected: int = 0
    children: int = 0
    children_final: int = 0

    @property
    def final(self) -> int:
        """Resources done: backed up, failed, skipped, or ended and about to be told which."""
        return self.succeeded + self.failed + self.skipped + self.ended


FLEET_PROBLEMS_LISTED = 100  # failed or skipped resources a fleet's final event lists, at most


class ProjectCounts(_Strict):
    """A fleet's resources of one project (in its children) by state: each project runs under its own
    capacity and rate limit, so each advances on its own."""

    project_id: str = Field(max_length=64)
    region: str = Field(max_length=64)
    total: int = 0
    waiting: int = 0
    running: int = 0
    ended: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    children: int = 0
    children_final: int = 0

    @property
    def final(self) -> int:
        return self.succeeded + self.failed + self.skipped + self.ended


class FleetReport(_Strict):
    """A fleet's figures, of bounded size whatever its number of resources: the result of each resource
    is read from PostgreSQL (``cbr-orchestrator status <fleet> --resources``), not carried in events."""

    counts: FleetCounts
    rate_per_minute: float | None = Field(default=None, description="Resources finished per minute so far.")
    eta_seconds: float | None = Field(default=None, description="Estimated time left at that rate.")
    problems_total: int = Field(
        default=0,
        description=f"Failed and skipped resources in all; a final event's 'resources' lists the first "
        f"{FLEET_PROBLEMS_LISTED} of them.",
    )
    projects: list[ProjectCounts] = Field(
        default_factory=list,
        max_length=FLEET_PROJECTS_MAX,
        description="A fleet over several projects: the resources of each project's children by state.",
    )


class DrillResult(_Strict):
    """One sampled backup of a drill: restored to which scratch server, how it ended, how long it took."""

    resource_id: str = Field(description="The server whose backup was restored.")
    backup_id: str
    vault_id: str
    scratch_server_id: str | None = None
    status: Literal["succeeded", "failed", "skipped"]
    rto_seconds: float | None = Field(
        default=None, description="From the restore call to the end of its task (CBR's task times)."
    )
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None


class DrillReport(_Strict):
    """A drill's every sample (at most MAX_DRILL_SAMPLES), the counts, and the RTO figures."""

    samples: list[DrillResult] = Field(default_factory=list, max_length=MAX_DRILL_SAMPLES)
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    rto_median_seconds: float | None = None
    rto_max_seconds: float | None = None
    problems: list[str] = Field(
        default_factory=list, max_length=MAX_DRILL_SAMPLES, description="Vaults or scratch servers not used."
    )


class WorkflowEventData(_Strict):
    workflow_id: uuid.UUID
    command_id: str
    kind: Literal["backup", "restore", "replicate", "fleet_backup", "restore_drill"]
    outcome: Outcome
    project_id: str
    region: str
    resources: list[ResourceResult] = Field(default_factory=list)
    resources_total: int | None = Field(
        default=None, description="How many resources the result has, when the list above is cut."
    )
    resources_truncated: bool = Field(
        default=False,
        description="The list was cut to keep the event small; the whole result is in PostgreSQL.",
    )
    checkpoint_id: str | None = None
    destination_backup_id: str | None = None
    progress: int | None = Field(default=None, ge=0, le=100)
    error_code: str | None = None
    error_message: str | None = None
    fleet: FleetReport | None = Field(
        default=None,
        description="Fleet backups: counts, rate and time left; 'resources' then lists the first "
        f"{FLEET_PROBLEMS_LISTED} failed or skipped resources only.",
    )
    drill: DrillReport | None = Field(default=None, description="Restore drills: every sample and its RTO.")
    timings: Timings


class _CloudEvent(_Strict):
    """A CloudEvents 1.0 envelope in structured JSON mode; ``data`` is the kind's own."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = EVENT_SOURCE
    type: str
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"


class WorkflowEvent(_CloudEvent):
    """A workflow's progress or end."""

    data: WorkflowEventData

    @property
    def routing_key(self) -> str:
        return f"workflow.{self.data.kind}.{self.data.outcome.value}"


def event_id(workflow_id: uuid.UUID, name: str) -> str:
    """Stable id: the same workflow and event name always give the same id, so consumers can dedupe."""
    return str(uuid.uuid5(workflow_id, name))


def make_event(data: WorkflowEventData, name: str, now: datetime | None = None) -> WorkflowEvent:
    return WorkflowEvent(
        id=event_id(data.workflow_id, name),
        type=f"{EVENT_TYPE_PREFIX}.{data.outcome.value}",
        subject=f"workflows/{data.workflow_id}",
        time=now or datetime.now(UTC),
        data=data,
    )


POSTURE_TYPE_PREFIX = "io.cbr-orchestrator.posture"
POSTURE_NAMESPACE = uuid.UUID("3ee97718-3a83-4f31-be98-9c39a334ee6c")
PostureState = Literal["ok", "stale", "never", "unprotected"]
PostureName = Literal["stale", "recovered", "unprotected"]


class PostureEventData(_Strict):
    """A protectable resource's change of protection state, as a coverage refresh saw it."""

    project_id: str = Field(max_length=64)
    region: str = Field(max_length=64)
    resource_id: str = Field(max_length=255)
    resource_type: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=255)
    vault_id: str | None = Field(default=None, max_length=255)
    vault_name: str | None = Field(default=None, max_length=255)
    state: PostureState = Field(description="Now: 'stale' and 'never' are told by posture.stale.")
    previous: PostureState | None = Field(description="Before (None: the resource was not seen before).")
    episode: int = Field(ge=0, description="Staleness episodes of this resource so far.")
    rpo_seconds: float
    age_seconds: float | None = Field(description="Of its last good backup (None: none known).")
    last_backup_at: datetime | None = None
    backup_id: str | None = Field(default=None, max_length=255)


class PostureEvent(_CloudEvent):
    """``posture.stale``, ``posture.recovered`` or ``posture.unprotected``."""

    data: PostureEventData

    @property
    def routing_key(self) -> str:
        return f"posture.{self.type.rsplit('.', 1)[-1]}"


def make_posture_event(data: PostureEventData, name: PostureName, now: datetime) -> PostureEvent:
    """``now``: when the change was recorded; with the resource, state and episode it makes the id."""
    key = f"{data.project_id}/{data.resource_id}/{data.episode}/{data.state}/{now.isoformat()}"
    return PostureEvent(
        id=str(uuid.uuid5(POSTURE_NAMESPACE, key)),
        type=f"{POSTURE_TYPE_PREFIX}.{name}",
        subject=f"projects/{data.project_id}/resources/{data.resource_id}",
        time=now,
        data=data,
    )


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every command and of the event envelope, by name."""
    return {
        "backup": BackupCommand.model_json_schema(),
        "restore": RestoreCommand.model_json_schema(),
        "replicate": ReplicateCommand.model_json_schema(),
        "fleet_backup": FleetBackupCommand.model_json_schema(),
        "restore_drill": RestoreDrillCommand.model_json_schema(),
        "command": _COMMAND_ADAPTER.json_schema(),
        "event": WorkflowEvent.model_json_schema(),
        "posture_event": PostureEvent.model_json_schema(),
    }
