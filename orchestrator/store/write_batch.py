"""Write batching: the same lease-guarded write from many workflows, sent to PostgreSQL as one statement.

Workflows of one worker that save, sleep or finish within the same moment share a round trip: the first
write of a kind starts a sender; writes arriving while it waits for the database join the next
statement. Each row keeps its own lease guard (a workflow whose lease is lost is left untouched and its
caller told so) and each workflow's rows (state, steps, final event) stay in that one statement, so one
transaction. A failed statement is retried row by row, so a bad row fails only its own workflow.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Row = TypeVar("Row")
MAX_ROWS = 200  # per statement: enough to absorb a burst, small enough to keep a statement quick

Send = Callable[[Sequence[Row]], Awaitable[set[uuid.UUID]]]


class WriteBatch(Generic[Row]):
    """Coalesces one kind of write; ``send`` runs the rows and returns the ids it wrote."""

    def __init__(self, send: Send[Row], workflow_of: Callable[[Row], uuid.UUID]) -> None:
        self._send = send
        self._workflow_of = workflow_of
        self._waiting: list[tuple[Row, asyncio.Future[bool]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def write(self, row: Row) -> bool:
        """True when the row was written; False when its workflow's lease guard refused it."""
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, written))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_waiting())
        return await written

    async def drain(self) -> None:
        """Wait until every write handed in so far was sent (before the pool closes under it)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.wait([self._sender])

    async def _send_waiting(self) -> None:
        await asyncio.sleep(0)  # workflows made ready in this turn of the loop join the first statement
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_ROWS], self._waiting[MAX_ROWS:]
                await self._send_batch(batch)
        finally:  # cancelled (shutdown): nobody is left waiting forever
            for _, written in self._waiting:
                written.cancel()
            self._waiting = []

    async def _send_batch(self, batch: list[tuple[Row, asyncio.Future[bool]]]) -> None:
        try:
            done = await self._send([row for row, _ in batch])
        except asyncio.CancelledError:
            for _, written in batch:
                written.cancel()
            raise
        except Exception as exc:
            if len(batch) > 1:  # one bad row must not fail the others
                for one in batch:
                    await self._send_batch([one])
                return
            _settle(batch[0][1], exc)
            return
        for row, written in batch:
            _settle(written, self._workflow_of(row) in done)


def _settle(written: asyncio.Future[bool], outcome: bool | Exception) -> None:
    if written.done():  # its workflow was cancelled meanwhile
        return
    if isinstance(outcome, Exception):
        written.set_exception(outcome)
    else:
        written.set_result(outcome)
