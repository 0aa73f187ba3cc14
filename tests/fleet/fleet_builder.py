"""A large fleet built straight in the database: the parent through intake's insert, its children through the
fleet machine and the engine's store action, the children's results by SQL (no CBR, no broker).

``summarise`` then runs the parent's last phases as the engine would (read the children, build the final
``Done`` and its event) and writes the parent final by SQL, so a test can measure what a fleet of 100,000
resources stores, publishes and shows.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine_helpers import PROJECT, REGION
from store_rows import create_one, raw_sql

from orchestrator.broker import new_workflow
from orchestrator.cbr.limits import VAULT_MAX_RESOURCES
from orchestrator.engine import outbox_event
from orchestrator.engine.run import FINAL_STATUS
from orchestrator.engine.store_actions import perform_store_action
from orchestrator.messages import FleetBackupCommand
from orchestrator.store import OutboxEvent, Store, Workflow
from orchestrator.workflows import fleet
from orchestrator.workflows.base import (
    Done,
    ProtectablesPage,
    ReadFleet,
    Resume,
    SpawnChildren,
    Transition,
    VaultFound,
)

FAILURE_CODE = "BackupService.6114"
FAILURE_MESSAGE = "The vault capacity is insufficient; resize the vault and retry the backup of this server."


def resource_id(i: int) -> str:
    return f"srv-{i:06d}"


def listed(command: FleetBackupCommand, size_gb: int = 10) -> ProtectablesPage:
    """The protectables listing the fleet reads for the sizes of the servers it was given, in one page."""
    ids = [r.id for r in command.select.resources or []]
    return ProtectablesPage(tuple((i, "OS::Nova::Server", None, size_gb) for i in ids))


@dataclass
class BuiltFleet:
    workflow: Workflow
    state: fleet.FleetState
    command: FleetBackupCommand


async def build_fleet(
    store: Store, command_id: str, resources: int, vaults: dict[str, list[str]] | None = None
) -> BuiltFleet:
    """The parent row and its children rows (pending), as the engine leaves them after ``spawn``; with
    ``vaults`` (target vault → the resources it holds now) the fleet fills them instead of creating some."""
    select = {"resources": [{"id": resource_id(i)} for i in range(resources)]}
    raw = {"command_id": command_id, "project_id": PROJECT, "region": REGION, "select": select}
    raw["project_tasks"] = VAULT_MAX_RESOURCES  # children of 255: what a vault made for one binds at once
    command = FleetBackupCommand.model_validate({**raw, **({"vaults": list(vaults)} if vaults else {})})
    wid, _ = await create_one(store, new_workflow(command))
    [wf] = [claimed for claimed in await store.claim_due("builder", 600, 100) if claimed.id == wid]
    t = fleet.transition(fleet.initial_state(command, wid), Resume(datetime.now(UTC)))
    t = fleet.transition(t.state, listed(command))
    for vault_id, held in (vaults or {}).items():
        t = fleet.transition(t.state, VaultFound(vault_id, tuple(held)))
    [spawn] = t.actions
    assert isinstance(spawn, SpawnChildren)
    t = fleet.transition(t.state, await perform_store_action(store, wf, spawn))
    assert isinstance(t.state, fleet.FleetState)
    await raw_sql(store).execute(  # saved, and given back: as after the run that spawned
        "UPDATE workflows SET state = $2, lease_owner = NULL, lease_expires_at = NULL"
        " WHERE id = $1 OR lease_owner = 'builder'",
        wid,
        t.state.model_dump(mode="json"),
    )
    return BuiltFleet(wf, t.state, command)


async def finish_children(
    store: Store, parent_id: uuid.UUID, failed_every: int = 0, unreported_every: int = 0, running: int = 0
) -> None:
    """End the children as backups would: each resource succeeded, or failed when its number is a multiple
    of ``failed_every``; a multiple of ``unreported_every`` is left out of its child's result; the last
    ``running`` children stay running (admitted)."""
    await raw_sql(store).execute(
        """
        WITH kids AS (
            SELECT id, command_id, row_number() OVER (ORDER BY command_id DESC) AS from_end
              FROM workflows WHERE parent_id = $1)
        UPDATE workflows w
           SET status = 'succeeded', finished_at = now(),
               state = jsonb_build_object('phase', 'done', 'admitted', true,
                                          'vault_id', 'vault-' || right(w.command_id, 6)),
               result = jsonb_build_object(
                   'checkpoint_id', 'cp-' || right(w.command_id, 6),
                   'resources', (
                       SELECT coalesce(jsonb_agg(
                           jsonb_build_object('resource_id', r ->> 'id', 'resource_type', r ->> 'type')
                           || CASE WHEN $2 > 0 AND n % $2 = 0
                                   THEN jsonb_build_object('status', 'failed', 'error_code', $5::text,
                                                           'error_message', $6::text)
                                   ELSE jsonb_build_object('status', 'succeeded', 'size_gb', 40,
                                                           'backup_id', 'bk-' || (r ->> 'id'))
                              END ORDER BY pos), '[]'::jsonb)
                         FROM jsonb_array_elements(w.input -> 'resources') WITH ORDINALITY AS e(r, pos),
                              LATERAL (SELECT right(r ->> 'id', 6)::int AS n) num
                        WHERE NOT ($3 > 0 AND n % $3 = 0)))
          FROM kids
         WHERE w.id = kids.id AND kids.from_end > $4
        """,
        parent_id,
        failed_every,
        unreported_every,
        running,
        FAILURE_CODE,
        FAILURE_MESSAGE,
    )
    await raw_sql(store).execute(
        """UPDATE workflows SET status = 'running', state = '{"phase": "checkpoint", "admitted": true}'
            WHERE parent_id = $1 AND finished_at IS NULL""",
        parent_id,
    )


@dataclass
class Summary:
    done: Done
    event: OutboxEvent
    result: dict[str, Any]

    def event_bytes(self) -> int:
        return len(json.dumps(self.event.body).encode())

    def result_bytes(self) -> int:
        return len(json.dumps(self.result).encode())


async def summarise(store: Store, built: BuiltFleet) -> Summary:
    """The parent's watch and summarize phases as the engine runs them; the parent is then final."""
    t = Transition(built.state)
    for _ in range(3):  # watch → summarize → done
        action = t.actions[-1] if t.actions else ReadFleet()
        if isinstance(action, Done):
            break
        assert isinstance(action, ReadFleet), action
        t = fleet.transition(t.state, await perform_store_action(store, built.workflow, action))
    [done] = [a for a in t.actions if isinstance(a, Done)]
    result = {
        "resources": [r.model_dump(mode="json") for r in done.resources],
        "checkpoint_id": None,
        "destination_backup_id": None,
        "fleet": done.fleet.model_dump(mode="json") if done.fleet else None,
    }
    now = datetime.now(UTC)
    event = outbox_event(built.workflow, done, now)
    await raw_sql(store).execute(
        """UPDATE workflows SET status = $2, state = $3, result = $4, finished_at = $5,
                  error_code = $6, error_message = $7
            WHERE id = $1""",
        built.workflow.id,
        FINAL_STATUS[done.outcome].value,
        t.state.model_dump(mode="json"),
        result,
        now,
        done.error_code,
        done.error_message,
    )
    await raw_sql(store).execute(
        """INSERT INTO outbox (event_id, workflow_id, routing_key, body) VALUES ($1, $2, $3, $4)""",
        event.event_id,
        built.workflow.id,
        event.routing_key,
        event.body,
    )
    return Summary(done, event, result)
