"""The engine's database actions for fleets and admission: each returns the next observation.

A fleet's summary reads its counts and only its first failed or skipped resources (``ReadFleet.results``,
or any read that finds every child final): every other result stays in the children's rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import assert_never

from orchestrator.crash_points import crash_point
from orchestrator.messages import FLEET_PROBLEMS_LISTED, workflow_id_for
from orchestrator.observability import metrics
from orchestrator.store import AdmissionCap, NewChild, ParentSave, Workflow, WorkflowStore
from orchestrator.workflows.base import (
    Admit,
    Admitted,
    ChildrenSpawned,
    ChildSpec,
    FleetSeen,
    Observation,
    ReadFleet,
    SpawnChildren,
    StoreAction,
)


async def perform_store_action(
    store: WorkflowStore, wf: Workflow, action: StoreAction, save: ParentSave | None = None
) -> Observation:
    """``save``: the fleet's state, saved with the children it spawns (in their transaction)."""
    match action:
        case Admit():
            caps = [AdmissionCap(c.scope, c.limit, c.per_resource) for c in action.caps]
            ids = action.resource_ids
            admitted = await store.admission.admit(wf.claim, wf.project_id, wf.region, ids, caps)
            if admitted:  # waited since its command became a workflow
                metrics.ADMISSION_WAIT.observe((datetime.now(UTC) - wf.created_at).total_seconds())
            return Admitted(admitted)
        case SpawnChildren():
            children = [_new_child(c) for c in action.children]
            spawned = await store.fleet.spawn(wf.claim, children, save)
            crash_point("fleet_after_spawn")  # children and selection's progress committed, nothing more
            return ChildrenSpawned(spawned)
        case ReadFleet():
            found = await store.fleet.tally(wf.id)
            projects = tuple(found.projects)
            every_child_final = found.counts.children_final >= found.counts.children
            if not (action.results or every_child_final):  # the summary's results come with the last read
                return FleetSeen(found.counts, projects=projects)
            problems = await store.fleet.children_problems(wf.id, FLEET_PROBLEMS_LISTED)
            return FleetSeen(found.counts, tuple(problems), projects)
        case _:
            assert_never(action)


def _new_child(spec: ChildSpec) -> NewChild:
    workflow_id = workflow_id_for(spec.command_id)
    return NewChild(workflow_id, spec.command_id, spec.kind, spec.project_id, spec.region, spec.input)
