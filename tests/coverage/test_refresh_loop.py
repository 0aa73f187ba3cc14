"""The worker's refresh loop (orchestrator/engine/posture_loop.py): two workers refresh each project once
per period, and a worker started with ``coverage.refresh_seconds`` refreshes by itself."""

from __future__ import annotations

import asyncio

from engine_helpers import PROJECT, EndToEnd, eventually
from ledger_scene import build_scene

from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine.posture_loop import PostureLoop
from orchestrator.store import Store
from orchestrator.worker import run_worker

HOUR = 3600.0


def every(e2e: EndToEnd, seconds: float) -> Settings:
    coverage = e2e.settings.coverage.model_copy(update={"refresh_seconds": seconds})
    return e2e.settings.model_copy(update={"coverage": coverage})


async def test_two_workers_refresh_a_project_once_per_period(e2e: EndToEnd) -> None:
    await build_scene(e2e)
    settings = every(e2e, HOUR)
    stores = [await Store.connect(settings.database_url, max_size=3) for _ in range(2)]
    clients = [CbrClients(settings) for _ in range(2)]
    loops = [PostureLoop(store, c, settings) for store, c in zip(stores, clients, strict=True)]
    listed_before = e2e.emulator.counters.requests_of("list_protectable")
    try:
        first = await asyncio.gather(*(loop.refresh_due(HOUR) for loop in loops))
        second = await asyncio.gather(*(loop.refresh_due(HOUR) for loop in loops))
    finally:
        for c in clients:
            await c.close()
        for store in stores:
            await store.close()
    assert sorted(len(runs) for runs in first) == [0, 1]  # one took its turn, the other found it taken
    assert [len(runs) for runs in second] == [0, 0]  # refreshed within the period: nothing due
    assert e2e.emulator.counters.requests_of("list_protectable") - listed_before == 1  # 8 servers: one page
    assert len(await e2e.store.coverage.entries([PROJECT])) == 8


async def test_a_worker_refreshes_by_itself_every_period(e2e: EndToEnd) -> None:
    await build_scene(e2e)
    listed_before = e2e.emulator.counters.requests_of("list_protectable")  # the workflows' own listings
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(every(e2e, 0.2), stop))

    async def refreshed_twice() -> bool:
        return e2e.emulator.counters.requests_of("list_protectable") - listed_before >= 2

    try:
        await eventually(refreshed_twice, 20)
        assert await e2e.store.coverage.cursor(PROJECT) is not None
        assert len(await e2e.store.posture.states(PROJECT)) == 8
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)


async def test_a_worker_acts_on_a_resource_never_backed_up_and_tells_it_recovered(e2e: EndToEnd) -> None:
    """The whole loop in one worker: refresh, ``never`` told, its backup command run, ``recovered`` told."""
    scene = await build_scene(e2e)
    coverage = e2e.settings.coverage.model_copy(update={"refresh_seconds": 0.2, "act": True})
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(e2e.settings.model_copy(update={"coverage": coverage}), stop))

    async def told() -> list[tuple[str, str]]:
        rows = await e2e.store._pool.fetch(
            "SELECT routing_key, body FROM outbox WHERE routing_key LIKE 'posture.%' ORDER BY id"
        )
        return [(r["routing_key"], r["body"]["data"]["resource_id"]) for r in rows]

    async def recovered() -> bool:
        return ("posture.recovered", scene.servers[5]) in await told()

    try:
        await eventually(recovered, 30)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
    assert await told() == [("posture.stale", scene.servers[5]), ("posture.recovered", scene.servers[5])]
    acted = await e2e.store._pool.fetch(
        "SELECT command_id, status FROM workflows WHERE command_id LIKE 'posture:%'"
    )
    assert [(r["command_id"], r["status"]) for r in acted] == [
        (f"posture:{PROJECT}:{scene.servers[5]}:1", "succeeded")
    ]
