"""PostgreSQL: the source of truth for every workflow. Only this package runs SQL; :class:`Store` is the
way in."""

from orchestrator.store.interface import WorkflowStore
from orchestrator.store.migrations import run_migrations
from orchestrator.store.models import (
    OUTBOX_CHANNEL,
    WORKFLOWS_CHANNEL,
    AdmissionCap,
    CancelOutcome,
    CancelVerdict,
    ChildConflict,
    Claim,
    CommandVerdict,
    Finish,
    LeaseLost,
    NewChild,
    NewWorkflow,
    OutboxEvent,
    ParentSave,
    PendingEvent,
    Renewed,
    Step,
    StepOutcome,
    StoredStep,
    Verdict,
    Workflow,
    WorkflowStatus,
)
from orchestrator.store.notifications import Listener
from orchestrator.store.reads import list_workflows, workflow_status
from orchestrator.store.status import WorkflowDetail
from orchestrator.store.store import (
    CommandConflict,
    OutboxBatch,
    Store,
)

__all__ = [
    "OUTBOX_CHANNEL",
    "WORKFLOWS_CHANNEL",
    "AdmissionCap",
    "CancelOutcome",
    "CancelVerdict",
    "ChildConflict",
    "Claim",
    "CommandConflict",
    "CommandVerdict",
    "Finish",
    "LeaseLost",
    "Listener",
    "NewChild",
    "NewWorkflow",
    "OutboxBatch",
    "OutboxEvent",
    "ParentSave",
    "PendingEvent",
    "Renewed",
    "Step",
    "StepOutcome",
    "Store",
    "StoredStep",
    "Verdict",
    "Workflow",
    "WorkflowDetail",
    "WorkflowStatus",
    "WorkflowStore",
    "list_workflows",
    "run_migrations",
    "workflow_status",
]
