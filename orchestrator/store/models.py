"""What the store reads and writes, as typed values (no loosely typed rows leave the store)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

JsonDict = dict[str, Any]
OUTBOX_CHANNEL = "cbr_outbox"  # notified when events are written (sql/001_initial.sql)
WORKFLOWS_CHANNEL = "cbr_workflows"  # notified when workflows are created or made due


class WorkflowStatus(StrEnum):
    """Mirrors the CHECK constraint on ``workflows.status``."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self not in (WorkflowStatus.PENDING, WorkflowStatus.RUNNING)


class StepOutcome(StrEnum):
    """Mirrors the CHECK constraint on ``steps.outcome``."""

    OK = "ok"
    RETRY_LATER = "retry_later"
    ALREADY_DONE = "already_done"
    TERMINAL = "terminal"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class NewWorkflow:
    id: uuid.UUID
    command_id: str
    kind: str
    project_id: str
    region: str
    input: JsonDict
    state: JsonDict = field(default_factory=dict)
    deadline: datetime | None = None
    reply_to: str | None = None
    correlation_id: str | None = None
    traceparent: str | None = None  # the command's W3C trace context (sql/011_traceparent.sql)


class Verdict(StrEnum):
    """What intake made of a command: a new workflow, the command its id names again (a duplicate), or
    a different command under a known id (a conflict, refused)."""

    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class CommandVerdict:
    verdict: Verdict
    workflow_id: uuid.UUID  # the new workflow, or the one the command id already names


@dataclass(frozen=True)
class Workflow:
    id: uuid.UUID
    command_id: str
    kind: str
    status: WorkflowStatus
    project_id: str
    region: str
    input: JsonDict
    state: JsonDict
    result: JsonDict | None
    error_code: str | None
    error_message: str | None
    attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    next_run_at: datetime
    deadline: datetime | None
    reply_to: str | None
    correlation_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    parent_id: uuid.UUID | None = None  # a fleet's child backup names its fleet
    lease_epoch: int = 0  # raised by every claim
    crashed_runs: int = 0  # runs in a row that ended without a word (a kill, a lost lease; this one counted)
    failed_runs: int = 0  # runs in a row that failed in our own code
    last_run_error: str | None = None
    cancel_requested_at: datetime | None = None  # the first request to cancel it (``cancel``)
    traceparent: str | None = None  # the command's W3C trace context, continued by every run
    woken_at: datetime | None = None  # woken since its last claim (a child ended, its task ended)

    @classmethod
    def from_record(cls, record: Any) -> Workflow:
        """From a row (``SELECT *``): columns this version does not know (a newer migration's, such as
        ``resources_count``, read in SQL only) are left out, so a worker still runs beside a newer schema."""
        values = {k: v for k, v in dict(record).items() if k in _WORKFLOW_FIELDS}
        values["status"] = WorkflowStatus(values["status"])
        return cls(**values)

    @property
    def claim(self) -> Claim:
        """The lease this workflow was claimed with (only meaningful for a claimed workflow)."""
        return Claim(self.id, self.lease_owner or "", self.lease_epoch)


_WORKFLOW_FIELDS = frozenset(f.name for f in dataclasses.fields(Workflow))


class CancelVerdict(StrEnum):
    """What a request to cancel a workflow did."""

    REQUESTED = "requested"  # recorded now: the workflow stops at its next step
    ALREADY_REQUESTED = "already_requested"  # recorded before: the workflow is stopping
    ALREADY_CANCELLED = "already_cancelled"
    ALREADY_ENDED = "already_ended"  # it ended otherwise (its status says how): nothing to cancel
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class CancelOutcome:
    """The answer to a request to cancel the workflow named ``ref`` (a workflow id or a command id)."""

    verdict: CancelVerdict
    ref: str
    workflow_id: uuid.UUID | None = None
    command_id: str | None = None
    kind: str | None = None
    status: WorkflowStatus | None = None  # as it was when the request was handled
    requested_at: datetime | None = None  # the first request's time

    @property
    def accepted(self) -> bool:
        """The workflow is cancelled, or will be at its next step (or it ends on its own first)."""
        return self.verdict in (
            CancelVerdict.REQUESTED,
            CancelVerdict.ALREADY_REQUESTED,
            CancelVerdict.ALREADY_CANCELLED,
        )


@dataclass(frozen=True)
class Claim:
    """A lease held on one workflow. Every write of the run names it; once the lease has passed to another
    claim (another owner, or the same owner's later claim: a new epoch) the write is refused."""

    workflow_id: uuid.UUID
    owner: str
    epoch: int


@dataclass(frozen=True)
class Step:
    """One CBR call and its outcome, as recorded in the step history."""

    operation: str
    outcome: StepOutcome
    started_at: datetime
    finished_at: datetime
    request: JsonDict | None = None
    response: JsonDict | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class StoredStep:
    id: int
    worker: str
    step: Step


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    routing_key: str
    body: JsonDict
    reply_to: str | None = None
    correlation_id: str | None = None
    traceparent: str | None = None  # its workflow's command's, read by the relay (not an outbox column)


@dataclass(frozen=True)
class PendingEvent:
    """An outbox row claimed by the relay: its event is not yet on the exchange (``published`` False),
    or its reply to ``reply_to`` is due (tried ``reply_attempts`` times so far)."""

    id: int
    event: OutboxEvent
    published: bool = False
    reply_attempts: int = 0


@dataclass(frozen=True)
class Finish:
    status: WorkflowStatus
    result: JsonDict
    error_code: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        if not self.status.is_final:
            raise ValueError(f"{self.status} is not a final status")


@dataclass(frozen=True)
class AdmissionCap:
    """A concurrency cap as admission applies it: at most ``limit`` holders of ``scope`` at once; with
    ``per_resource``, at most ``limit`` resources not yet backed up among its holders."""

    scope: str
    limit: int
    per_resource: bool = False


@dataclass(frozen=True)
class NewChild:
    """A fleet's child to create under ``workflow_id`` unless it exists (``input``: its command as JSON)."""

    workflow_id: uuid.UUID
    command_id: str
    kind: str
    project_id: str
    region: str
    input: JsonDict


@dataclass(frozen=True)
class ParentSave:
    """The fleet's state to save with its new children, in their transaction (renewing its lease)."""

    state: JsonDict
    lease_seconds: float


@dataclass(frozen=True)
class Renewed:
    """What a heartbeat found: the leases still held, and which of those workflows were asked to cancel."""

    kept: set[uuid.UUID]
    cancelling: set[uuid.UUID]


class LeaseLost(Exception):
    """The workflow's lease has passed to another worker (or the workflow is already final)."""


class ChildConflict(RuntimeError):
    """A child's id is held by a workflow that is not this fleet's child: the fleet cannot go on as planned.
    (Child ids are outside the commands' namespace, so this is a bug or a hand-made row, never a command.)"""
