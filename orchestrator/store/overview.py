"""What the status page shows: running and recent workflows, fleets' counts and recent failures, read for
the projects one API key may see."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from orchestrator.store.named_sql import q


@dataclass(frozen=True)
class WorkflowLine:
    """A workflow as one line of the status page (no input, state or result loaded)."""

    id: uuid.UUID
    command_id: str
    kind: str
    status: str
    project_id: str
    region: str
    created_at: datetime
    finished_at: datetime | None
    error_code: str | None
    error_message: str | None

    @classmethod
    def from_record(cls, record: Any) -> WorkflowLine:
        return cls(**dict(record))


class Overview:
    """The status page's reads, as the store hands them out (``store.overview``); ``projects`` None
    reads every project."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def running(self, projects: Collection[str] | None, limit: int = 50) -> list[WorkflowLine]:
        return await self._lines("page_workflows_running", projects, limit)

    async def recent(self, projects: Collection[str] | None, limit: int = 50) -> list[WorkflowLine]:
        return await self._lines("page_workflows_recent", projects, limit)

    async def failures(self, projects: Collection[str] | None, limit: int = 20) -> list[WorkflowLine]:
        return await self._lines("page_failures", projects, limit)

    async def _lines(self, query: str, projects: Collection[str] | None, limit: int) -> list[WorkflowLine]:
        chosen = None if projects is None else list(projects)
        return [WorkflowLine.from_record(r) for r in await self._pool.fetch(q(query), chosen, limit)]
