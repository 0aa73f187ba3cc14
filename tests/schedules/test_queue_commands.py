"""``schedule_add`` and ``schedule_remove`` on the commands queue: applied by a worker's intake without a
workflow; the same add delivered again is done, not refused; a bad one is refused with its reason
recorded under its command id, as any command's."""

from __future__ import annotations

import json
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from engine_helpers import drain_worker, publish
from scene import FLEET

from orchestrator.config import Settings
from orchestrator.schedules.catalog import list_schedules
from orchestrator.store import Store

NIGHTLY = {"name": "nightly", "rrule": "FREQ=DAILY;BYHOUR=2", "time_zone": "Europe/Berlin", "command": FLEET}


def _message(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def test_schedules_added_and_removed_by_commands(
    settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    add = {"kind": "schedule_add", "command_id": "add-nightly", "schedule": NIGHTLY}
    bad = {
        "kind": "schedule_add",
        "command_id": "add-bad",
        "schedule": {**NIGHTLY, "name": "bad", "rrule": "NO"},
    }
    other = {
        "kind": "schedule_add",
        "command_id": "add-other",
        "schedule": {**NIGHTLY, "rrule": "FREQ=HOURLY"},
    }
    keep = {**NIGHTLY, "name": "kept"}
    await publish(
        connection,
        settings,
        _message(add),
        _message(add),  # delivered again
        _message(bad),
        _message({"kind": "schedule_add", "command_id": "add-kept", "schedule": keep}),
    )
    await drain_worker(settings)
    assert [s.name for s in await list_schedules(store)] == ["kept", "nightly"]
    await publish(  # intake takes messages side by side: what depends on an add is in a batch of its own
        connection,
        settings,
        _message(other),  # another schedule under a name taken
        _message({"kind": "schedule_remove", "command_id": "remove-kept", "name": "kept"}),
        _message({"kind": "schedule_remove", "command_id": "remove-none", "name": "none"}),
    )
    await drain_worker(settings)
    assert [(s.name, s.rrule) for s in await list_schedules(store)] == [("nightly", "FREQ=DAILY;BYHOUR=2")]
    refused = {
        r.command_id: r.reason
        for r in await store.refusals.of("add-bad") + await store.refusals.of("add-other")
    }
    assert refused.keys() == {"add-bad", "add-other"}
    assert refused["add-bad"].startswith("invalid: schedule.rrule")
    assert "exists already" in refused["add-other"]
    for done in ("add-nightly", "add-kept", "remove-kept", "remove-none"):
        assert await store.refusals.of(done) == []
    assert await store.list_workflows() == []  # none of them started a workflow
