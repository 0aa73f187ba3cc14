"""What every workflow kind shares: observations in, actions out, and the shape of a final result.

A workflow kind is a state machine: ``transition(state, observation) -> Transition``. The transition is
pure: the engine performs the actions (CBR calls through the client and the poller, locks, sleeps) and
feeds what it saw back as the next observation. The engine persists the state *before* performing a
call, so an intent is always on disk before the cloud hears of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.cbr.limits import PROTECTABLE_MAX_PAGE, VAULT_MAX_RESOURCES
from orchestrator.messages import (
    DrillReport,
    FleetCounts,
    FleetReport,
    Outcome,
    ProjectCounts,
    ResourceResult,
)
from orchestrator.workflows.state_copy import fresh_model

# ------------------------------------------------------------------ observations


DEFAULT_SETTLE_SECONDS = 120.0


@dataclass(frozen=True)
class Resume:
    """The workflow was (re)claimed: first run, after a sleep, or after another worker died.

    ``settle_seconds``: how long lookups must keep finding nothing before a call whose outcome is unknown
    counts as not executed (longer than a call's timeout: a call may execute late).
    """

    now: datetime
    settle_seconds: float = DEFAULT_SETTLE_SECONDS


@dataclass(frozen=True)
class Failed:
    """A call did not succeed; ``kind`` says what to do (mirrors the CBR client's classification)."""

    kind: Literal["retry_later", "already_done", "terminal"]
    code: str
    message: str
    retry_after: float | None = None
    outcome_unknown: bool = False


@dataclass(frozen=True)
class Locked:
    acquired: bool


@dataclass(frozen=True)
class VaultFound:
    """A vault, its resources, and its capacity when CBR told it (``size_gb``, ``used_gb``)."""

    vault_id: str
    resource_ids: tuple[str, ...]
    size_gb: float | None = None
    used_gb: float | None = None


@dataclass(frozen=True)
class VaultMissing:
    pass


@dataclass(frozen=True)
class ResourcesAdded:
    """The resources are bound to the vault, except ``refused`` ones (id, CBR code, message)."""

    refused: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class Skipped:
    resource_id: str
    code: str
    reason: str


@dataclass(frozen=True)
class CheckpointCreated:
    checkpoint_id: str
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class CheckpointLookup:
    """Result of looking for the checkpoint carrying our marker; ``None`` means none is seen (yet).

    ``skipped``: the resources the found checkpoint left out, with CBR's reason.
    """

    checkpoint_id: str | None
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class BackupSeen:
    resource_id: str
    backup_id: str
    status: str  # CBR backup status
    size_gb: int | None = None


@dataclass(frozen=True)
class CheckpointStatus:
    """``from_tasks``: read from the checkpoint's backup tasks still waiting or running (a resource not
    among them has its task ended), not from its backups."""

    status: str  # CBR checkpoint status: protecting, available, error, ...
    backups: tuple[BackupSeen, ...] = ()
    from_tasks: bool = False


@dataclass(frozen=True)
class CheckpointShown:
    """The checkpoint itself, as ``show_checkpoint`` answers: the authority when no backup is listed."""

    status: str  # CBR checkpoint status: protecting, available, error, ...


@dataclass(frozen=True)
class ReplicaSeen:
    record_id: str
    destination_region: str
    status: str  # waiting_replicate, replicating, success, fail, skip
    destination_backup_id: str | None = None
    fail_code: str | None = None
    fail_reason: str | None = None
    progress: int | None = None


@dataclass(frozen=True)
class BackupDetails:
    backup_id: str
    status: str
    image_type: str | None
    resource_type: str | None
    contains_system_disk: bool | None
    replicas: tuple[ReplicaSeen, ...] = ()


@dataclass(frozen=True)
class Accepted:
    """A call whose answer carries nothing we need (restore's 202, add resources)."""


@dataclass(frozen=True)
class ReplicationStarted:
    record_id: str | None


@dataclass(frozen=True)
class TaskSeen:
    status: str  # waiting, running, success, failed, timeout, skipped
    progress: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    created_at: datetime | None = None  # the task's own times, on CBR's clock
    ended_at: datetime | None = None


@dataclass(frozen=True)
class TaskMissing:
    pass


@dataclass(frozen=True)
class Admitted:
    """Answer to :class:`Admit`: whether the resources' locks and the caps' slots are now held."""

    granted: bool


@dataclass(frozen=True)
class ProtectablesPage:
    """One page of ``list_protectable``: (id, type, id of the vault it is bound to or None, size in GB or
    None) of each."""

    items: tuple[tuple[str, str, str | None, int | None], ...]


@dataclass(frozen=True)
class ChildrenSpawned:
    count: int


@dataclass(frozen=True)
class FleetSeen:
    """A fleet's children, as the database holds them; ``results``: the first problems, for the summary."""

    counts: FleetCounts
    results: tuple[ResourceResult, ...] = ()
    projects: tuple[ProjectCounts, ...] = ()  # the counts per project of its children


@dataclass(frozen=True)
class DiskBackup:
    """A disk-level backup of a server backup: what it restores and where it may go."""

    backup_id: str
    size_gb: float
    system_disk: bool


@dataclass(frozen=True)
class BackupListed:
    backup_id: str
    resource_id: str
    created_at: str
    disks: tuple[DiskBackup, ...]


@dataclass(frozen=True)
class BackupsListed:
    """A vault's newest available whole-server backups, newest first."""

    vault_id: str
    backups: tuple[BackupListed, ...]


@dataclass(frozen=True)
class ServerDisk:
    volume_id: str
    size_gb: float
    bootable: bool


@dataclass(frozen=True)
class ServerDisks:
    server_id: str
    disks: tuple[ServerDisk, ...]


# what a successful action answers (every observation but the run's start and a failed call)
Answer = (
    Locked
    | VaultFound
    | VaultMissing
    | ResourcesAdded
    | CheckpointCreated
    | CheckpointLookup
    | CheckpointStatus
    | CheckpointShown
    | ReplicaSeen
    | BackupDetails
    | Accepted
    | ReplicationStarted
    | TaskSeen
    | TaskMissing
    | Admitted
    | ProtectablesPage
    | ChildrenSpawned
    | FleetSeen
    | BackupsListed
    | ServerDisks
)
Observation = Resume | Failed | Answer

# ------------------------------------------------------------------ actions (CBR requests and the rest)


@dataclass(frozen=True)
class ShowVault:
    vault_id: str


@dataclass(frozen=True)
class FindVault:
    name: str


@dataclass(frozen=True)
class CreateVault:
    name: str
    object_type: str
    size_gb: int
    consistent_level: str
    description: str | None
    resources: tuple[tuple[str, str], ...]  # (id, type)


@dataclass(frozen=True)
class AddResources:
    vault_id: str
    resources: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CreateCheckpoint:
    """Not idempotent in CBR: ``marker`` goes into the description so the checkpoint can be found."""

    vault_id: str
    resource_ids: tuple[str, ...]
    name: str
    description: str
    incremental: bool
    marker: str


@dataclass(frozen=True)
class FindCheckpoint:
    """Look for the checkpoint whose backups carry ``marker``: among the vault's backups of every
    resource made since ``since`` (when the create call was announced)."""

    vault_id: str
    marker: str
    since: datetime


@dataclass(frozen=True)
class PollCheckpoint:
    checkpoint_id: str
    vault_id: str
    since: datetime  # no backup of the checkpoint is older: lets one list call answer many checkpoints
    backups: int = VAULT_MAX_RESOURCES  # how many it makes (one per resource): sizes the first page


@dataclass(frozen=True)
class ShowCheckpoint:
    """Read the checkpoint's own status (its backups may never be listed if it failed early)."""

    checkpoint_id: str


@dataclass(frozen=True)
class ShowBackup:
    backup_id: str


@dataclass(frozen=True)
class PollReplication:
    """How is the replication of ``backup_id`` towards ``destination_region`` (recorded as ``record_id``)?

    Answered with :class:`ReplicaSeen` from the project's replication tasks (one list call answers many
    workflows), or with :class:`BackupDetails` when the task list cannot tell.
    """

    backup_id: str
    record_id: str | None
    destination_region: str
    since: datetime  # no replication of ours is older


@dataclass(frozen=True)
class RestoreBackup:
    backup_id: str
    server_id: str | None
    volume_id: str | None
    mappings: tuple[tuple[str, str], ...]  # (disk backup id, target volume id)
    power_on: bool


@dataclass(frozen=True)
class FindRestoreTask:
    backup_id: str
    target_id: str
    since: datetime


@dataclass(frozen=True)
class ReplicateBackup:
    backup_id: str
    destination_region: str
    destination_project_id: str
    destination_vault_id: str


@dataclass(frozen=True)
class ListProtectables:
    """One page of a project's protectables (possibly another project than the workflow's)."""

    project_id: str
    region: str
    protectable_type: str
    marker: str | None
    limit: int = PROTECTABLE_MAX_PAGE


@dataclass(frozen=True)
class ListBackups:
    """One page of a vault's newest available whole-server backups."""

    vault_id: str
    limit: int


@dataclass(frozen=True)
class ShowServerDisks:
    """The disks of a server (its protectable's children), to map a server backup's disks onto."""

    server_id: str


Request = (
    ListProtectables
    | ShowVault
    | FindVault
    | CreateVault
    | AddResources
    | CreateCheckpoint
    | FindCheckpoint
    | PollCheckpoint
    | ShowCheckpoint
    | ShowBackup
    | PollReplication
    | RestoreBackup
    | FindRestoreTask
    | ReplicateBackup
    | ListBackups
    | ShowServerDisks
)


@dataclass(frozen=True)
class Call:
    """Perform one CBR request; its answer (or :class:`Failed`) is the next observation."""

    request: Request


@dataclass(frozen=True)
class Lock:
    """Take the exclusive lock on a resource; answered with :class:`Locked`."""

    resource_id: str


@dataclass(frozen=True)
class Unlock:
    """Give back a lock taken with :class:`Lock` before the workflow ends (locks also end with it)."""

    resource_id: str


@dataclass(frozen=True)
class Sleep:
    """Give the workflow back until later: ``busy`` means back off (with jitter), ``poll`` a status poll,
    ``settle`` the pause before the next lookup of a call whose outcome is unknown."""

    reason: Literal["busy", "poll", "settle"]
    attempt: int = 0
    at_least: float | None = None


@dataclass(frozen=True)
class Cap:
    """A concurrency cap: at most ``limit`` holders of ``scope`` at once; with ``per_resource``, at most
    ``limit`` resources not yet backed up among its holders (each holder's pending ones, read live)."""

    scope: str
    limit: int
    per_resource: bool = False


@dataclass(frozen=True)
class Admit:
    """Take, in one transaction, the lock of every resource and room under each cap."""

    resource_ids: tuple[str, ...]
    caps: tuple[Cap, ...] = ()


@dataclass(frozen=True)
class ChildSpec:
    """A child workflow to create (idempotent by ``command_id``); ``input`` is its command as JSON."""

    command_id: str
    kind: str
    project_id: str
    region: str
    input: dict[str, Any]


@dataclass(frozen=True)
class SpawnChildren:
    children: tuple[ChildSpec, ...]


@dataclass(frozen=True)
class ReadFleet:
    """Count the children's resources by state; with ``results``, or once every child is final, the first
    failed or skipped resources too."""

    results: bool = False


StoreAction = Admit | SpawnChildren | ReadFleet


@dataclass(frozen=True)
class CancelChildren:
    """Ask every unfinished child of this fleet to cancel; answered with nothing."""


@dataclass(frozen=True)
class Progress:
    percent: int
    fleet: FleetReport | None = None


@dataclass(frozen=True)
class Done:
    outcome: Outcome
    resources: tuple[ResourceResult, ...] = ()
    checkpoint_id: str | None = None
    destination_backup_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    fleet: FleetReport | None = None
    drill: DrillReport | None = None


# what a run does and goes on: every action but the two that pause (``Sleep``) or end (``Done``) it
Effect = Call | Lock | Unlock | Progress | StoreAction | CancelChildren
Action = Effect | Sleep | Done


@dataclass(frozen=True)
class Transition:
    state: BaseModel
    actions: tuple[Action, ...] = field(default_factory=tuple)


class Budget(BaseModel):
    """What a workflow has spent so far; kept by the engine (never by a machine), which ends the workflow
    once a limit is passed."""

    model_config = ConfigDict(extra="forbid")

    calls: int = 0  # CBR requests performed
    steps: int = 0  # observations fed to the machine
    failures: dict[str, int] = Field(
        default_factory=dict
    )  # per request: failed answers since it last succeeded


class MachineState(BaseModel):
    """Fields every kind keeps: where it is, how many busy answers in a row it has had, the time and the
    settle window of its current run (from :class:`Resume`), and the budget the engine keeps."""

    model_config = ConfigDict(extra="forbid")

    phase: str
    busy_retries: int = 0
    progress_reported: int = 0
    now: datetime | None = None
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    budget: Budget = Field(default_factory=Budget)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """What ``model_copy(deep=True)`` makes, at a fraction of the cost (see :mod:`.state_copy`)."""
        return fresh_model(self)


def begin_run(state: MachineState, resume: Resume) -> None:
    """Every machine calls this first on :class:`Resume`: the run's time and settle window."""
    state.now = resume.now
    state.settle_seconds = resume.settle_seconds


class Intent(BaseModel):
    """A call that is not idempotent, announced (saved) before it goes out.

    While an intent stands, the cloud may hold the call's effect: only lookups settle that. A lookup that
    finds the effect adopts it; lookups that find nothing settle it as "not executed" only once they have
    found nothing over the whole settle window (a call may execute after its answer was lost). A lookup
    that fails or is throttled settles nothing.
    """

    model_config = ConfigDict(extra="forbid")

    announced_at: datetime
    nothing_since: datetime | None = None  # the first lookup that found nothing
    lookups: int = 0


def intent_from_flag(data: Any, flag: str, intent: str, since: str, unless: str | None = None) -> Any:
    """A state saved before intents: the boolean ``flag`` ("the call may have been made") becomes the intent
    ``intent``, announced at the state's ``since`` time (none if the state holds ``unless``: the call's
    result)."""
    if not isinstance(data, dict) or flag not in data:
        return data
    data = dict(data)
    if data.pop(flag) and data.get(since) and not (unless and data.get(unless)):
        data[intent] = {"announced_at": data[since]}
    return data


def announce(state: MachineState) -> Intent:
    if state.now is None:
        raise ValueError("no run time recorded")
    return Intent(announced_at=state.now)


def found_nothing(state: MachineState, intent: Intent) -> bool:
    """A lookup found nothing: True once lookups have found nothing for the whole settle window."""
    if state.now is None:
        raise ValueError("no run time recorded")
    intent.lookups += 1
    intent.nothing_since = intent.nothing_since or state.now
    return (state.now - intent.nothing_since).total_seconds() >= state.settle_seconds


def settle_later(state: MachineState, intent: Intent) -> Transition:
    """Not settled yet: look again in a later run (each lookup is the first call of its run, so the
    run's time, taken before it, is never later than the lookup)."""
    return Transition(state, (Sleep("settle", intent.lookups),))


def progress_actions(state: MachineState, percent: int | None) -> tuple[Action, ...]:
    """A progress event at each quarter reached (stable per quarter, so ids are stable)."""
    if percent is None:
        return ()
    quarter = min(percent, 99) // 25 * 25
    if quarter <= state.progress_reported:
        return ()
    state.progress_reported = quarter
    return (Progress(quarter),)


def busy(state: MachineState, failure: Failed) -> Transition:
    """A busy or throttled answer: wait with backoff; never a failure by itself."""
    state.busy_retries += 1
    return Transition(state, (Sleep("busy", state.busy_retries, failure.retry_after),))


OUTCOME_UNKNOWN = "orchestrator.outcome_unknown"
NOT_STARTED = "cancelled before it started"
MAY_STILL_FINISH = "cancelled while it was running in CBR, which cannot cancel it: it may still finish"


def outcome_unknown(failure: Failed, what: str) -> tuple[str, str]:
    """The error of a workflow whose lookup cannot be made (a terminal answer): the call's effect can be
    neither confirmed nor ruled out, so the call is not made again and the workflow ends saying so."""
    message = f"{what} may exist in the cloud; looking for it failed: {failure.code} {failure.message}"
    return OUTCOME_UNKNOWN, message[:1000]


def unexpected(state: MachineState, observation: Observation) -> Transition:
    """An observation that does not fit the phase is a bug; end the workflow rather than loop."""
    name = type(observation).__name__
    done = Done(
        Outcome.FAILED, error_code="orchestrator.unexpected", error_message=f"{name} in phase {state.phase}"
    )
    return Transition(state, (done,))
