"""PostgreSQL: the source of truth for every workflow. Only this package runs SQL."""

from orchestrator.store.migrations import run_migrations
from orchestrator.store.models import (
    CancelOutcome,
    CancelVerdict,
    Claim,
    CommandVerdict,
    Finish,
    NewWorkflow,
    OutboxEvent,
    PendingEvent,
    Step,
    StepOutcome,
    StoredStep,
    Verdict,
    Workflow,
    WorkflowStatus,
)
from orchestrator.store.notifications import Listener
from orchestrator.store.status import WorkflowDetail, list_workflows, workflow_status
from orchestrator.store.store import (
    OUTBOX_CHANNEL,
    WORKFLOWS_CHANNEL,
    CommandConflict,
    LeaseLost,
    OutboxBatch,
    Renewed,
    Store,
)

__all__ = [
    "OUTBOX_CHANNEL",
    "WORKFLOWS_CHANNEL",
    "CancelOutcome",
    "CancelVerdict",
    "Claim",
    "CommandConflict",
    "CommandVerdict",
    "Finish",
    "LeaseLost",
    "Listener",
    "NewWorkflow",
    "OutboxBatch",
    "OutboxEvent",
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
    "list_workflows",
    "run_migrations",
    "workflow_status",
]
