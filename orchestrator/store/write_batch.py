"""Write batching: the same lease-guarded write from many workflows, sent to PostgreSQL as one statement.

Workflows of one worker that save, sleep or finish within the same moment share a round trip: the first
write of a kind starts a sender; writes arriving while it waits for the database join the next
statement. Each row keeps its own lease guard (a workflow whose lease is lost is left untouched and its
caller told so) and each workflow's rows (state, steps, final event) stay in that one statement, so one
transaction. A failed statement is retried row by row, so a bad row fails only its own workflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from orchestrator.batching import Batcher

Row = TypeVar("Row")
MAX_ROWS = 200  # per statement: enough to absorb a burst, small enough to keep a statement quick

Send = Callable[[Sequence[Row]], Awaitable[set[uuid.UUID]]]


class WriteBatch(Generic[Row]):
    """Coalesces one kind of write; ``send`` runs the rows and returns the ids it wrote."""

    def __init__(self, send: Send[Row], workflow_of: Callable[[Row], uuid.UUID]) -> None:
        self._send = send
        self._workflow_of = workflow_of
        # window 0: workflows made ready in this turn of the loop join the first statement
        self._batcher: Batcher[None, Row, bool] = Batcher(
            self._send_rows, window=0, max_size=MAX_ROWS, one_at_a_time=True
        )

    async def write(self, row: Row) -> bool:
        """True when the row was written; False when its workflow's lease guard refused it."""
        return await self._batcher.ask(None, row)

    async def drain(self) -> None:
        """Wait until every write handed in so far was sent (before the pool closes under it)."""
        await self._batcher.flush()

    async def _send_rows(self, _: None, rows: list[Row]) -> list[bool | Exception]:
        try:
            done = await self._send(rows)
        except Exception as exc:
            if len(rows) == 1:
                return [exc]
            outcomes: list[bool | Exception] = []
            for row in rows:  # one bad row must not fail the others
                outcomes += await self._send_rows(None, [row])
            return outcomes
        return [self._workflow_of(row) in done for row in rows]
