"""Writes fenced by a lease: they go through only while the run that asks still holds its workflow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from orchestrator.store.models import Claim, LeaseLost
from orchestrator.store.named_sql import q

Conn = asyncpg.Connection | PoolConnectionProxy


def check_written(written: bool) -> None:
    if not written:
        raise LeaseLost()


def check_lease(result: object) -> None:
    if result is None:
        raise LeaseLost()


@asynccontextmanager
async def fenced(pool: asyncpg.Pool, claim: Claim) -> AsyncIterator[Conn]:
    """A transaction that writes for the claimed workflow only while its run holds the lease (held
    until it commits); raises :class:`LeaseLost` otherwise."""
    async with pool.acquire() as conn, conn.transaction():
        check_lease(await conn.fetchval(q("lease_held"), claim.workflow_id, claim.owner, claim.epoch))
        yield conn
