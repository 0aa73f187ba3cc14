"""What the engine needs of a store, as a protocol: :class:`~orchestrator.store.Store` (PostgreSQL) and
:class:`~orchestrator.store.memory.MemoryStore` both provide it, and ``tests/store_contract`` holds both to
the same behaviour."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from orchestrator.messages import FleetCounts, ResourceResult
from orchestrator.store.fleet_children import FleetTally
from orchestrator.store.models import (
    AdmissionCap,
    CancelOutcome,
    Claim,
    CommandVerdict,
    Finish,
    NewChild,
    NewWorkflow,
    OutboxEvent,
    ParentSave,
    Renewed,
    Step,
    StoredStep,
    Workflow,
)


class WakeUps(Protocol):
    """A waiter woken when there may be work (a notification), or else by a timeout."""

    async def wait(self, max_wait: float) -> bool: ...

    def wake(self) -> None: ...

    async def close(self) -> None: ...


class AdmissionStore(Protocol):
    async def admit(
        self,
        claim: Claim,
        project_id: str,
        region: str,
        resource_ids: Sequence[str],
        caps: Sequence[AdmissionCap] = (),
    ) -> bool: ...

    async def slots_held(self) -> dict[str, int]: ...

    async def tasks_held(self, scope: str, cap: int) -> int: ...


class FleetStore(Protocol):
    async def spawn(
        self, parent: Claim, children: Sequence[NewChild], save: ParentSave | None = None
    ) -> int: ...

    async def counts(self, parent_id: uuid.UUID) -> FleetCounts: ...

    async def tally(self, parent_id: uuid.UUID) -> FleetTally: ...

    async def children_problems(self, parent_id: uuid.UUID, limit: int) -> list[ResourceResult]: ...

    async def children_of(self, parent_id: uuid.UUID) -> list[Workflow]: ...


class WorkflowStore(Protocol):
    """Every write for a claimed workflow names its :class:`Claim` and raises
    :class:`~orchestrator.store.LeaseLost` once the lease has passed on (another owner, a later epoch, the
    workflow final)."""

    @property
    def admission(self) -> AdmissionStore: ...

    @property
    def fleet(self) -> FleetStore: ...

    def listen(self, channel: str) -> WakeUps: ...

    async def create_workflows_if_absent(self, news: Sequence[NewWorkflow]) -> list[CommandVerdict]: ...

    async def claim_due(self, owner: str, lease_seconds: float, limit: int) -> list[Workflow]: ...

    async def wake(self, workflow_ids: Sequence[uuid.UUID]) -> int: ...

    async def renew_leases(self, claims: Sequence[Claim], lease_seconds: float) -> Renewed: ...

    async def hand_back(self, claims: Sequence[Claim]) -> set[uuid.UUID]: ...

    async def save_state(
        self,
        claim: Claim,
        state: dict[str, Any],
        lease_seconds: float,
        steps: Sequence[Step] = (),
        events: Sequence[OutboxEvent] = (),
    ) -> None: ...

    async def release_until(
        self,
        claim: Claim,
        state: dict[str, Any],
        run_at: datetime,
        steps: Sequence[Step] = (),
        events: Sequence[OutboxEvent] = (),
        cancel_seen: bool = False,
    ) -> None: ...

    async def release_after_error(self, claim: Claim, run_at: datetime, error: str) -> None: ...

    async def finish_with_event(
        self,
        claim: Claim,
        state: dict[str, Any],
        finish: Finish,
        event: OutboxEvent | None,
        steps: Sequence[Step] = (),
    ) -> None: ...

    async def lock_resource(self, claim: Claim, project_id: str, region: str, resource_id: str) -> bool: ...

    async def unlock_resource(self, claim: Claim, project_id: str, region: str, resource_id: str) -> None: ...

    async def request_cancel(self, ref: str) -> CancelOutcome: ...

    async def cancel_children(self, parent: Claim) -> int: ...

    async def get_workflow(self, workflow_id: uuid.UUID) -> Workflow | None: ...

    async def workflow_by_command(self, command_id: str) -> Workflow | None: ...

    async def steps_of(self, workflow_id: uuid.UUID) -> list[StoredStep]: ...

    async def events_of(self, workflow_id: uuid.UUID) -> list[OutboxEvent]: ...
