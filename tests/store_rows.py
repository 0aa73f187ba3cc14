"""What tests do to a PostgreSQL store besides its methods: raw SQL on its rows, and intake of one command.

The orchestrator reaches PostgreSQL only through :class:`~orchestrator.store.Store`; a test that pokes or
reads rows the store has no method for goes through :func:`raw_sql`, so that such access stays visible.
"""

from __future__ import annotations

import uuid

import asyncpg

from orchestrator.store import CommandConflict, NewWorkflow, Store, Verdict


def raw_sql(store: Store) -> asyncpg.Pool:
    """The store's own pool, for SQL written in a test."""
    return store._pool


async def create_one(store: Store, new: NewWorkflow) -> tuple[uuid.UUID, bool]:
    """Intake of one command: the workflow id, and whether it is new; :class:`CommandConflict` when the
    command id already names another command."""
    [verdict] = await store.create_workflows_if_absent([new])
    if verdict.verdict is Verdict.CONFLICT:
        raise CommandConflict(new.command_id, verdict.workflow_id)
    return verdict.workflow_id, verdict.verdict is Verdict.NEW
