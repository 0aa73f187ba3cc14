"""One-off reads for the command line: open a store on ``dsn``, read, close it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from orchestrator.store.fleet_children import ResourcePage
from orchestrator.store.models import Workflow, WorkflowStatus
from orchestrator.store.status import WorkflowDetail
from orchestrator.store.store import Store


@asynccontextmanager
async def _opened(dsn: str, max_size: int) -> AsyncIterator[Store]:
    store = await Store.connect(dsn, max_size=max_size)
    try:
        yield store
    finally:
        await store.close()


async def list_workflows(dsn: str, status: WorkflowStatus | None = None, limit: int = 50) -> list[Workflow]:
    """The newest workflows (:meth:`~orchestrator.store.status.StatusReads.shown`)."""
    async with _opened(dsn, 2) as store:
        return await store.status.shown(status, limit)


async def workflow_status(dsn: str, ref: str, payloads: bool = False) -> WorkflowDetail | None:
    """One workflow with its history (:meth:`~orchestrator.store.status.StatusReads.detail`)."""
    async with _opened(dsn, 2) as store:
        return await store.status.detail(ref, payloads)


async def fleet_resources(
    dsn: str, ref: str, offset: int, limit: int
) -> tuple[Workflow, ResourcePage] | None:
    """One page of a fleet's resources, each with its result; None when there is no such workflow."""
    async with _opened(dsn, 1) as store:
        workflow = await store.status.find(ref)
        if workflow is None:
            return None
        return workflow, await store.fleet.resource_page(workflow.id, offset, limit)
