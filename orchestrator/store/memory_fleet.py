"""The tables of :class:`~orchestrator.store.memory.MemoryStore`, and its admission and fleet parts (as
``queries/fleet.sql`` has them for PostgreSQL)."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.messages import CANCELLED, WINDOW_CLOSED, FleetCounts, ResourceResult
from orchestrator.store.fleet_children import FleetTally, child_resource, tally_children
from orchestrator.store.models import (
    WORKFLOWS_CHANNEL,
    AdmissionCap,
    ChildConflict,
    Claim,
    LeaseLost,
    NewChild,
    NewWorkflow,
    ParentSave,
    Workflow,
    WorkflowStatus,
)

LockKey = tuple[str, str, str]  # project, region, resource


@dataclass
class MemoryTables:
    workflows: dict[uuid.UUID, Workflow] = field(default_factory=dict)
    locks: dict[LockKey, uuid.UUID] = field(default_factory=dict)
    slots: dict[str, dict[int, uuid.UUID]] = field(default_factory=dict)  # scope -> slot -> holder

    def new_row(self, new: NewWorkflow, now: datetime, parent_id: uuid.UUID | None = None) -> Workflow:
        return Workflow(
            id=new.id,
            command_id=new.command_id,
            kind=new.kind,
            status=WorkflowStatus.PENDING,
            project_id=new.project_id,
            region=new.region,
            input=new.input,
            state=new.state,
            result=None,
            error_code=None,
            error_message=None,
            attempts=0,
            lease_owner=None,
            lease_expires_at=None,
            next_run_at=now,
            deadline=new.deadline,
            reply_to=new.reply_to,
            correlation_id=new.correlation_id,
            created_at=now,
            updated_at=now,
            finished_at=None,
            parent_id=parent_id,
            traceparent=new.traceparent,
        )

    def insert(self, wf: Workflow) -> bool:
        """Insert unless the command id (or the id) is known; whether it was inserted."""
        if wf.id in self.workflows or self.by_command(wf.command_id) is not None:
            return False
        self.workflows[wf.id] = wf
        return True

    def by_command(self, command_id: str) -> Workflow | None:
        return next((wf for wf in self.workflows.values() if wf.command_id == command_id), None)

    def by_ref(self, ref: str) -> Workflow | None:
        """By workflow id first, else by command id."""
        try:
            by_id = self.workflows.get(uuid.UUID(ref))
        except ValueError:
            by_id = None
        return by_id or self.by_command(ref)

    def release_all(self, workflow_id: uuid.UUID) -> None:
        """What a workflow holds ends with it: its resources' locks and its admission slots."""
        self.locks = {k: w for k, w in self.locks.items() if w != workflow_id}
        for held in self.slots.values():
            for slot in [s for s, w in held.items() if w == workflow_id]:
                del held[slot]

    def children_of(self, parent_id: uuid.UUID) -> list[Workflow]:
        children = [wf for wf in self.workflows.values() if wf.parent_id == parent_id]
        return sorted(children, key=lambda wf: wf.command_id)


Held = Callable[[Claim], Workflow | None]


class _NotAdmitted(Exception):
    pass


class MemoryAdmission:
    def __init__(self, tables: MemoryTables, held: Held) -> None:
        self._tables = tables
        self._held = held

    async def admit(
        self,
        claim: Claim,
        project_id: str,
        region: str,
        resource_ids: Sequence[str],
        caps: Sequence[AdmissionCap] = (),
    ) -> bool:
        if not caps and len(resource_ids) == 1:
            return await self.lock_alone(claim, project_id, region, resource_ids[0])
        if self._held(claim) is None:
            raise LeaseLost()
        try:  # all or nothing: decided before anything is taken
            slots = [self._slot_for(cap, claim.workflow_id, len(resource_ids)) for cap in caps]
            keys = self._locks_for(claim.workflow_id, project_id, region, resource_ids)
        except _NotAdmitted:
            return False
        for cap, slot in zip(caps, slots, strict=True):
            self._tables.slots.setdefault(cap.scope, {})[slot] = claim.workflow_id
        for key in keys:
            self._tables.locks[key] = claim.workflow_id
        return True

    async def lock_alone(self, claim: Claim, project_id: str, region: str, resource_id: str) -> bool:
        """As the batched single lock: a run whose lease passed on takes nothing (False)."""
        wf = self._tables.workflows.get(claim.workflow_id)
        if wf is None or (wf.lease_owner, wf.lease_epoch) != (claim.owner, claim.epoch):
            return False
        key = (project_id, region, resource_id)
        return self._tables.locks.setdefault(key, claim.workflow_id) == claim.workflow_id

    def _slot_for(self, cap: AdmissionCap, workflow_id: uuid.UUID, resources: int) -> int:
        held = self._tables.slots.get(cap.scope, {})
        mine = [s for s, w in held.items() if w == workflow_id]
        if mine:
            return mine[0]
        if cap.per_resource:
            room = self._tasks(cap.scope, cap.limit) + min(resources, cap.limit) <= cap.limit
            candidates = range(len(held) + 1)
        else:
            room, candidates = True, range(cap.limit)
        free = next((s for s in candidates if s not in held), None)
        if not room or free is None:
            raise _NotAdmitted()
        return free

    def _locks_for(
        self, workflow_id: uuid.UUID, project_id: str, region: str, resource_ids: Sequence[str]
    ) -> list[LockKey]:
        keys = [(project_id, region, rid) for rid in sorted(resource_ids)]
        if any(self._tables.locks.get(key, workflow_id) != workflow_id for key in keys):
            raise _NotAdmitted()
        return keys

    async def slots_held(self) -> dict[str, int]:
        return {scope: len(held) for scope, held in self._tables.slots.items() if held}

    async def tasks_held(self, scope: str, cap: int) -> int:
        return self._tasks(scope, cap)

    def _tasks(self, scope: str, cap: int) -> int:
        holders = [self._tables.workflows[w] for w in self._tables.slots.get(scope, {}).values()]
        return sum(min(_not_ended(wf), cap) for wf in holders)


def _not_ended(wf: Workflow) -> int:
    """A holder's resources whose backup task has not ended (all of its command's before it saved)."""
    pending: list[Any] = wf.state["pending"] if "pending" in wf.state else wf.input["resources"]
    ended: list[Any] = wf.state.get("ended", [])
    return len(pending) - len(ended)


class MemoryFleet:
    def __init__(
        self,
        tables: MemoryTables,
        held: Held,
        clock: Callable[[], datetime],
        notify: Callable[[str], None],
    ) -> None:
        self._tables = tables
        self._held = held
        self._clock = clock
        self._notify = notify

    async def spawn(self, parent: Claim, children: Sequence[NewChild], save: ParentSave | None = None) -> int:
        held = self._held(parent)
        if held is None:
            raise LeaseLost()
        now, parent_id = self._clock(), parent.workflow_id
        trace = self._tables.workflows[parent_id].traceparent  # a child continues its fleet's trace
        rows = [self._tables.new_row(_as_new(c, trace), now, parent_id) for c in children]
        if [row for row in rows if self._tables.insert(row)]:
            self._notify(WORKFLOWS_CHANNEL)
        taken = sorted(c.command_id for c in children if not self._is_child(parent_id, c))
        if taken:
            raise ChildConflict(
                f"{len(taken)} of the {len(children)} children of fleet {parent_id} are held by other "
                f"workflows, first {taken[0]!r}"
            )
        if save is not None:
            expires = now + timedelta(seconds=save.lease_seconds)
            saved = dataclasses.replace(held, state=save.state, updated_at=now, lease_expires_at=expires)
            self._tables.workflows[parent_id] = saved
        return len(children)

    def _is_child(self, parent_id: uuid.UUID, child: NewChild) -> bool:
        wf = self._tables.workflows.get(child.workflow_id)
        return wf is not None and wf.command_id == child.command_id and wf.parent_id == parent_id

    async def counts(self, parent_id: uuid.UUID) -> FleetCounts:
        return (await self.tally(parent_id)).counts

    async def tally(self, parent_id: uuid.UUID) -> FleetTally:
        return tally_children([_count_row(child) for child in self._tables.children_of(parent_id)])

    async def children_problems(self, parent_id: uuid.UUID, limit: int) -> list[ResourceResult]:
        rows = [row for row in self._resource_rows(parent_id) if _a_problem(row)]
        return [child_resource(row).as_result() for row in rows[:limit]]

    async def children_of(self, parent_id: uuid.UUID) -> list[Workflow]:
        return self._tables.children_of(parent_id)

    def _resource_rows(self, parent_id: uuid.UUID) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for child in self._tables.children_of(parent_id):
            rows += [
                _resource_row(child, len(rows) + i, r) for i, r in enumerate(child.input["resources"], 1)
            ]
        return rows


def _as_new(child: NewChild, traceparent: str | None) -> NewWorkflow:
    return NewWorkflow(
        child.workflow_id,
        child.command_id,
        child.kind,
        child.project_id,
        child.region,
        child.input,
        traceparent=traceparent,
    )


def _reported(wf: Workflow) -> list[dict[str, Any]]:
    """What a child reported: its result's resources once final, else the results its state holds."""
    if wf.finished_at is not None:
        return list((wf.result or {}).get("resources", []))
    return list(wf.state.get("results", {}).values())


def _count_row(wf: Workflow) -> dict[str, Any]:
    """A child as ``children_counts`` has it."""
    reported = _reported(wf)
    return {
        "final": wf.finished_at is not None,
        "project_id": wf.project_id,
        "region": wf.region,
        "admitted": bool(wf.state.get("admitted", False)),
        "resources": len(wf.input["resources"]),
        "ended": len(wf.state.get("ended", [])),
        "by_status": dict(Counter(e["status"] for e in reported)),
        "succeeded_gb": sum(e.get("size_gb") or 0 for e in reported if e["status"] == "succeeded"),
        "window_closed": sum(e.get("error_code") == WINDOW_CLOSED for e in reported),
        "cancelled": sum(e.get("error_code") == CANCELLED for e in reported),
    }


def _resource_row(wf: Workflow, position: int, resource: dict[str, Any]) -> dict[str, Any]:
    """A child's resource as ``children_resources`` has it."""
    reported = {e["resource_id"]: e for e in _reported(wf)}
    vault = wf.input.get("vault") or {}
    return {
        "position": position,
        "resource_id": resource["id"],
        "resource_type": resource.get("type"),
        "reported": reported.get(resource["id"]),
        "status": wf.status.value,
        "final": wf.finished_at is not None,
        "project_id": wf.project_id,
        "region": wf.region,
        "admitted": bool(wf.state.get("admitted", False)),
        "error_code": wf.error_code,
        "error_message": wf.error_message,
        "checkpoint_id": (wf.result or {}).get("checkpoint_id"),
        "vault": wf.state.get("vault_id") or vault.get("id") or vault.get("name"),
    }


def _a_problem(row: dict[str, Any]) -> bool:
    """A resource of a final child that did not succeed (failed when it reported nothing)."""
    return bool(row["final"]) and (row["reported"] or {}).get("status", "failed") != "succeeded"
