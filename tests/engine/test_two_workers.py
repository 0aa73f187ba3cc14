"""Two workers share one batch through the queue: one vault, one checkpoint per command, one event each."""

from __future__ import annotations

import asyncio

from engine_helpers import EndToEnd, backup_command, drain_worker, tuned

from orchestrator.batching import Coalescer
from orchestrator.store import WorkflowStatus


async def test_two_workers_share_a_batch_without_duplicate_calls(e2e: EndToEnd) -> None:
    ids = e2e.servers(12)
    commands = [backup_command(f"pair-{i}", [sid], vault="shared") for i, sid in enumerate(ids)]
    await e2e.publish(*commands)
    small = tuned(e2e.settings, concurrency=4)
    await asyncio.gather(drain_worker(small, owner="w1"), drain_worker(small, owner="w2"))

    failed = [(w.error_code, w.error_message) for w in await e2e.store.list_workflows(WorkflowStatus.FAILED)]
    assert failed == []
    assert await e2e.store.count_by_status() == {WorkflowStatus.SUCCEEDED: len(ids)}
    assert e2e.emulator.counters.requests_of("create_checkpoint") == len(ids)
    assert e2e.emulator.counters.requests_of("create_vault") == 1  # find-or-create is serialised by name
    workers = set()
    for wf in await e2e.store.list_workflows(limit=100):
        workers |= {s.worker for s in await e2e.store.steps_of(wf.id)}
    assert workers == {"w1", "w2"}
    finals = await e2e.final_events()
    assert sorted(e["data"]["command_id"] for e in finals) == sorted(c.command_id for c in commands)


async def test_coalescer_answers_concurrent_polls_with_one_batch() -> None:
    batches: list[list[int]] = []

    async def batch(key: str, queries: list[int]) -> dict[int, int]:
        batches.append(sorted(queries))
        return {q: q * 10 for q in queries}

    coalescer: Coalescer[str, int, int] = Coalescer(batch, window=0.02)
    answers = await asyncio.gather(
        *(coalescer.ask("vault-a", q) for q in (1, 2, 3, 2)), coalescer.ask("b", 9)
    )
    assert answers == [10, 20, 30, 20, 90]
    assert sorted(batches) == [[1, 2, 3], [9]]
