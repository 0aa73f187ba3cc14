"""The engine's database actions for fleets and admission: each returns the next observation.

A fleet's summary reads its counts and only its first failed or skipped resources (``ReadFleet.results``):
every other result stays in the children's rows.
"""

from __future__ import annotations

from typing import assert_never

from orchestrator.messages import FLEET_PROBLEMS_LISTED, workflow_id_for
from orchestrator.store import Store, Workflow
from orchestrator.store import fleet_children as children
from orchestrator.store.admission import admit
from orchestrator.workflows.base import (
    Admit,
    Admitted,
    ChildrenSpawned,
    FleetSeen,
    Observation,
    ReadFleet,
    SpawnChildren,
    StoreAction,
)


async def perform_store_action(store: Store, wf: Workflow, action: StoreAction) -> Observation:
    match action:
        case Admit():
            granted = await admit(store, wf.claim, wf.project_id, wf.region, action.resource_ids, action.caps)
            return Admitted(granted)
        case SpawnChildren():
            with_ids = [(workflow_id_for(c.command_id), c) for c in action.children]
            return ChildrenSpawned(await children.spawn(store, wf.claim, with_ids))
        case ReadFleet():
            found = await children.counts(store, wf.id)
            if not action.results:
                return FleetSeen(found)
            problems = await children.children_problems(store, wf.id, FLEET_PROBLEMS_LISTED)
            return FleetSeen(found, tuple(problems))
        case _:
            assert_never(action)
